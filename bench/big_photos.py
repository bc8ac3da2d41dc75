"""Time and peak memory of fitting big phone photos within the API's limits (Submit's conversion).

For each source size (12, 48, 108, 200 MP, 4:3) a photo-like JPEG is generated, then converted
by ``correction_core.source_conversion.convert_for_api`` in a fresh Python process per size,
whose peak resident set (``ru_maxrss``: C allocations included, which tracemalloc misses) and
wall time are reported, beside the process's baseline after imports. The earlier
``downscale.fit_within_limits`` (from the commit ``--before-rev``, if it differs) is measured the same way as the
"before". Writes docs/benchmarks/big-photos.md.

    .venv/bin/python bench/big_photos.py [--sizes 12 48 108 200] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from git_source import BEFORE_ISSUE_11, source_at

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "big-photos.md"

# Photo-like content: a smooth scene (gradients) with fine texture (noise upscaled 4x), which
# JPEG-compresses and decodes like a photo rather than like a flat colour.
GENERATE = r"""
import sys
import numpy as np
from PIL import Image
width, height, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(7)
small = rng.integers(0, 256, (height // 4, width // 4, 3), dtype=np.uint8)
y = np.linspace(0, 1, height // 4, dtype=np.float32)[:, None, None]
x = np.linspace(0, 1, width // 4, dtype=np.float32)[None, :, None]
scene = (np.array([180, 120, 60], np.float32) * y + np.array([40, 90, 160], np.float32) * x)
small = (0.75 * scene + 0.25 * small).clip(0, 255).astype(np.uint8)
del scene
image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
del small
if path.endswith(".heic"):
    import pillow_heif
    pillow_heif.register_heif_opener()
    # x265's fastest preset: the file's content matters here, not its encoding time.
    image.save(path, format="HEIF", quality=80, enc_params={"preset": "ultrafast"})
else:
    image.save(path, format="JPEG", quality=88)
"""

MEASURE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[3]) if sys.argv[3] else None
mode, path = sys.argv[1], sys.argv[2]
if mode == "after":
    from correction_core.source_conversion import convert_for_api
    fmt = "heif" if path.endswith(".heic") else "jpeg"
    run = lambda data: convert_for_api(data, fmt)
else:
    from old_downscale import fit_within_limits
    run = lambda data: fit_within_limits(data)
import PIL.Image, PIL.ImageOps, PIL.JpegImagePlugin  # imported before the baseline is taken
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
data = open(path, "rb").read()
try:
    out = run(data)
    result = {"size": list(out.size), "bytes": len(out.data)}
except Exception as exc:
    result = {"refused": getattr(exc, "code", type(exc).__name__)}
result["seconds"] = time.perf_counter() - started
result["baseline_mb"] = baseline / 1024
result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""

DIMENSIONS = {12: (4000, 3000), 24: (5664, 4248), 48: (8000, 6000), 108: (12000, 9000), 200: (16320, 12240)}


def old_downscale_dir(workdir: Path, rev: str) -> str:
    """downscale.py at ``rev`` as an importable module, or "" when there is none."""
    source = source_at(rev, "layers/common/correction_core/downscale.py")
    if source is None or "source_conversion" in source:
        return ""  # no file, or ``rev`` already has the new code: no "before" to measure
    source = source.replace("from . import contract", "from correction_core import contract")
    source = source.replace("from .errors import", "from correction_core.errors import")
    (workdir / "old_downscale.py").write_text(source)
    return str(workdir)


def measure(mode: str, path: Path, extra_path: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, mode, str(path), extra_path],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 48, 108, 200])
    # HEIC: 12 and 24 MP. One HEVC picture may hold at most 35.6 M samples (level 6.2), so phones
    # write 48 MP HEIC as a grid of tiles; pillow-heif's encoder writes one picture, which
    # libde265 then refuses to decode at 48 MP. The per-pixel cost scales from the 24 MP row.
    parser.add_argument(
        "--heic-sizes",
        type=int,
        nargs="*",
        default=[12, 24],
        help="HEIC sources, which decode whole (no reduced-scale decode)",
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs per size; the best time and the highest peak are kept"
    )
    parser.add_argument(
        "--before-rev", default=BEFORE_ISSUE_11, help="commit whose downscale.py is the 'before'"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        old = old_downscale_dir(workdir, args.before_rev)
        jobs = [(mp, "jpg") for mp in args.sizes] + [(mp, "heic") for mp in args.heic_sizes]
        for mp, ext in jobs:
            width, height = DIMENSIONS[mp]
            path = workdir / f"{mp}mp.{ext}"
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", GENERATE, str(width), str(height), str(path)], check=True)
            print(
                f"{mp} MP: generated {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            row = {
                "mp": mp,
                "ext": ext,
                "width": width,
                "height": height,
                "source_mb": path.stat().st_size / 1e6,
            }
            for mode in ("before", "after") if old and ext == "jpg" else ("after",):
                runs = [measure(mode, path, old if mode == "before" else "") for _ in range(args.repeat)]
                best = min(runs, key=lambda r: r["seconds"])
                best["peak_mb"] = max(r["peak_mb"] for r in runs)
                row[mode] = best
                print(f"  {mode}: {json.dumps(best)}", flush=True)
            rows.append(row)
            path.unlink()
    if not args.no_write:
        write_page(rows)


def _cell(result: dict | None) -> tuple[str, str, str]:
    if result is None:
        return ("–", "–", "–")
    if "refused" in result:
        return (f"refused ({result['refused']})", f"{result['seconds']:.2f}", f"{result['peak_mb']:.0f}")
    return (
        f"{result['size'][0]}×{result['size'][1]}, {result['bytes'] / 1e6:.1f} MB",
        f"{result['seconds']:.2f}",
        f"{result['peak_mb']:.0f}",
    )


def write_page(rows: list[dict]) -> None:
    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0]
    lines = [
        "# Big photos: time and peak memory of fitting them within the API's limits",
        "",
        "Generated by `bench/big_photos.py`; figures from one run on this machine "
        f"({cpu}, {os.cpu_count()} cores shared, load average {load:.1f} at the end: times are "
        "upper bounds). Each conversion runs in a fresh process; **peak** is its resident-set "
        "high-water mark (`ru_maxrss`, C allocations included), **base** the same process after "
        "imports. Sources are photo-like (smooth scene plus fine texture), 4:3: JPEG at quality "
        '88, HEIC at quality 80 (x265). "before" for a HEIC: refused as an unsupported format.',
        "",
        "| source | file | before: sent | before: s | before: peak MB | after: sent | after: s | after: peak MB | after: base MB |",
        "| --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        b = _cell(row.get("before"))
        a = _cell(row.get("after"))
        base = f"{row['after']['baseline_mb']:.0f}"
        lines.append(
            f"| {row['mp']} MP {'HEIC' if row['ext'] == 'heic' else 'JPEG'} ({row['width']}×{row['height']}) | {row['source_mb']:.1f} MB | {b[0]} | {b[1]} | {b[2]} "
            f"| {a[0]} | {a[1]} | {a[2]} | {base} |"
        )
    jpeg_rows = [row for row in rows if row["ext"] == "jpg" and "size" in row["after"]]
    heic_rows = sorted(
        (row for row in rows if row["ext"] == "heic" and "size" in row["after"]), key=lambda r: r["mp"]
    )
    jpeg_peak = max(row["after"]["peak_mb"] for row in jpeg_rows)
    largest_jpeg = max(row["source_mb"] for row in jpeg_rows)
    lines += [
        "",
        "**Before**: `downscale.fit_within_limits` (off by default; sources up to 40 MP; JPEG draft asked for "
        "4096 × 4096, so a 12 000 px photo still decoded at 1/2 scale). **After**: "
        "`source_conversion.convert_for_api` (on by default; JPEG up to 200 MP, decoded at the "
        "smallest of 1/2, 1/4, 1/8 scale that keeps 3/4 of 4096 px, then fitted with Lanczos; other "
        "formats decode whole, up to 50 MP). HEIC stops at 24 MP here: one HEVC picture holds at most "
        "35.6 M samples, so phones tile 48 MP HEIC into a grid, which pillow-heif's encoder does not "
        "write (libde265 refuses its 48 MP single picture).",
        "",
        "## The Submit function's memory follows from it",
        "",
        "Rule: `MemorySize` ≥ 1.25 × (the highest peak for the largest source each setting "
        "accepts + the bytes of that source not already in the measured file), rounded up to "
        "256 MB. Lambda's CPU grows with memory too, so times there are of this order or better.",
        "",
        f"- JPEG, up to 200 MP and 100 MB: highest peak {jpeg_peak:.0f} MB (a 1/2-scale decode; 200 MP "
        f"decodes at 1/4), plus {100 - largest_jpeg:.0f} MB for a 100 MB file: "
        f"{1.25 * (jpeg_peak + 100 - largest_jpeg):.0f} MB.",
    ]
    if len(heic_rows) >= 2:
        a, b = heic_rows[0], heic_rows[-1]
        slope = (b["after"]["peak_mb"] - a["after"]["peak_mb"]) / (b["mp"] - a["mp"])
        at50 = b["after"]["peak_mb"] + slope * (50 - b["mp"])
        lines += [
            f"- HEIC and other whole-decode formats: {slope:.0f} MB per MP between the {a['mp']} and "
            f"{b['mp']} MP rows, so about {at50:.0f} MB at the 50 MP limit (a 48 MP iPhone photo): "
            f"{1.25 * at50:.0f} MB.",
            "- **`DownscaleOversize` on (the default): 1024 MB.** Off: sources stay within 4096 × 4096 "
            f"(16.8 MP), about {a['after']['peak_mb'] + slope * (16.8 - a['mp']):.0f} MB for a HEIC: **512 MB**.",
        ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
