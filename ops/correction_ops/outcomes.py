"""Which source objects already have an outcome, found by merging sorted S3 listings.

A backfill of a bucket of millions of objects cannot hold the destination's listing in memory
(nor wait for it before sending anything). S3 lists keys in UTF-8 byte order, and an object's
result and failure record are named ``prefix + its whole relative key + an ending``
(``correction_core.objects``), so the source listing and the two outcome areas' listings can be
walked forward together, a page at a time, with only a handful of names waiting.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from correction_core.objects import EXTENSION_BY_FORMAT, ObjectRef, failure_key, relative_key, result_key
from correction_core.settings import Settings

from .targets import StackTargets


def _settings(targets: StackTargets) -> Settings:
    return Settings(
        destination_bucket=targets.destination_bucket,
        destination_prefix=targets.destination_prefix,
        failure_prefix=targets.failure_prefix,
        source_prefix=targets.source_prefix,
    )


class SortedKeys:
    """One listing read forward, a page at a time, in S3's order (UTF-8 bytes, which is the
    order of Python's ``str`` comparison): only the current page is held.

    Pages are asked for with StartAfter rather than a continuation token: a paced run may pause
    for days between two pages, and when the next key wanted lies beyond the page, the listing
    restarts just below it instead of reading every key in between.
    """

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3, self._bucket, self._prefix = s3, bucket, prefix
        self._page: list[str] = []
        self._at = 0
        self._more = True

    def _fetch(self, start_after: str) -> None:
        response = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=self._prefix, StartAfter=start_after)
        self._page = [item["Key"] for item in response.get("Contents", [])]
        self._at = 0
        self._more = bool(response.get("IsTruncated")) and bool(self._page)

    def first_at_or_after(self, target: str) -> str | None:
        """The first key >= ``target``; later calls must not ask for a smaller one."""
        while True:
            while self._at < len(self._page) and self._page[self._at] < target:
                self._at += 1
            if self._at < len(self._page):
                return self._page[self._at]
            if not self._more:
                return None
            # target[:-1] sorts just below target (it is a prefix of it): nothing >= target is skipped.
            self._fetch(max(self._page[-1] if self._page else "", target[:-1]))

    def __iter__(self) -> Iterator[str]:
        key = self.first_at_or_after("")
        while key is not None:
            yield key
            self._at += 1
            key = self.first_at_or_after(key)


def list_keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    return iter(SortedKeys(s3, bucket, prefix))


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as error:
        # Only "not there" means no outcome; a denied HEAD must not turn into a paid duplicate.
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


@dataclass(eq=False)
class _Pending:
    """A source object whose outcome keys are still being looked for."""

    key: str
    unresolved: int = 0
    found: set[str] = field(default_factory=set)


class _OutcomeArea:
    """One kind of outcome (results, or failure records) and the sorted listing of its area.

    An object's outcome keys here are ``prefix + relative key + ending``: all of them start with
    ``prefix + relative key`` (the bound), and the bounds of later source keys never sort lower.
    So a key below the next source's bound can only belong to sources already read: it is
    looked up (the listing only moves forward) and forgotten. What stays waiting belongs to
    sources whose relative key is a prefix of the next one ("photo" while "photo.jpg" is read),
    at most one per character of a key. A shortened name (keys over S3's 1,024 bytes end in
    ``~`` and a digest) keeps only the first bytes of the relative key, so it can sort below
    names the listing has already passed: such a name is asked for on its own (a HEAD).
    """

    def __init__(self, kind: str, prefix: str, listing: SortedKeys, names: Callable[[ObjectRef], list[str]]):
        self.kind, self.prefix, self._listing, self._names = kind, prefix, listing, names
        self._waiting: list[tuple[str, int, _Pending]] = []
        self._seq = 0

    def add(self, ref: ObjectRef, rel: str, entry: _Pending, exists: Callable[[str], bool]) -> None:
        bound = self.prefix + rel
        for name in self._names(ref):
            if not name.startswith(bound):
                if exists(name):
                    entry.found.add(self.kind)
                continue
            self._seq += 1
            heapq.heappush(self._waiting, (name, self._seq, entry))
            entry.unresolved += 1

    def resolve_below(self, rel: str | None) -> Iterator[_Pending]:
        """Look up every waiting name below the bound of ``rel`` (all of them for None); yield
        the sources that have nothing left to look up."""
        bound = None if rel is None else self.prefix + rel
        while self._waiting and (bound is None or self._waiting[0][0] < bound):
            name, _, entry = heapq.heappop(self._waiting)
            if self._listing.first_at_or_after(name) == name:
                entry.found.add(self.kind)
            entry.unresolved -= 1
            if entry.unresolved == 0:
                yield entry


def with_outcomes(
    s3: Any, targets: StackTargets, key_prefix: str, source_keys: Iterable[str]
) -> Iterator[tuple[str, set[str]]]:
    """Each source key (given in listing order) with the kinds of outcome it already has,
    ``{"result", "failure"}`` or fewer, found by merging the sorted listings of the result and
    failure areas (see _OutcomeArea); yielded as soon as known, not in listing order."""
    settings = _settings(targets)
    dst = targets.destination_bucket
    areas = [
        _OutcomeArea(
            "result",
            settings.destination_prefix,
            SortedKeys(s3, dst, settings.destination_prefix + key_prefix),
            lambda ref: [result_key(ref, settings, fmt) for fmt in EXTENSION_BY_FORMAT],
        ),
        _OutcomeArea(
            "failure",
            settings.failure_prefix,
            SortedKeys(s3, dst, settings.failure_prefix + key_prefix),
            lambda ref: [failure_key(ref, settings)],
        ),
    ]

    def exists(key: str) -> bool:
        return _exists(s3, dst, key)

    for key in source_keys:
        ref = ObjectRef(targets.source_bucket, key)
        rel = relative_key(ref, settings)
        for area in areas:
            for done in area.resolve_below(rel):
                yield done.key, done.found
        entry = _Pending(key)
        for area in areas:
            area.add(ref, rel, entry, exists)
        if entry.unresolved == 0:
            yield key, entry.found
    for area in areas:
        for done in area.resolve_below(None):
            yield done.key, done.found
