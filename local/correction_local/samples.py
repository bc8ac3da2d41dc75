"""The local runner's default inputs: sample photos generated on the spot, with their exact truth.

Documents at angles, in shadow, sideways and upside down; products on plain and busy
backgrounds; every enhancement type; and two deliberately broken files, one the pipeline
rejects before any task exists and one only the API can find out about, so a first run shows
both kinds of failure record. Everything is deterministic (fixed seeds), so the tests assert
on the same pictures the README shows.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from correction_core.contract import EnhancementType
from correction_engine.synth.documents import make_page_photo, make_shadowed_page
from correction_engine.synth.products import make_product

JPEG_QUALITY = 90


@dataclass(frozen=True)
class Sample:
    """One input file: its name, the type it asks for, its bytes and (when generated) its truth.

    ``truth`` is the generator's dataclass (``SyntheticPage``, ``ShadowedPage`` or
    ``SyntheticProduct``) or None for the broken files. ``expect`` says what a correct pipeline
    makes of it: "result" or "failure".
    """

    name: str
    enhancement_type: int
    description: str
    body: bytes
    truth: Any = None
    expect: str = "result"

    @property
    def metadata(self) -> dict[str, str]:
        """S3 user metadata an uploader sets to choose the type (see correction_core.options)."""
        return {"correction-type": str(self.enhancement_type)}


def encode_jpeg(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def truncated_jpeg(body: bytes) -> bytes:
    """The first half of a JPEG: what an interrupted copy leaves. The submit step rejects it."""
    return body[: len(body) // 2]


def corrupt_png_data(body: bytes) -> bytes:
    """A PNG whose header and end marker are intact but whose pixel data is garbage.

    Nothing short of decoding can tell, so the pipeline creates a task and the API answers
    "invalid image file" (state -7): the failure path through the state machine. The chunk's
    CRC is recomputed, so only the compressed stream itself is broken.
    """
    data = bytearray(body)
    pos = 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = bytes(data[pos + 4 : pos + 8])
        if kind == b"IDAT":
            start = pos + 8
            rng = np.random.default_rng(7)
            # Keep the 2-byte zlib header; scramble the deflate stream behind it.
            noise = rng.integers(0, 256, max(0, length - 2), dtype=np.uint8).tobytes()
            data[start + 2 : start + length] = noise
            crc = zlib.crc32(bytes(data[pos + 4 : start + length])) & 0xFFFFFFFF
            data[start + length : start + length + 4] = crc.to_bytes(4, "big")
            return bytes(data)
        pos += 12 + length
    raise ValueError("no IDAT chunk")


# --- the catalogue -----------------------------------------------------------------------------

# (name, type, description, factory) — factories take a scale so tests can shrink the set.
Factory = Callable[[float], Sample]


def _size(height: int, width: int, scale: float) -> tuple[int, int]:
    return max(64, int(round(height * scale))), max(64, int(round(width * scale)))


def _page(name: str, etype: int, description: str, seed: int, **kwargs: Any) -> Factory:
    def make(scale: float) -> Sample:
        page = make_page_photo(seed, size=_size(1200, 1600, scale), **kwargs)
        return Sample(name, etype, description, encode_jpeg(page.image), page)

    return make


def _shadowed(name: str, etype: int, description: str, seed: int) -> Factory:
    def make(scale: float) -> Sample:
        page = make_shadowed_page(seed, size=_size(1400, 1050, scale))
        return Sample(name, etype, description, encode_jpeg(page.image), page)

    return make


def _product(
    name: str, etype: int, description: str, seed: int, *, png: bool = False, **kwargs: Any
) -> Factory:
    def make(scale: float) -> Sample:
        product = make_product(seed, _size(1200, 1600, scale), **kwargs)
        body = encode_png(product.image) if png else encode_jpeg(product.image)
        return Sample(name, etype, description, body, product)

    return make


def _truncated(name: str, description: str) -> Factory:
    def make(scale: float) -> Sample:
        photo = make_product(99, _size(600, 800, scale), shape="ellipse", background="plain")
        body = truncated_jpeg(encode_jpeg(photo.image))
        return Sample(name, int(EnhancementType.PRODUCT_CROP), description, body, None, expect="failure")

    return make


def _corrupt(name: str, description: str) -> Factory:
    def make(scale: float) -> Sample:
        photo = make_product(98, _size(600, 800, scale), shape="box", background="gradient")
        body = corrupt_png_data(encode_png(photo.image))
        return Sample(
            name, int(EnhancementType.DOCUMENT_CROP_ENHANCE), description, body, None, expect="failure"
        )

    return make


T = EnhancementType
CATALOGUE: dict[str, Factory] = {
    "document-angled.jpg": _page(
        "document-angled.jpg",
        int(T.DOCUMENT_CROP),
        "page at an angle on a wooden desk",
        11,
        rotation=0,
        background="wood",
        shadow=False,
        tilt_range_deg=8.0,
    ),
    "document-upside-down.jpg": _page(
        "document-upside-down.jpg",
        int(T.DOCUMENT_CROP),
        "page lying upside down on a plain table",
        23,
        rotation=180,
        background="plain",
        shadow=False,
    ),
    "document-shadow.jpg": _page(
        "document-shadow.jpg",
        int(T.DOCUMENT_CROP_ENHANCE),
        "page under a hand's shadow, on a gradient",
        35,
        rotation=0,
        background="gradient",
        shadow=True,
    ),
    "document-sideways.jpg": _page(
        "document-sideways.jpg",
        int(T.DOCUMENT_CROP_ENHANCE),
        "page turned sideways on a cluttered desk",
        47,
        rotation=90,
        background="cluttered",
        shadow=False,
    ),
    "scan-shadowed.jpg": _shadowed(
        "scan-shadowed.jpg",
        int(T.DOCUMENT_ENHANCE),
        "flat scan under a cast shadow",
        59,
    ),
    "product-plain.jpg": _product(
        "product-plain.jpg",
        int(T.PRODUCT_CROP),
        "boxed product on a plain studio sweep",
        61,
        shape="box",
        background="plain",
        surface="stripes",
        tilt=0.0,
    ),
    "product-tilted.jpg": _product(
        "product-tilted.jpg",
        int(T.PRODUCT_CROP),
        "box photographed slightly askew on a gradient",
        73,
        shape="box",
        background="gradient",
        surface="solid",
        tilt=7.0,
    ),
    "product-cutout-plain.png": _product(
        "product-cutout-plain.png",
        int(T.PRODUCT_CUTOUT),
        "bottle on a plain background, cut out",
        85,
        png=True,
        shape="bottle",
        background="plain",
        surface="solid",
        tilt=0.0,
    ),
    "product-cutout-busy.jpg": _product(
        "product-cutout-busy.jpg",
        int(T.PRODUCT_CUTOUT),
        "product on a busy table, cut out",
        97,
        shape="ellipse",
        background="busy",
        surface="checker",
        tilt=0.0,
        camouflage=False,
    ),
    "broken-truncated.jpg": _truncated(
        "broken-truncated.jpg",
        "an interrupted copy: half a JPEG (rejected before any task is created)",
    ),
    "broken-pixels.png": _corrupt(
        "broken-pixels.png",
        "a PNG with intact header but garbage pixel data (the API reports state -7)",
    ),
}

DEFAULT_NAMES: tuple[str, ...] = tuple(CATALOGUE)


def make_samples(names: Iterable[str] | None = None, *, scale: float = 1.0) -> list[Sample]:
    """Generate the named samples (default: all of them) at ``scale`` times their default size."""
    chosen = DEFAULT_NAMES if names is None else tuple(names)
    unknown = [n for n in chosen if n not in CATALOGUE]
    if unknown:
        raise KeyError(f"unknown samples {unknown}; choose from {list(CATALOGUE)}")
    return [CATALOGUE[name](scale) for name in chosen]
