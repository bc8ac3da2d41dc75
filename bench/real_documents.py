"""Benchmark of the document operations (types 0, 1, 2) on the real photos of
datasets/real-documents, with peers measured in the same run on the same photos.

For every photo (truth: its page corners, text-top-left first, and the upright turn):
- page corners: SmartDoc quadrilateral Jaccard index of the engine's page and of a textbook
  contour scanner (Canny, findContours, approxPolyDP, the largest convex quad; written here);
- the same photo turned by each quarter: the engine still finds the page (IoU >= 0.90) and its
  IoU stays within 0.02 of the unturned photo's;
- corners outside the frame: no engine corner more than 1 % of the side beyond the border;
- text upright over the four quarter-turns: the photo turned, the engine asked for the text's
  top-left corner (its page corners rolled by its upright turn), scored against the truth;
  Tesseract OSD as the peer on the page rectified with the TRUE corners and turned alike (the
  peer's best case: it never has to find the page); scored only on photos with text (a
  calibration target marked "no text" has no upright to find);
- legibility (printed pages): Tesseract words with confidence >= 80 found in a dictionary, on
  the page rectified with the true corners, raw vs Sauvola vs engine type 1 (the same crop for
  every method), and engine type 2 on the whole photo for reference.

Writes docs/benchmarks/real-documents.md and a JSON of per-photo figures beside it.

    .venv/bin/python bench/real_documents.py                      # the engine in this tree
    .venv/bin/python bench/real_documents.py --engine-src DIR --as-before
        # DIR holds another engine's correction_engine package (e.g. `git archive <commit>
        # engine/correction_engine`); its figures become the page's "before" column

Needs the tesseract binary with eng and osd data, pytesseract, and a word list
(apt-get install tesseract-ocr tesseract-ocr-osd wamerican).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from real_sets import DOCUMENTS, document_set, turn_cw, turn_points_cw
from tesseract_peer import tesseract_osd_rotation

REPO = Path(__file__).resolve().parents[1]
DATA = DOCUMENTS
REPORT = REPO / "docs" / "benchmarks" / "real-documents.md"
AFTER_JSON = REPO / "docs" / "benchmarks" / "real-documents.json"
BEFORE_JSON = REPO / "docs" / "benchmarks" / "real-documents.before.json"
OUT_DIR = Path("/tmp/real-documents")
WORDS = Path("/usr/share/dict/words")
# Categories whose pages carry printed text worth reading with OCR.
PRINTED = {"receipt", "page", "book", "card", "form", "letter", "scan"}
MIN_CONF = 80
IOU_OK = 0.90

# Tesseract's OpenMP threads only fight each other on two shared cores.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def classic_scanner(image: np.ndarray) -> np.ndarray | None:
    """The textbook document scanner: resize to 500 px high, blur, Canny (75, 200), external
    contours by area, the first whose approxPolyDP (2 % of the perimeter) has four convex corners."""
    h, w = image.shape[:2]
    s = 500.0 / h
    small = cv2.resize(image, (max(1, round(w * s)), 500), interpolation=cv2.INTER_AREA)
    gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    edges = cv2.Canny(gray, 75, 200)
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for c in sorted(contours, key=cv2.contourArea, reverse=True)[:5]:
        approx = cv2.approxPolyDP(c, 0.02 * cv2.arcLength(c, True), True)
        if len(approx) == 4 and cv2.isContourConvex(approx):
            return approx.reshape(4, 2).astype(np.float64) / s
    return None


def sauvola(image: np.ndarray, k: float = 0.2, r: float = 128.0) -> np.ndarray:
    """Sauvola & Pietikäinen (2000) local threshold, T = m (1 + k (s / R - 1)), with box means over
    a window of 1/20 of the page's long side."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    window = max(15, int(max(grey.shape) / 20) | 1)
    mean = cv2.boxFilter(grey, -1, (window, window))
    sq = cv2.boxFilter(grey * grey, -1, (window, window))
    std = np.sqrt(np.maximum(sq - mean * mean, 0))
    return np.where(grey > mean * (1 + k * (std / r - 1)), 255, 0).astype(np.uint8)


def load_words() -> set[str]:
    return {w.strip().lower() for w in WORDS.read_text(errors="ignore").split() if w.strip().isalpha()}


def legible_words(image: np.ndarray, dictionary: set[str]) -> int:
    """Tesseract words with confidence >= MIN_CONF that, stripped of punctuation, are dictionary
    words of two letters or more."""
    import pytesseract

    data = pytesseract.image_to_data(image, config="--psm 3", output_type=pytesseract.Output.DICT)
    n = 0
    for text, conf in zip(data["text"], data["conf"]):
        word = text.strip().strip(".,;:!?\"'()[]{}<>*-_/\\|").lower()
        if float(conf) >= MIN_CONF and len(word) >= 2 and word.isalpha() and word in dictionary:
            n += 1
    return n


def text_top_left_index(quad: np.ndarray, truth: np.ndarray) -> int:
    """Which of ``quad``'s corners matches the truth's text top-left: the cyclic shift of the
    four corners closest to the truth's order."""
    costs = [np.linalg.norm(np.roll(quad, -s, axis=0) - truth, axis=1).sum() for s in range(4)]
    return int(np.argmin(costs))


def outside_fraction(quad: np.ndarray, size: tuple[int, int]) -> float:
    """How far the farthest corner lies beyond the frame, as a share of that axis's side."""
    h, w = size
    x, y = quad[:, 0], quad[:, 1]
    return float(max(np.max(-x) / w, np.max(x - w) / w, np.max(-y) / h, np.max(y - h) / h, 0.0))


def evaluate(
    items, engine, dictionary, *, legibility: bool, osd: bool, save_images: bool, type2: bool
) -> list[dict]:
    from_geometry = engine["geometry"]
    locate_page, enhance_text, crop_orient_enhance = engine["locate"], engine["enhance"], engine["type2"]
    estimate_orientation = engine["orient"]
    quad_iou, output_size, warp_quad = (
        from_geometry.quad_iou,
        from_geometry.output_size,
        from_geometry.warp_quad,
    )
    rows = []
    for ident, image, meta in items:
        t_start = time.perf_counter()
        h, w = image.shape[:2]
        truth = np.asarray(meta["corners"], dtype=np.float64)
        row = {
            "id": ident,
            "category": meta.get("category", "other"),
            "surface": meta.get("surface", ""),
            "conditions": meta.get("conditions", []),
        }
        ious, upright, found = [], [], []
        for k in range(4):
            turned = turn_cw(image, k)
            truth_k = turn_points_cw(truth, (h, w), k)
            t = time.perf_counter()
            quad, det, orientation = locate_page(turned)
            t_engine = time.perf_counter() - t
            # The truth is in continuous coordinates (pixel corners at integers, see
            # turn_points_cw); a found page's corners are pixel positions (a pixel's centre at
            # its index), the whole frame's the frame's own corners. Compared as they are, the
            # half-pixel offset turns with the photo: the same answer in every pose scored up
            # to 0.03 apart on a small page.
            quad = np.asarray(quad, float) + (0.5 if det is not None else 0.0)
            if k == 0:
                row["engine_seconds"] = t_engine
                row["outside"] = outside_fraction(quad, (h, w))
                engine_quad0 = quad
            ious.append(quad_iou(quad, truth_k))
            found.append(det is not None)
            # The engine's text top-left is its corner list rolled by its upright turn.
            upright_quad = np.roll(np.asarray(quad, float), -(orientation.rotation // 90), axis=0)
            upright.append(text_top_left_index(upright_quad, truth_k) == 0)
        row["iou"] = ious[0]
        row["iou_turned"] = ious[1:]
        row["found"] = found
        row["upright"] = upright
        peer = classic_scanner(image)
        row["peer_iou"] = (
            quad_iou(peer, truth)
            if peer is not None
            else quad_iou(np.array([[0, 0], [w, 0], [w, h], [0, h]], float), truth)
        )
        row["peer_found"] = peer is not None

        crop_size = output_size(truth, (h, w))
        crop = warp_quad(image, truth, crop_size)
        grey_crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        # The orientation step alone, on the truly rectified page turned by each quarter.
        row["orient_on_truth"] = [
            estimate_orientation(turn_cw(grey_crop, k)).rotation == 90 * k for k in range(4)
        ]
        if osd:
            small = crop
            if max(crop.shape[:2]) > 1200:
                s = 1200 / max(crop.shape[:2])
                small = cv2.resize(
                    crop, (round(crop.shape[1] * s), round(crop.shape[0] * s)), interpolation=cv2.INTER_AREA
                )
            row["osd_upright"] = [tesseract_osd_rotation(turn_cw(small, k)) == 90 * k for k in range(4)]
        printed = row["category"] in PRINTED and "handwriting" not in row["conditions"]
        row["printed"] = printed
        enhanced = enhance_text(crop)
        if legibility and printed:
            row["words_raw"] = legible_words(crop, dictionary)
            row["words_sauvola"] = legible_words(sauvola(crop), dictionary)
            row["words_type1"] = legible_words(enhanced, dictionary)
            # Type 1 enlarges small print; resolution alone helps Tesseract, so the peers are also
            # read at the output's size: what is left is what the enhancement itself adds.
            row["enlarged"] = enhanced.shape[:2] != crop.shape[:2]
            if row["enlarged"]:
                alike = cv2.resize(crop, enhanced.shape[1::-1], interpolation=cv2.INTER_CUBIC)
                row["words_raw_alike"] = legible_words(alike, dictionary)
                row["words_sauvola_alike"] = legible_words(sauvola(alike), dictionary)
            else:
                row["words_raw_alike"] = row["words_raw"]
                row["words_sauvola_alike"] = row["words_sauvola"]
            if type2:
                row["words_type2"] = legible_words(crop_orient_enhance(image), dictionary)
        if save_images:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            look = image.copy()
            cv2.polylines(look, [truth.astype(np.int32).reshape(-1, 1, 2)], True, (0, 200, 0), 3)
            cv2.polylines(look, [engine_quad0.astype(np.int32).reshape(-1, 1, 2)], True, (230, 0, 0), 2)
            if peer is not None:
                cv2.polylines(look, [peer.astype(np.int32).reshape(-1, 1, 2)], True, (0, 0, 230), 2)
            cv2.imwrite(str(OUT_DIR / f"{ident}.quads.jpg"), cv2.cvtColor(look, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(OUT_DIR / f"{ident}.type1.jpg"), cv2.cvtColor(enhanced, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(OUT_DIR / f"{ident}.raw.jpg"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        row["seconds"] = time.perf_counter() - t_start
        rows.append(row)
        print(
            f"{ident:40s} iou {row['iou']:.3f} turned {' '.join(f'{v:.3f}' for v in row['iou_turned'])} "
            f"peer {row['peer_iou']:.3f} upright {sum(upright)}/4 osd {sum(row.get('osd_upright', []))}/4 "
            f"out {row['outside']:.3f} words raw/sauv/t1/t2 {row.get('words_raw', '-')}/"
            f"{row.get('words_sauvola', '-')}/{row.get('words_type1', '-')}/{row.get('words_type2', '-')} "
            f"({row['seconds']:.1f} s)",
            flush=True,
        )
    return rows


def summarise(rows: list[dict]) -> dict:
    """The headline figures over ``rows``."""
    n = len(rows)
    turned_ok = sum((v >= IOU_OK) for r in rows for v in r["iou_turned"])
    turned_same = sum(abs(v - r["iou"]) <= 0.02 for r in rows for v in r["iou_turned"])
    printed = [r for r in rows if "words_raw" in r]
    raw = sum(r["words_raw"] for r in printed)
    # "Text upright" needs text: a page marked "no text" (a calibration target) has no up.
    texted = [r for r in rows if has_text(r)]
    out = {
        "photos": n,
        "iou_ok": sum(r["iou"] >= IOU_OK for r in rows),
        "iou_mean": float(np.mean([r["iou"] for r in rows])) if rows else float("nan"),
        "peer_iou_ok": sum(r["peer_iou"] >= IOU_OK for r in rows),
        "peer_iou_mean": float(np.mean([r["peer_iou"] for r in rows])) if rows else float("nan"),
        "peer_right_engine_wrong": sum(r["peer_iou"] >= IOU_OK > r["iou"] for r in rows),
        "turned": 3 * n,
        "turned_found": int(turned_ok),
        "turned_same": int(turned_same),
        "outside_over_1pc": sum(r["outside"] > 0.01 for r in rows),
        "text_photos": len(texted),
        "upright": sum(sum(r["upright"]) for r in texted),
        "upright_of": 4 * len(texted),
        "orient_on_truth": sum(sum(r["orient_on_truth"]) for r in texted),
        "osd_upright": sum(sum(r.get("osd_upright", [])) for r in texted),
        "legible_pages": len(printed),
        "words_raw": raw,
        "words_sauvola": sum(r["words_sauvola"] for r in printed),
        "words_type1": sum(r["words_type1"] for r in printed),
        "words_type2": sum(r.get("words_type2", 0) for r in printed),
        # Older saved runs have no "alike" figures: the page's own size was the output's size then.
        "words_raw_alike": sum(r.get("words_raw_alike", r["words_raw"]) for r in printed),
        "words_sauvola_alike": sum(r.get("words_sauvola_alike", r["words_sauvola"]) for r in printed),
        "pages_enlarged": sum(bool(r.get("enlarged")) for r in printed),
        "pages_type1_worse_5pc": sum(r["words_type1"] < 0.95 * r["words_raw"] for r in printed),
        # The enhancement's own guard: against the raw crop enlarged to type 1's size, so a page
        # that the enlargement alone reads better on is not hidden by the enlargement's gain.
        "pages_type1_worse_5pc_alike": sum(
            r["words_type1"] < 0.95 * r.get("words_raw_alike", r["words_raw"]) for r in printed
        ),
        "median_engine_seconds": float(np.median([r["engine_seconds"] for r in rows]))
        if rows
        else float("nan"),
    }
    return out


def has_text(row: dict) -> bool:
    return "no text" not in row.get("conditions", [])


def halves(rows: list[dict]) -> dict[str, list[dict]]:
    """The even- and odd-indexed photos of the whole set (file-name order), for a development
    half and a held-out half."""
    order = {ident: i for i, ident in enumerate(sorted(r["id"] for r in rows))}
    half = {r["id"]: r.get("half", "odd" if order[r["id"]] % 2 else "even") for r in rows}
    return {name: [r for r in rows if half[r["id"]] == name] for name in ("even", "odd")}


def print_halves(rows: list[dict]) -> None:
    for name, part in halves(rows).items():
        if part:
            s = summarise(part)
            print(
                f"[{name}] corners {s['iou_ok']}/{s['photos']} turned {s['turned_found']}/{s['turned']} "
                f"same {s['turned_same']}/{s['turned']} upright {s['upright']}/{s['upright_of']} "
                f"words raw/sauvola/t1 {s['words_raw']}/{s['words_sauvola']}/{s['words_type1']} "
                f"worse {s['pages_type1_worse_5pc']}"
            )


def pct(a: float, b: float) -> str:
    return f"{a / b:.0%}" if b else "-"


def rel(a: float, b: float) -> str:
    return f"{(a - b) / b:+.0%}" if b else "-"


def headline_rows(s: dict) -> list[tuple[str, str, str]]:
    """(measure, engine, peer) rows for one summary."""
    return [
        (
            f"page corners IoU ≥ 0.90, {s['photos']} photos",
            f"{s['iou_ok']}/{s['photos']} ({pct(s['iou_ok'], s['photos'])}), mean {s['iou_mean']:.3f}",
            f"contour scanner {s['peer_iou_ok']}/{s['photos']}, mean {s['peer_iou_mean']:.3f}; right where the engine is not: {s['peer_right_engine_wrong']}",
        ),
        (
            f"turned by a quarter: page found (IoU ≥ 0.90), {s['turned']} turned photos",
            f"{s['turned_found']}/{s['turned']}; IoU within 0.02 of unturned: {s['turned_same']}/{s['turned']}",
            "—",
        ),
        ("photos with a corner > 1 % of the side outside the frame", f"{s['outside_over_1pc']}", "—"),
        (
            f"text upright over the four quarter-turns, {s['text_photos']} photos with text "
            f"({s['photos'] - s['text_photos']} without: not scored)",
            f"{s['upright']}/{s['upright_of']} ({pct(s['upright'], s['upright_of'])}); orientation step alone on the true crop: {s['orient_on_truth']}/{s['upright_of']}",
            f"Tesseract OSD on the true crop: {s['osd_upright']}/{s['upright_of']} ({pct(s['osd_upright'], s['upright_of'])})",
        ),
        (
            f"legibility: dictionary words at confidence ≥ {MIN_CONF}, {s['legible_pages']} printed pages, same true crop",
            f"type 1: {s['words_type1']} ({rel(s['words_type1'], s['words_raw'])} vs raw, {rel(s['words_type1'], s['words_sauvola'])} vs Sauvola); "
            f"pages worse than raw by > 5 %: {s['pages_type1_worse_5pc']}"
            + (f"; type 2 on the whole photo: {s['words_type2']}" if s["words_type2"] else ""),
            f"raw crop {s['words_raw']}; Sauvola {s['words_sauvola']} ({rel(s['words_sauvola'], s['words_raw'])} vs raw)",
        ),
        (
            f"the same, peers enlarged to type 1's output size (type 1 enlarged small print on "
            f"{s['pages_enlarged']} pages: this row shows what the enhancement adds beyond resolution)",
            f"type 1: {s['words_type1']} ({rel(s['words_type1'], s['words_raw_alike'])} vs raw enlarged, "
            f"{rel(s['words_type1'], s['words_sauvola_alike'])} vs Sauvola enlarged); pages worse than raw "
            f"enlarged by > 5 %: {s.get('pages_type1_worse_5pc_alike', '—')}",
            f"raw enlarged alike {s['words_raw_alike']}; Sauvola on it {s['words_sauvola_alike']}",
        ),
        (
            "engine locate (type 0 analysis) median per photo, wall clock on a shared machine: compare within one run only",
            f"{s['median_engine_seconds']:.3f} s",
            "—",
        ),
    ]


def write_report(rows: list[dict], before: dict | None, command: str, elapsed: float) -> None:
    s = summarise(rows)
    lines = [
        "# Documents on real photos",
        "",
        f"Produced by `{command}` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores shared; full run {elapsed:.0f} s). Photos, truth and licences: "
        "[datasets/real-documents](../../datasets/real-documents/README.md). The measures are described "
        "at the top of `bench/real_documents.py`; synthetic figures ([engine-documents.md](engine-documents.md)) "
        "are regression checks, these are the measure.",
        "",
        "## Headline",
        "",
        "| measure | engine | peer, same photos, same run |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in headline_rows(s)]
    lines += [
        "",
        "By half (file-name order; changes are tuned on the even half and checked on the odd one):",
        "",
        "| half | photos | corners IoU ≥ 0.90 | turned: found / within 0.02 | upright /4 turns | words raw / Sauvola / type 1 (pages worse by > 5 %) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, part in halves(rows).items():
        if part:
            h = summarise(part)
            lines.append(
                f"| {name} | {h['photos']} | {h['iou_ok']} | {h['turned_found']} / {h['turned_same']} of {h['turned']} | "
                f"{h['upright']}/{h['upright_of']} | {h['words_raw']} / {h['words_sauvola']} / {h['words_type1']} "
                f"({h['pages_type1_worse_5pc']}) |"
            )
    if before is not None:
        ids = {r["id"] for r in rows}
        brows = [r for r in before["rows"] if r["id"] in ids]
        now_common = [r for r in rows if r["id"] in {b["id"] for b in brows}]
        bs, ns = summarise(brows), summarise(now_common)
        lines += [
            "",
            f"## Before and after ({len(brows)} photos measured with both engines)",
            "",
            f"Before: the engine at commit `{before.get('commit', '?')}`, measured by the same script "
            f"with `--engine-src` on {before.get('date', '?')}.",
            "",
            "| measure | before | after |",
            "| --- | --- | --- |",
        ]
        for (m, b, _), (_, a, _) in zip(headline_rows(bs), headline_rows(ns)):
            lines.append(f"| {m} | {b} | {a} |")
    cats: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        cats[r["category"]].append(r)
    lines += [
        "",
        "## Per category",
        "",
        "| category | photos | corners IoU ≥ 0.90 (peer) | turned found | upright /4 turns (OSD) | words raw / Sauvola / type 1 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for cat in sorted(cats):
        c = summarise(cats[cat])
        words = f"{c['words_raw']} / {c['words_sauvola']} / {c['words_type1']}" if c["legible_pages"] else "—"
        lines.append(
            f"| {cat} | {c['photos']} | {c['iou_ok']} ({c['peer_iou_ok']}) | {c['turned_found']}/{c['turned']} | "
            f"{c['upright']}/{c['upright_of']} ({c['osd_upright']}) | {words} |"
        )
    lines += [
        "",
        "## Per photo",
        "",
        "IoU at the four turns (0, 90, 180, 270 clockwise), the contour scanner's IoU, upright answers "
        "at the four turns (engine on the photo; Tesseract OSD on the true crop), the farthest corner "
        "outside the frame (share of the side), legibility words raw / Sauvola / type 1 (/ type 2 on the whole photo with `--type2`).",
        "",
        "| photo | category | conditions | engine IoU | peer IoU | upright (OSD) | outside | words |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ious = " ".join(f"{v:.2f}" for v in [r["iou"], *r["iou_turned"]])
        up = "".join("✓" if u else "✗" for u in r["upright"])
        osd = "".join("✓" if u else "✗" for u in r.get("osd_upright", []))
        words = (
            f"{r['words_raw']} / {r['words_sauvola']} / {r['words_type1']}"
            + (f" / {r['words_type2']}" if "words_type2" in r else "")
            if "words_raw" in r
            else "—"
        )
        lines.append(
            f"| {r['id']} | {r['category']} | {', '.join(r['conditions'])} | {ious} | {r['peer_iou']:.2f} | "
            f"{up} ({osd}) | {r['outside']:.3f} | {words} |"
        )
    notes = REPORT.with_suffix(".notes.md")
    if notes.is_file():
        lines += ["", notes.read_text().rstrip()]
    REPORT.write_text("\n".join(lines) + "\n")
    print(f"wrote {REPORT}")


def import_engine(src: str | None) -> dict:
    if src:
        sys.path.insert(0, str(Path(src).resolve()))
    from correction_engine.imaging import geometry
    from correction_engine.imaging.document import crop_orient_enhance, enhance_text, locate_page
    from correction_engine.imaging.orientation import estimate_orientation

    print(f"engine from {Path(geometry.__file__).resolve().parents[2]}")
    return {
        "geometry": geometry,
        "locate": locate_page,
        "enhance": enhance_text,
        "type2": crop_orient_enhance,
        "orient": estimate_orientation,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--engine-src", help="a folder holding another engine's correction_engine package")
    parser.add_argument(
        "--as-before", action="store_true", help="save the figures as the 'before' column only"
    )
    parser.add_argument("--commit", default="", help="the commit the --engine-src copy was taken from")
    parser.add_argument("--only", nargs="*", help="photo ids to run (no report written)")
    parser.add_argument(
        "--half",
        choices=("even", "odd"),
        help="only the even- or odd-indexed photos (file-name order; no report written): tune on one "
        "half, check on the other",
    )
    parser.add_argument("--no-ocr", action="store_true", help="skip Tesseract (legibility and OSD)")
    parser.add_argument("--images", action="store_true", help=f"write quads/crops to look at in {OUT_DIR}")
    parser.add_argument("--type2", action="store_true", help="also OCR type 2 on the whole photo (slower)")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the page from the saved JSON figures"
    )
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads(AFTER_JSON.read_text())
        before = json.loads(BEFORE_JSON.read_text()) if BEFORE_JSON.is_file() else None
        write_report(
            saved["rows"], before, "python bench/real_documents.py", saved.get("elapsed", float("nan"))
        )
        return
    engine = import_engine(args.engine_src)
    items = document_set(args.data)
    half_of = {it[0]: ("odd" if i % 2 else "even") for i, it in enumerate(items)}
    if args.only:
        items = [it for it in items if it[0] in set(args.only)]
    if args.half:
        items = items[args.half == "odd" :: 2]
    if not items:
        raise SystemExit(f"no photos with truth in {args.data}")
    if not args.no_ocr and not WORDS.is_file():
        raise SystemExit(f"{WORDS} is missing: apt-get install wamerican")
    dictionary = set() if args.no_ocr else load_words()
    # Warm-up: the first call pays for OpenCV's thread pool and the orientation classifier.
    engine["locate"](items[0][1])
    t0 = time.perf_counter()
    rows = evaluate(
        items,
        engine,
        dictionary,
        legibility=not args.no_ocr,
        osd=not args.no_ocr,
        save_images=args.images,
        type2=args.type2,
    )
    elapsed = time.perf_counter() - t0
    for row in rows:
        row["half"] = half_of[row["id"]]
    s = summarise(rows)
    for m, a, b in headline_rows(s):
        print(f"{m}: {a} | {b}")
    print_halves(rows)
    if args.only or args.half or args.no_ocr:
        return
    if args.as_before:
        BEFORE_JSON.write_text(
            json.dumps(
                {"commit": args.commit, "date": f"{datetime.now(UTC):%Y-%m-%d}", "summary": s, "rows": rows},
                indent=1,
                default=float,
            )
        )
        print(f"wrote {BEFORE_JSON}")
        return
    AFTER_JSON.write_text(
        json.dumps({"summary": s, "elapsed": elapsed, "rows": rows}, indent=1, default=float)
    )
    before = json.loads(BEFORE_JSON.read_text()) if BEFORE_JSON.is_file() else None
    write_report(rows, before, "python bench/real_documents.py", elapsed)


if __name__ == "__main__":
    main()
