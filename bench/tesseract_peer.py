"""Tesseract as the named peer the document benches measure orientation against."""

from __future__ import annotations

import numpy as np


def tesseract_osd_rotation(image: np.ndarray) -> int | None:
    """Tesseract's OSD answer in our convention (the clockwise turn of the text), None when it
    gives none."""
    # Imported here so a bench's --help and its other figures work where Tesseract is missing.
    import pytesseract

    try:
        osd = pytesseract.image_to_osd(image, config="--psm 0", output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError:
        return None
    # OSD's "rotate" is how far to turn the image clockwise to make it upright, i.e. the text
    # is turned that far counter-clockwise: our clockwise turn is its complement.
    return (360 - int(osd["rotate"])) % 360
