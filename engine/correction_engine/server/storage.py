"""Where the engine keeps bytes: queued uploads and finished results, under a byte cap, with expiry.

One small interface, :class:`BlobStore`, with a class per backend: :class:`SpoolBlobStore`
(files in a spool directory, the default on one machine, so memory does not grow with the
number of results) and :class:`MemoryBlobStore` (for tests of the interface itself). An
object store (S3 with a lifecycle rule, ``correction_engine.aws.blobs``) is the same interface
on AWS. Names are chosen by the
engine (random tokens), never by a client, so they are safe as file names.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{8,100}$")
SPOOL_PREFIX = "correction-engine-spool-"
SOURCE_PREFIX = "src-"  # queued uploads are named SOURCE_PREFIX + task id; results are random tokens


class StorageFull(Exception):
    """The store's byte cap leaves no room for this blob, even after expired ones are removed."""


@dataclass
class _Entry:
    size: int
    expires_at: float


class BlobStore(ABC):
    """Named byte blobs with an expiry time.

    Backends that live in one process keep a byte cap (:class:`CappedBlobStore`); an object
    store (S3, ``correction_engine.aws``) shares its blobs between processes, so it answers
    every call from the store itself, and may hand out a URL the client fetches directly.
    """

    @abstractmethod
    def put(self, name: str, data: bytes, expires_at: float) -> None:
        """Store ``data``; raises :class:`StorageFull` rather than exceed a cap."""

    @abstractmethod
    def open(self, name: str) -> BinaryIO | None:
        """A readable handle, or None if absent or expired."""

    def get(self, name: str) -> bytes | None:
        handle = self.open(name)
        if handle is None:
            return None
        with handle:
            return handle.read()

    @abstractmethod
    def delete(self, name: str) -> None: ...

    def sweep(self) -> None:  # noqa: B027 - optional hook: most backends have nothing to do
        """Remove expired blobs now (a store with its own expiry has nothing to do)."""

    @property
    def used_bytes(self) -> int:
        """Bytes this process accounts for under its cap (0 for a store without one)."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook, as above
        """Release what this process holds (a shared store keeps its blobs)."""

    def direct_url(self, name: str, expires_at: float) -> str | None:
        """A URL the client downloads the blob from without the engine, or None to serve it ourselves."""
        return None


class CappedBlobStore(BlobStore):
    """Blobs accounted for in this process under a total byte cap, each removed at its expiry."""

    def __init__(self, max_bytes: int, clock: Callable[[], float]):
        if max_bytes <= 0:
            raise ValueError("a blob store needs a positive byte cap")
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._used = 0

    # --- the interface ----------------------------------------------------------------------

    def put(self, name: str, data: bytes, expires_at: float) -> None:
        """Store ``data``; raises :class:`StorageFull` rather than exceed the cap."""
        _check_name(name)
        with self._lock:
            self._sweep_locked()
            if self._used + len(data) > self.max_bytes:
                raise StorageFull(f"{len(data)} bytes do not fit ({self._used} of {self.max_bytes} used)")
            self._used += len(data)  # reserved before the write, so parallel puts cannot overshoot
            self._entries[name] = _Entry(len(data), expires_at)
        try:
            self._write(name, data)
        except BaseException:
            self.delete(name)
            raise

    def open(self, name: str) -> BinaryIO | None:
        """A readable handle (valid even if the blob is deleted meanwhile), or None if absent/expired."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return None
            if entry.expires_at <= self._clock():
                self._delete_locked(name)
                return None
            return self._open(name)

    def delete(self, name: str) -> None:
        with self._lock:
            self._delete_locked(name)

    def sweep(self) -> None:
        with self._lock:
            self._sweep_locked()

    @property
    def used_bytes(self) -> int:
        with self._lock:
            return self._used

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        with self._lock:
            for name in list(self._entries):
                self._delete_locked(name)

    # --- per backend ---------------------------------------------------------------------------

    @abstractmethod
    def _write(self, name: str, data: bytes) -> None: ...

    @abstractmethod
    def _open(self, name: str) -> BinaryIO | None: ...

    @abstractmethod
    def _remove(self, name: str) -> None: ...

    # --- shared bookkeeping ----------------------------------------------------------------------

    def _delete_locked(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None:
            self._used -= entry.size
            self._remove(name)

    def _sweep_locked(self) -> None:
        now = self._clock()
        for name in [n for n, e in self._entries.items() if e.expires_at <= now]:
            self._delete_locked(name)


class MemoryBlobStore(CappedBlobStore):
    def __init__(self, max_bytes: int, clock: Callable[[], float]):
        super().__init__(max_bytes, clock)
        self._data: dict[str, bytes] = {}

    def _write(self, name: str, data: bytes) -> None:
        self._data[name] = bytes(data)

    def _open(self, name: str) -> BinaryIO | None:
        data = self._data.get(name)
        return None if data is None else io.BytesIO(data)

    def _remove(self, name: str) -> None:
        self._data.pop(name, None)


class SpoolBlobStore(CappedBlobStore):
    """Blobs as files in a private directory of our own; removed on close.

    The directory is always created here (mkdtemp: mode 0700, results are customers' images),
    inside ``directory`` when one is named, so the named directory's own mode is never touched
    (an operator may name /tmp). Each live store holds an flock on its directory; a directory
    under the same parent that nobody holds was left by a crashed run and is removed at start.

    An open handle stays readable after its file is unlinked (POSIX), so a download that began
    before a blob expired finishes, and nothing is read twice into memory.
    """

    def __init__(
        self, max_bytes: int, clock: Callable[[], float], directory: str | os.PathLike | None = None
    ):
        super().__init__(max_bytes, clock)
        parent = None
        if directory is not None:
            parent = Path(directory)
            parent.mkdir(parents=True, exist_ok=True)
        # Created under a name the sweep does not match, locked, then renamed (the lock follows
        # the inode): another engine starting beside this one never sees it unlocked.
        starting = Path(tempfile.mkdtemp(prefix="." + SPOOL_PREFIX, dir=parent))
        self._held = os.open(starting, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self._held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.directory = starting.with_name(starting.name[1:])
        os.rename(starting, self.directory)
        # Only in a directory the operator named: the system's temporary directory is shared
        # with other programs and cleaned by the system.
        self.stale_removed = 0 if parent is None else _remove_stale_spools(parent, keep=self.directory)

    def _path(self, name: str) -> Path:
        return self.directory / name

    def _write(self, name: str, data: bytes) -> None:
        partial = self._path(name + ".part")
        try:
            with open(partial, "wb") as handle:
                handle.write(data)
            os.replace(partial, self._path(name))  # readers never see half a file
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk must not also leak the bytes it took
            raise

    def _open(self, name: str) -> BinaryIO | None:
        try:
            return open(self._path(name), "rb")
        except FileNotFoundError:
            return None

    def _remove(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            pass

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.directory, ignore_errors=True)
        if self._held >= 0:
            os.close(self._held)  # releases the flock
            self._held = -1


def _remove_stale_spools(parent: Path, keep: Path) -> int:
    """Remove spool directories under ``parent`` that no live store holds; how many were removed."""
    removed = 0
    for candidate in parent.glob(SPOOL_PREFIX + "*"):
        if candidate == keep or candidate.is_symlink() or not candidate.is_dir():
            continue
        try:
            held = os.open(candidate, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue  # gone meanwhile, or not ours to read
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a running engine holds it
        else:
            shutil.rmtree(candidate, ignore_errors=True)
            removed += 1
        finally:
            os.close(held)
    return removed


def _check_name(name: str) -> None:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"unsafe blob name {name[:20]!r}")
