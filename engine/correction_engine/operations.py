"""Dispatch from the contract's enhancement ``type`` to the image operation that performs it.

Operations are named, not imported, so the server starts (and serves the types whose modules
exist) even while an operation's module is missing or broken. The table is injectable: the
server and its tests pass their own mapping of type -> callable.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Mapping

import numpy as np

from correction_core.contract import EnhancementType

log = logging.getLogger(__name__)

Operation = Callable[[np.ndarray], np.ndarray]
# A table entry is either a callable or a "module:function" path imported on first use.
OperationRef = Operation | str

DEFAULT_OPERATIONS: Mapping[int, str] = {
    EnhancementType.DOCUMENT_CROP: "correction_engine.imaging.document:crop_and_orient",
    EnhancementType.DOCUMENT_ENHANCE: "correction_engine.imaging.document:enhance_text",
    EnhancementType.DOCUMENT_CROP_ENHANCE: "correction_engine.imaging.document:crop_orient_enhance",
    EnhancementType.PRODUCT_CROP: "correction_engine.imaging.product:crop_and_straighten",
    EnhancementType.PRODUCT_CUTOUT: "correction_engine.imaging.product:crop_straighten_cutout",
}


class OperationError(Exception):
    """Base of dispatch errors."""


class UnknownEnhancementType(OperationError):
    """The type is not in the dispatch table."""


class OperationUnavailable(OperationError):
    """The type's module or function cannot be imported in this build."""


class EmptyResultError(OperationError):
    """The operation returned an image with no pixels (the contract's state -11)."""


def resolve_operation(
    enhancement_type: int, operations: Mapping[int, OperationRef] | None = None
) -> Operation:
    table = DEFAULT_OPERATIONS if operations is None else operations
    try:
        ref = table[int(enhancement_type)]
    except (KeyError, TypeError, ValueError):
        raise UnknownEnhancementType(f"no operation for enhancement type {enhancement_type!r}") from None
    if callable(ref):
        return ref
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise OperationUnavailable(
            f"operation for type {enhancement_type} is unavailable ({ref}): {exc}"
        ) from exc
    if not callable(function):
        raise OperationUnavailable(f"{ref} is not callable")
    return function


@functools.cache
def limit_blas_threads() -> None:
    """One BLAS thread per process, set once before the first operation runs.

    The operations' linear algebra is tiny (a 10-term least-squares surface over a working
    copy), and OpenBLAS splits even that across every core: beside the engine's other
    workers (one per core) its threads wait for each other, and the fit ran 2.5-6x slower
    under load than on one thread (docs/benchmarks/engine-speed.md). Process-wide and never
    undone: threadpoolctl's limits are not per thread, so a scoped limit in one worker thread
    would be lifted under another's feet.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with the engine extra
        log.warning("threadpoolctl is not installed; BLAS keeps its default thread count")
        return
    threadpool_limits(limits=1, user_api="blas")


def run_enhancement(
    image: np.ndarray,
    enhancement_type: int,
    operations: Mapping[int, OperationRef] | None = None,
) -> np.ndarray:
    """Run the operation for ``enhancement_type`` on an RGB uint8 HxWx3 image.

    Returns RGB uint8 (types 0-3) or RGBA uint8 (type 4). The result is checked for shape and
    dtype here so a faulty operation fails as a processing failure, not as an encoder crash.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected RGB uint8 HxWx3, got {image.dtype} {image.shape}")
    operation = resolve_operation(enhancement_type, operations)
    limit_blas_threads()
    result = operation(image)
    if not isinstance(result, np.ndarray):
        raise OperationError(f"operation for type {enhancement_type} returned {type(result).__name__}")
    if (
        result.dtype != np.uint8
        or result.ndim not in (2, 3)
        or (result.ndim == 3 and result.shape[2] not in (3, 4))
    ):
        raise OperationError(
            f"operation for type {enhancement_type} returned {result.dtype} {result.shape}, "
            "expected uint8 HxWx3 or HxWx4"
        )
    if result.shape[0] == 0 or result.shape[1] == 0:
        raise EmptyResultError(f"operation for type {enhancement_type} returned an empty image")
    return result
