"""Integrity of the real product set's truth (datasets/real-products/<id>.json).

The orientation bench scores "upright again" on the photos where a person could tell which
way is up, so every photo must say, by eye, which kinds of evidence it holds (or none).
A photo added without the field would silently drop out of that score; this test stops it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.real_sets import PRODUCTS

# "text": readable print whose direction shows up; "base": the object stands or rests on its
# base on a surface; "floor": a supporting surface, floor, horizon or room around it;
# "shadow": a cast or contact shadow falling below. An empty list means no evidence.
EVIDENCE_KINDS = {"text", "base", "floor", "shadow"}

TRUTH = sorted(PRODUCTS.glob("*.json"))


def evidence_problems(meta: dict) -> list[str]:
    """What is wrong with one photo's upright evidence fields (empty when nothing is)."""
    problems = []
    kinds = meta.get("upright_evidence")
    if not isinstance(kinds, list):
        problems.append(f"upright_evidence must be a list, not {kinds!r}")
    else:
        unknown = [k for k in kinds if k not in EVIDENCE_KINDS]
        if unknown:
            problems.append(f"unknown evidence kinds {unknown}; allowed {sorted(EVIDENCE_KINDS)}")
        if len(set(map(str, kinds))) != len(kinds):
            problems.append(f"repeated evidence kinds {kinds}")
    if meta.get("upright_evidence_method") != "by eye":
        problems.append(
            f"upright_evidence_method must be 'by eye', not {meta.get('upright_evidence_method')!r}"
        )
    return problems


def test_the_set_is_there():
    # Without this, an empty or moved folder would pass every per-photo test by having none.
    assert len(TRUTH) >= 50


@pytest.mark.parametrize("path", TRUTH, ids=[p.stem for p in TRUTH])
def test_every_photo_records_its_upright_evidence(path: Path):
    meta = json.loads(path.read_text(encoding="utf-8"))
    assert evidence_problems(meta) == []


@pytest.mark.parametrize(
    "meta",
    [
        {},
        {"upright_evidence": [], "upright_evidence_method": "guessed"},
        {"upright_evidence": "none", "upright_evidence_method": "by eye"},
        {"upright_evidence": ["label"], "upright_evidence_method": "by eye"},
        {"upright_evidence": ["base", "base"], "upright_evidence_method": "by eye"},
    ],
)
def test_a_missing_or_malformed_annotation_is_reported(meta: dict):
    assert evidence_problems(meta)


def test_no_evidence_is_a_valid_annotation():
    assert evidence_problems({"upright_evidence": [], "upright_evidence_method": "by eye"}) == []
