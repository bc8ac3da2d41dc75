"""The output folder of a local run: prepared, filled with the destination bucket and the inputs,
and summed up (summary.json, the gallery)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from correction_core.contract import ENHANCEMENT_TYPE_MEANINGS

from .config import DESTINATION_DIR, INPUTS_DIR, MARKER, PIPELINE_LOG, SUMMARY_JSON, RunnerError
from .inputs import InputFile
from .results import LocalRun, type_label


def prepare_output(output: Path) -> Path:
    """Create the output folder; clear what an earlier run of ours left in it (and only that)."""
    output = Path(output).expanduser().resolve()
    if output.exists() and not output.is_dir():
        raise RunnerError(f"{output} exists and is not a folder")
    output.mkdir(parents=True, exist_ok=True)
    if (output / MARKER).exists():
        from .gallery import CONTACT_SHEET, GALLERY_DIR, GALLERY_HTML

        for sub in (DESTINATION_DIR, INPUTS_DIR, GALLERY_DIR):
            shutil.rmtree(output / sub, ignore_errors=True)
        for name in (GALLERY_HTML, CONTACT_SHEET, SUMMARY_JSON, PIPELINE_LOG):
            (output / name).unlink(missing_ok=True)
    (output / MARKER).write_text(
        "This folder is written by correction-local run; it replaces its own files here.\n"
    )
    return output


def download_bucket(
    local: Any, folder: Path, *, unexpected: dict[str, str] | None = None
) -> dict[str, tuple[Path, datetime]]:
    """Mirror the destination bucket (results and failure records) into ``folder``.

    Returns key → (local path, LastModified). A key that cannot be mirrored (it would land
    outside ``folder``, or clashes with a folder) is left out and noted in ``unexpected``: a
    stray object must not cost the run its summary.
    """
    unexpected = {} if unexpected is None else unexpected
    s3 = local.client("s3")
    files: dict[str, tuple[Path, datetime]] = {}
    root = folder.resolve()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=local.destination_bucket):
        for item in page.get("Contents", []):
            key = item["Key"]
            path = (folder / key).resolve()
            if root not in path.parents:  # a key like "../x" must not escape the folder
                unexpected[key] = f"not downloaded: it would be written outside {folder}"
                continue
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=local.destination_bucket, Key=key)["Body"].read())
            except OSError as exc:  # e.g. both "a" and "a/b" exist as keys
                unexpected[key] = f"not downloaded: {exc.strerror or exc}"
                continue
            files[key] = (path, item["LastModified"])
    return files


def write_inputs(inputs: Sequence[InputFile], folder: Path) -> None:
    """Keep a copy of what was uploaded (the generated samples exist nowhere else)."""
    for item in inputs:
        path = folder / item.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(item.body)


def write_gallery(run: LocalRun, inputs: Sequence[InputFile]) -> tuple[Path, Path]:
    from . import gallery

    bodies = {i.name: i.body for i in inputs}
    entries = [
        gallery.GalleryEntry(
            name=image.name,
            type_label=type_label(image),
            outcome=image.outcome,
            seconds=image.seconds,
            before=bodies[image.name],
            after=image.result_path,
            reason=(f"{image.reason}: {image.message}" if image.message else image.reason),
            description=image.description,
            record=image.failure_path.relative_to(run.output).as_posix() if image.failure_path else None,
        )
        for image in run.images
    ]
    where = "the self-hosted engine" if run.engine_started else run.api_base_url
    subtitle = (
        f"{len(run.images)} uploads through the real state machine (moto) and {where}: "
        f"{run.count('result')} results, {run.count('failure')} failure records, {len(run.lost)} lost; "
        f"{run.wall_seconds:.0f} s in all."
    )
    return gallery.write_gallery(
        entries, run.output, title="Photo correction: before and after", subtitle=subtitle
    )


def write_summary(run: LocalRun) -> Path:
    path = run.output / SUMMARY_JSON
    data = {
        "api_base_url": run.api_base_url,
        "engine_started": run.engine_started,
        "parameters": run.parameters,
        "wall_seconds": run.wall_seconds,
        "counts": {k: run.count(k) for k in ("result", "failure", "lost", "both")},
        "lost": run.lost,
        "unexpected": run.unexpected,
        "events": run.events,
        "types": {str(k): v for k, v in ENHANCEMENT_TYPE_MEANINGS.items()},
        "images": [i.to_dict() for i in run.images],
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path
