"""Per-object task options: the template's defaults, overridden by the object's S3 user metadata.

A user sets them at upload time, e.g.
``aws s3 cp scan.jpg s3://bucket/incoming/ --metadata correction-type=0,correction-return-type=2``.
An unknown value is an error of that object (a failure record), never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from . import contract
from .errors import InvalidOption
from .settings import Settings

META_TYPE = "correction-type"
META_RETURN_TYPE = "correction-return-type"
META_SOURCE_MODE = "correction-source-mode"

#: Every metadata key this pipeline reads, with what it accepts (the README's table).
OPTION_KEYS: Mapping[str, str] = {
    META_TYPE: "enhancement type, 0-4 (see the API's type table)",
    META_RETURN_TYPE: "1 (result URL) or 2 (base64); 3 is sync-only and refused",
    META_SOURCE_MODE: "'url' (presigned image_url) or 'file' (upload as image_file)",
}

_ASYNC_RETURN_TYPES = (int(contract.ReturnType.URL), int(contract.ReturnType.BASE64))


@dataclass(frozen=True)
class TaskOptions:
    enhancement_type: int
    return_type: int
    source_mode: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int_option(metadata: Mapping[str, str], name: str, default: int, allowed: tuple[int, ...]) -> int:
    raw = metadata.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value not in allowed:
        raise InvalidOption(
            f"metadata {name}={raw!r} is not one of {', '.join(map(str, allowed))}",
            code="option_out_of_range",
            option=name,
        )
    return value


def resolve_options(metadata: Mapping[str, str], settings: Settings) -> TaskOptions:
    """Options for one object. Metadata keys are compared case-insensitively (S3 lowercases)."""
    meta = {k.lower(): v for k, v in metadata.items()}
    enhancement_type = _int_option(
        meta, META_TYPE, settings.default_type, tuple(contract.ENHANCEMENT_TYPE_MEANINGS)
    )
    return_type = _int_option(meta, META_RETURN_TYPE, settings.default_return_type, _ASYNC_RETURN_TYPES)
    source_mode = meta.get(META_SOURCE_MODE, settings.source_mode).strip().lower()
    if source_mode not in ("url", "file"):
        raise InvalidOption(
            f"metadata {META_SOURCE_MODE}={source_mode!r} is not 'url' or 'file'",
            code="option_out_of_range",
            option=META_SOURCE_MODE,
        )
    return TaskOptions(enhancement_type, return_type, source_mode)
