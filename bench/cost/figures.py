"""How the report writes its figures: medians and percentiles of measured values, money."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def p90(values: Iterable[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(0.9 * len(values)) - 1)] if values else float("nan")


def num(value: float, digits: int = 0) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def usd(value: float, digits: int = 4) -> str:
    return f"${value:.{digits}f}"
