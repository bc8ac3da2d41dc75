"""The committed real-photo sets (datasets/real-*): one photo with its truth, and the quarter
turns the benches and tests apply to both. Shared by ``python bench/<name>.py`` (this folder is
on sys.path) and by pytest (which imports it as ``bench.real_sets`` from the repository root).

Each set keeps its own decoder: documents through OpenCV, products through Pillow, as their
figures were measured; two JPEG decoders may differ by a grey level, which moves an IoU.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = REPO / "datasets" / "real-documents"
PRODUCTS = REPO / "datasets" / "real-products"


def load_document(jpg: Path) -> tuple[np.ndarray, dict]:
    """A document photo (RGB) and its <id>.json (page ``corners`` and the rest)."""
    bgr = cv2.imread(str(jpg), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read {jpg}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), json.loads(jpg.with_suffix(".json").read_text())


def document_set(folder: Path = DOCUMENTS) -> list[tuple[str, np.ndarray, dict]]:
    """Every readable (id, photo, meta) of a document set, in file-name order."""
    items = []
    for meta_path in sorted(folder.glob("*.json")):
        jpg = meta_path.with_suffix(".jpg")
        if not jpg.is_file():
            continue
        try:
            image, meta = load_document(jpg)
        except FileNotFoundError:
            continue
        items.append((meta.get("id", meta_path.stem), image, meta))
    return items


def load_product(stem: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """A product photo (RGB), its drawn mask (uint8, 255 = product) and its <id>.json."""
    # EXIF orientation applied first, as the engine does: the mask is drawn on the upright frame.
    image = np.asarray(ImageOps.exif_transpose(Image.open(stem.with_suffix(".jpg"))).convert("RGB"))
    mask = np.asarray(Image.open(stem.parent / f"{stem.name}.mask.png").convert("L"))
    meta = json.loads(stem.with_suffix(".json").read_text())
    return image, mask, meta


def turn_cw(image: np.ndarray, quarters: int) -> np.ndarray:
    """``image`` turned clockwise by ``quarters`` quarter turns (the same array when none)."""
    return np.ascontiguousarray(np.rot90(image, k=-quarters)) if quarters % 4 else image


def turn_points_cw(points: np.ndarray, size: tuple[int, int], quarters: int) -> np.ndarray:
    """Where (x, y) points of an image of ``size`` = (h, w) land after ``quarters`` clockwise
    quarter turns of the image (continuous coordinates, pixel corners at integers)."""
    pts = np.asarray(points, dtype=np.float64).copy()
    h, w = size
    for _ in range(quarters % 4):
        pts = np.stack([h - pts[:, 1], pts[:, 0]], axis=1)
        h, w = w, h
    return pts
