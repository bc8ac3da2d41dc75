"""Queued uploads and results as S3 objects: shared by the API containers and the Lambda workers.

Uploads go under ``sources/``, results under ``results/``; the bucket's lifecycle rule removes
both after a day (S3 expires objects in whole days), while the task record, which expires after
the result TTL, is what decides whether a result still exists for a client. Results reach
clients as presigned GET URLs, so their bytes never pass through the API.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from ..server.storage import SOURCE_PREFIX, BlobStore
from .clients import error_code, translated

log = logging.getLogger("correction_engine.aws")

SOURCES_PREFIX = "sources/"
RESULTS_PREFIX = "results/"
_MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def object_key(name: str) -> str:
    return (SOURCES_PREFIX if name.startswith(SOURCE_PREFIX) else RESULTS_PREFIX) + name


class S3BlobStore(BlobStore):
    def __init__(self, s3: Any, bucket: str, clock: Callable[[], float]):
        self._s3 = s3
        self._bucket = bucket
        self._clock = clock

    def put(self, name: str, data: bytes, expires_at: float) -> None:
        # No byte cap to enforce: the bucket grows with the load and its lifecycle rule empties it.
        with translated("storing a blob"):
            self._s3.put_object(Bucket=self._bucket, Key=object_key(name), Body=data)

    def open(self, name: str) -> BinaryIO | None:
        data = self.get(name)
        return None if data is None else io.BytesIO(data)

    def get(self, name: str) -> bytes | None:
        with translated("reading a blob"):
            try:
                response = self._s3.get_object(Bucket=self._bucket, Key=object_key(name))
            except ClientError as exc:
                if error_code(exc) in _MISSING:
                    return None
                raise
            return bytes(response["Body"].read())

    def delete(self, name: str) -> None:
        try:
            with translated("deleting a blob"):
                self._s3.delete_object(Bucket=self._bucket, Key=object_key(name))
        except Exception as exc:
            # Clean-up only: the lifecycle rule removes what a failed delete leaves.
            log.warning("could not delete a blob: %s", exc)

    def direct_url(self, name: str, expires_at: float) -> str | None:
        # Rounded up: a URL never stops working before the hour is out (at most a second after).
        expires_in = min(_MAX_PRESIGN_SECONDS, max(1, math.ceil(expires_at - self._clock())))
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": object_key(name)}, ExpiresIn=expires_in
            )
        )
