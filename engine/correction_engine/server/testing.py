"""Helpers for tests that drive the engine: a settable clock, a blockable operation, images.

Used by the engine's own tests; the pipeline's tests may use them too.
"""

from __future__ import annotations

import io
import threading

import numpy as np
from PIL import Image


class FakeClock:
    """A clock a test moves by hand: ``settings.clock = clock`` then ``clock.advance(3601)``."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class BlockingOperation:
    """An operation that waits until ``release()``: holds a task in state 4 on purpose."""

    def __init__(self, result=None, timeout: float = 30.0):
        self.started = threading.Event()
        self._release = threading.Event()
        self._timeout = timeout
        self._result = result
        self.calls = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.started.set()
        self._release.wait(self._timeout)
        return image if self._result is None else self._result(image)

    def release(self) -> None:
        self._release.set()


def identity(image: np.ndarray) -> np.ndarray:
    return image.copy()


def to_rgba(image: np.ndarray) -> np.ndarray:
    alpha = np.full(image.shape[:2] + (1,), 255, dtype=np.uint8)
    alpha[:, : image.shape[1] // 2] = 0
    return np.concatenate([image, alpha], axis=2)


def sample_image(width: int = 64, height: int = 48, fmt: str = "PNG", **save_options) -> bytes:
    """A small deterministic RGB image (gradient with a dark block), encoded as ``fmt``."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack(
        [(x * 255 // max(1, width - 1)), (y * 255 // max(1, height - 1)), np.full_like(x, 128)], axis=-1
    ).astype(np.uint8)
    pixels[height // 4 : height // 2, width // 4 : width // 2] = 20
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **save_options)
    return buffer.getvalue()
