"""The local runner end to end: engine on loopback, moto, the real state machine, real handlers.

One run (module fixture) of a few generated samples whose truth is exact; the tests measure the
outputs against it: the document's geometry and orientation against the generator's flat page,
the cut-out's alpha against the known product mask, and that every upload ended in exactly one
outcome (a broken file in a failure record, nothing lost).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from correction_local.inputs import sample_inputs
from correction_local.runner import LocalRun, RunConfig, run_local

# One pipeline run serves the whole module: keep it on one xdist worker (with --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("local-runner")]

SAMPLES = [
    "document-upside-down.jpg",  # type 0, text turned 180 degrees
    "document-sideways.jpg",  # type 2, text turned 90 degrees, cluttered desk
    "scan-shadowed.jpg",  # type 1, flat page under a cast shadow
    "product-plain.jpg",  # type 3, plain background
    "product-cutout-busy.jpg",  # type 4, busy background
    "broken-truncated.jpg",  # rejected at submit
    "broken-pixels.png",  # intact header, garbage pixels: the API's state -7
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalRun, dict]:
    inputs = sample_inputs(SAMPLES)
    output = tmp_path_factory.mktemp("local-output")
    result = run_local(RunConfig(output=output), inputs)
    return result, {i.name: i for i in inputs}


# --- measures ---------------------------------------------------------------------------------


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    return image.astype(np.float32)


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two same-size arrays (1 = identical up to gain and offset)."""
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-9))


def page_similarity(output: np.ndarray, page: np.ndarray, width: int = 480) -> dict[str, float]:
    """The output against the truth page, both resized to the page's aspect at ``width`` px.

    A light blur makes the score measure layout (where text lines, margins and the heading are)
    rather than sub-pixel sharpness. ``quadrants`` is the worst of the four quarters: a wrong
    corner distorts the quarter around it even when the whole still correlates.
    """
    ph, pw = page.shape[:2]
    height = int(round(width * ph / pw))
    truth = cv2.GaussianBlur(
        cv2.resize(_grey(page), (width, height), interpolation=cv2.INTER_AREA), (0, 0), 1.5
    )
    out = cv2.GaussianBlur(
        cv2.resize(_grey(output), (width, height), interpolation=cv2.INTER_AREA), (0, 0), 1.5
    )
    quarters = [
        ncc(out[ys, xs], truth[ys, xs])
        for ys in (slice(0, height // 2), slice(height // 2, height))
        for xs in (slice(0, width // 2), slice(width // 2, width))
    ]
    return {"upright": ncc(out, truth), "turned_180": ncc(out, truth[::-1, ::-1]), "quadrants": min(quarters)}


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


# --- outcomes ---------------------------------------------------------------------------------


def test_every_upload_ends_in_exactly_one_outcome(run):
    result, _ = run
    assert result.lost == []
    assert result.report.lost == []
    outcomes = {i.name: i.outcome for i in result.images}
    assert outcomes == {
        "document-upside-down.jpg": "result",
        "document-sideways.jpg": "result",
        "scan-shadowed.jpg": "result",
        "product-plain.jpg": "result",
        "product-cutout-busy.jpg": "result",
        "broken-truncated.jpg": "failure",
        "broken-pixels.png": "failure",
    }


def test_broken_inputs_end_in_failure_records_on_disk(run):
    result, _ = run
    images = {i.name: i for i in result.images}
    truncated = json.loads(images["broken-truncated.jpg"].failure_path.read_text())
    assert truncated["stage"] == "submit"
    assert truncated["code"] == "truncated_image"
    assert truncated["task_id"] is None  # nothing was paid for

    pixels = json.loads(images["broken-pixels.png"].failure_path.read_text())
    assert pixels["stage"] == "poll"
    assert pixels["reason"] == "task_failed"
    assert pixels["state"] == -7  # "Invalid image file", reported by the engine
    assert pixels["task_id"]
    assert images["broken-pixels.png"].execution_status == "FAILED"
    # Under failures/ in the downloaded destination bucket, named after the source key.
    assert (
        images["broken-pixels.png"].failure_path
        == result.output / "destination" / "failures" / "broken-pixels.png.json"
    )


# --- documents --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["document-upside-down.jpg", "document-sideways.jpg"])
def test_document_comes_out_flat_upright_and_in_proportion(run, name):
    result, inputs = run
    image = next(i for i in result.images if i.name == name)
    truth = inputs[name].truth
    assert truth.rotation in (90, 180)  # the input really is turned
    output = np.asarray(Image.open(image.result_path).convert("RGB"))
    ph, pw = truth.page.shape[:2]
    out_aspect, true_aspect = output.shape[1] / output.shape[0], pw / ph
    assert abs(out_aspect / true_aspect - 1) < 0.04, (out_aspect, true_aspect)
    scores = page_similarity(output, truth.page)
    assert scores["upright"] > 0.9, scores
    assert scores["quadrants"] > 0.85, scores  # every corner in place, not just the middle
    assert scores["upright"] - scores["turned_180"] > 0.25, scores


def test_page_similarity_tells_a_wrong_crop_from_a_right_one(run):
    """The measure itself: the input photo (uncropped, turned) must score far below the bar."""
    _, inputs = run
    truth = inputs["document-upside-down.jpg"].truth
    uncropped = _decode(inputs["document-upside-down.jpg"].body)
    assert page_similarity(uncropped, truth.page)["upright"] < 0.5
    assert page_similarity(truth.page[::-1, ::-1], truth.page)["upright"] < 0.8


def test_text_enhancement_lifts_the_shadow(run):
    result, inputs = run
    image = next(i for i in result.images if i.name == "scan-shadowed.jpg")
    truth = inputs["scan-shadowed.jpg"].truth
    output = np.asarray(Image.open(image.result_path).convert("RGB"))
    before = page_similarity(_decode(inputs["scan-shadowed.jpg"].body), truth.page)["upright"]
    after = page_similarity(output, truth.page)
    assert output.shape[:2] == truth.page.shape[:2]  # type 1 does not crop
    assert after["upright"] > 0.95 and after["quadrants"] > 0.9, after
    assert after["upright"] - before > 0.2, (before, after)


# --- products ---------------------------------------------------------------------------------


def _locate(photo: np.ndarray, crop: np.ndarray) -> tuple[float, int, int]:
    """Where in ``photo`` the (upright) crop was cut: its pixels are the photo's own."""
    scores = cv2.matchTemplate(_grey(photo), _grey(crop), cv2.TM_CCOEFF_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    return best, x, y


def test_product_crop_holds_the_whole_product_with_a_small_margin(run):
    result, inputs = run
    image = next(i for i in result.images if i.name == "product-plain.jpg")
    truth = inputs["product-plain.jpg"].truth
    assert truth.tilt == 0.0
    crop = np.asarray(Image.open(image.result_path).convert("RGB"))
    best, x, y = _locate(_decode(inputs["product-plain.jpg"].body), crop)
    assert best > 0.98
    h, w = crop.shape[:2]
    x0, y0, x1, y1 = truth.box
    assert x <= x0 and y <= y0 and x + w >= x1 and y + h >= y1, ((x, y, x + w, y + h), truth.box)
    # Margin at most ~10 % of the product's size on each side: a crop, not the frame.
    assert w <= 1.2 * (x1 - x0) + 4 and h <= 1.2 * (y1 - y0) + 4, ((w, h), truth.box)


def test_cutout_alpha_matches_the_product_mask(run):
    result, inputs = run
    image = next(i for i in result.images if i.name == "product-cutout-busy.jpg")
    truth = inputs["product-cutout-busy.jpg"].truth
    assert truth.tilt == 0.0  # upright: the crop is a plain window of the input
    cutout = _load(image.result_path)
    assert cutout.ndim == 3 and cutout.shape[2] == 4, "type 4 returns RGBA"
    photo = _decode(inputs["product-cutout-busy.jpg"].body)
    best, x, y = _locate(photo, cutout)  # colour channels are the photo's own pixels
    assert best > 0.98
    h, w = cutout.shape[:2]
    x0, y0, x1, y1 = truth.box
    assert x <= x0 and y <= y0 and x + w >= x1 and y + h >= y1, "the crop cuts into the product"
    mask = truth.mask[y : y + h, x : x + w]
    alpha = cutout[..., 3] > 127
    iou = (mask & alpha).sum() / (mask | alpha).sum()
    assert iou > 0.95, iou
    assert abs(alpha.sum() / truth.mask.sum() - 1) < 0.05
    # The crop is tight: a margin, not the whole frame.
    assert w * h < 0.5 * photo.shape[0] * photo.shape[1]


# --- timings, outputs, gallery ----------------------------------------------------------------


def test_timings_come_from_step_functions_and_the_engine(run):
    result, _ = run
    for image in result.images:
        assert image.seconds is not None and 0 < image.seconds < 60, image
        if image.name == "broken-truncated.jpg":
            assert image.execution_seconds is None  # rejected before any execution
            continue
        # An execution waits at least one poll interval before it can finish.
        assert image.execution_seconds is not None and image.execution_seconds >= 1.0
        assert image.seconds >= image.execution_seconds
    for image in (i for i in result.images if i.outcome == "result"):
        assert image.engine_processing_seconds is not None and image.engine_processing_seconds > 0
        assert image.engine_turnaround_seconds >= image.engine_processing_seconds
        assert image.overhead_seconds == pytest.approx(image.seconds - image.engine_processing_seconds)


def test_gallery_is_self_contained_and_complete(run):
    result, _ = run
    page = result.gallery_html.read_text()
    sources = re.findall(r'<img[^>]* src="([^"]+)"', page)
    # Before and after for each of the five results; failures are listed with their reasons.
    assert len(sources) == 10
    for src in sources:
        assert not re.match(r"^[a-z]+:", src) and not src.startswith("/"), src  # relative, local
        assert (result.gallery_html.parent / src).is_file(), src
    assert "http://" not in page and "https://" not in page
    assert "truncated" in page  # the failure's reason is shown in place of a result
    sheet = Image.open(result.contact_sheet)
    assert sheet.width >= 1000 and sheet.height >= 3 * 300


def test_summary_json_matches_the_run(run):
    result, _ = run
    summary = json.loads(result.summary_json.read_text())
    assert summary["counts"] == {"result": 5, "failure": 2, "lost": 0, "both": 0}
    assert summary["parameters"]["SourceMode"] == "file"
    assert summary["parameters"]["ResultHosts"] == "127.0.0.1"
    assert (result.output / "inputs" / "broken-pixels.png").is_file()
