"""What the local runner uploads: the generated samples, or a folder of the user's own photos.

A folder's files keep their relative paths as keys under the source prefix. The enhancement
type of each file comes from, most specific first:

1. ``types.json`` at the folder's top, mapping relative paths (or bare file names) to 0-4,
   e.g. ``{"receipt.jpg": 0, "shoes/red.jpg": 4}``;
2. a tag just before the extension: ``receipt.type0.jpg``, ``shoe_type4.png``, ``scan-type1.jpg``;
3. the run's ``--type``;
4. otherwise the template's DefaultType (2: document crop, orientation and text enhancement).

Types 1-3 travel as the object's ``correction-type`` S3 metadata, exactly as a user's
``aws s3 cp --metadata correction-type=N`` would set it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from correction_core.contract import ENHANCEMENT_TYPE_MEANINGS

TYPES_FILE = "types.json"
_TYPE_TAG = re.compile(r"[._-]type([0-9]+)\.[^./]+$", re.IGNORECASE)


class InputError(ValueError):
    """The input folder or its types.json cannot be used."""


@dataclass(frozen=True)
class InputFile:
    """One file to upload. ``enhancement_type`` None: the deployment's default applies."""

    name: str  # relative path, '/'-separated; the key below the source prefix
    body: bytes
    enhancement_type: int | None = None
    description: str = ""
    truth: Any = field(default=None, repr=False, compare=False)
    expect: str | None = None  # "result" / "failure" for generated samples; None for user files

    @property
    def metadata(self) -> dict[str, str]:
        if self.enhancement_type is None:
            return {}
        return {"correction-type": str(self.enhancement_type)}


def _checked_type(value: Any, where: str) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    ):
        raise InputError(f"{where}: type {value!r} is not an integer 0-4")
    number = int(value)
    if number not in ENHANCEMENT_TYPE_MEANINGS:
        raise InputError(f"{where}: type {number} is not one of 0-4")
    return number


def type_from_name(name: str) -> int | None:
    """The type tagged in a file name (``receipt.type0.jpg``), or None."""
    match = _TYPE_TAG.search(name)
    if not match:
        return None
    return _checked_type(match.group(1), f"file name {name!r}")


def load_types_file(folder: Path) -> dict[str, int]:
    path = folder / TYPES_FILE
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected an object mapping file names to types 0-4")
    return {
        str(k).replace("\\", "/").lstrip("./"): _checked_type(v, f"{path} [{k!r}]") for k, v in raw.items()
    }


def resolve_type(name: str, types: Mapping[str, int], run_type: int | None) -> int | None:
    if name in types:
        return types[name]
    base = name.rsplit("/", 1)[-1]
    if base in types:
        return types[base]
    tagged = type_from_name(base)
    if tagged is not None:
        return tagged
    return run_type


def folder_inputs(folder: Path, *, run_type: int | None = None) -> list[InputFile]:
    """Every non-hidden file under ``folder`` (recursively), except ``types.json``.

    Nothing is filtered by extension: a file that is not a photo is uploaded too, and the
    pipeline answers it with a failure record, as it would in AWS.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    types = load_types_file(folder)
    files: list[InputFile] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        name = rel.as_posix()
        if name == TYPES_FILE:
            continue
        files.append(
            InputFile(name=name, body=path.read_bytes(), enhancement_type=resolve_type(name, types, run_type))
        )
    unknown = set(types) - {f.name for f in files} - {f.name.rsplit("/", 1)[-1] for f in files}
    if unknown:
        raise InputError(f"{folder / TYPES_FILE} names files that are not in the folder: {sorted(unknown)}")
    if not files:
        raise InputError(f"{folder} has no files to upload")
    return files


def sample_inputs(
    names: list[str] | None = None, *, scale: float = 1.0, run_type: int | None = None
) -> list[InputFile]:
    """The generated samples (each with its own type; ``run_type`` replaces them all if given)."""
    from .samples import make_samples

    return [
        InputFile(
            name=s.name,
            body=s.body,
            enhancement_type=s.enhancement_type if run_type is None else run_type,
            description=s.description,
            truth=s.truth,
            expect=s.expect,
        )
        for s in make_samples(names, scale=scale)
    ]
