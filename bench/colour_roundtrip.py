"""ΔE2000 of a Display P3 photo after the round trip, before and after issue 11's colour change.

The chart (correction_engine.synth.phone_photos.P3_PATCHES) is written as an iPhone writes a
photo: Display P3 values, P3 profile embedded, JPEG quality 95. The truth is what a
colour-managed viewer shows for it; each path's result is read the same way (its own profile,
or sRGB when untagged). The engine's operation is left out (identity): only what the codecs and
the conversion do to colour is measured. "Before" is the engine's decoder at the commit
before that change (``git_source.BEFORE_ISSUE_11``), which ignored profiles. Writes the table into docs/colour.md between its markers.

    .venv/bin/python bench/colour_roundtrip.py
"""

from __future__ import annotations

import importlib.util
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
from git_source import BEFORE_ISSUE_11, source_at
from PIL import Image

from correction_core.colour_profiles import SRGB_PRIMARIES, rgb_to_xyz_matrix
from correction_core.source_conversion import convert_for_api
from correction_engine import codec
from correction_engine.colour_difference import ciede2000, rgb_to_lab, rgb_to_xyz
from correction_engine.synth.phone_photos import P3_PATCHES, p3_chart, p3_tagged

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "colour.md"
BEGIN, END = "<!-- colour_roundtrip:begin -->", "<!-- colour_roundtrip:end -->"
PATCH = 64


def codec_at(rev: str):
    """The engine's codec as committed at ``rev``, or None when it already converts profiles."""
    source = source_at(rev, "engine/correction_engine/codec.py")
    if source is None or "ImageCms" in source:
        return None
    path = Path(tempfile.mkdtemp()) / "head_codec.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("head_codec", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["head_codec"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def viewed_lab(data: bytes) -> np.ndarray:
    """Patch centres as a viewer shows them: through the embedded profile, or as sRGB."""
    from PIL import ImageCms

    image = Image.open(io.BytesIO(data))
    profile = image.info.get("icc_profile")
    if profile:
        image = ImageCms.profileToProfile(
            image,
            ImageCms.ImageCmsProfile(io.BytesIO(profile)),
            ImageCms.createProfile("sRGB"),
            outputMode="RGB",
        )
    pixels = np.asarray(image.convert("RGB"))
    centres = [
        pixels[(n // 4) * PATCH + PATCH // 2, (n % 4) * PATCH + PATCH // 2] for n in range(len(P3_PATCHES))
    ]
    return rgb_to_lab(np.array(centres))


def in_srgb_gamut() -> np.ndarray:
    xyz = rgb_to_xyz(np.array(P3_PATCHES), "display-p3")
    linear = xyz @ np.linalg.inv(np.array(rgb_to_xyz_matrix(SRGB_PRIMARIES))).T
    return np.all((linear >= -1e-3) & (linear <= 1 + 1e-3), axis=1)


def main() -> None:
    source = p3_tagged(p3_chart(PATCH), "JPEG", quality=95, subsampling=0)
    truth = rgb_to_lab(np.array(P3_PATCHES), "display-p3")
    inside = in_srgb_gamut()
    paths: list[tuple[str, bytes]] = []
    old = codec_at(BEFORE_ISSUE_11)
    if old is not None:
        paths.append(
            (
                f"before: source sent as is, engine at {BEFORE_ISSUE_11} (profile ignored)",
                codec.encode_image(old.decode_image(source)).data,
            )
        )
    paths.append(
        ("reference: the source in a colour-managed sRGB viewer (the best any sRGB result can do)", source)
    )
    paths.append(
        (
            "after, our engine given the P3 source directly (converts at decode)",
            codec.encode_image(codec.decode_image(source)).data,
        )
    )
    sent = convert_for_api(source, "jpeg")
    paths.append(("after, what the vendor receives (Submit's sRGB copy)", sent.data))
    paths.append(
        (
            "after, pipeline to our engine (Submit's copy, then the engine)",
            codec.encode_image(codec.decode_image(sent.data)).data,
        )
    )
    lines = [
        f"| path | ΔE00 in sRGB's gamut: mean / max ({inside.sum()} patches) | "
        f"ΔE00 outside it: mean / max ({(~inside).sum()} patches) |",
        "| --- | ---: | ---: |",
    ]
    for name, data in paths:
        delta = ciede2000(truth, viewed_lab(data))
        lines.append(
            f"| {name} | {delta[inside].mean():.2f} / {delta[inside].max():.2f} "
            f"| {delta[~inside].mean():.2f} / {delta[~inside].max():.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    text = DOC.read_text() if DOC.exists() else f"{BEGIN}\n{END}\n"
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + table + "\n" + text[stop:])
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
