"""Reading an untrusted HTTP body under a size cap that holds after decoding.

httpx decodes a ``Content-Encoding`` body a whole network read at a time, and every layer of a
``gzip, gzip`` body at once, before the caller can count a byte: a few kilobytes of nested gzip
inflate to gigabytes inside one read (review: 3.5 KB took the engine from 0.1 to 4.2 GB). So the
request asks for the body as it is (``Accept-Encoding: identity``, images are compressed
already), the raw bytes are read, and a server that compresses anyway gets one layer of gzip or
zlib inflated here, never more than the cap plus one byte at a time.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

# Sent with every download of an image: no server has a reason to compress one.
AS_IS = {"Accept-Encoding": "identity"}
_INFLATED = ("gzip", "x-gzip", "deflate")
# Compressions this reader does not inflate; any other token is no compression at all (``none``,
# ``binary``: S3 returns whatever Content-Encoding the uploader stored) and read as it is, as
# httpx itself does (review: refusing those failed a paid task's source download).
_REFUSED = ("br", "zstd", "compress", "x-compress")


class BodyTooLarge(Exception):
    """The body, decoded, is over the cap."""


class BodyEncodingRefused(Exception):
    """A ``Content-Encoding`` this reader does not inflate (several layers, br, zstd, ...), or a
    compressed body that is not valid."""


def content_codings(response: httpx.Response) -> list[str]:
    """The response's compressions, outermost last: ``identity`` and tokens that name no
    compression left out."""
    header = response.headers.get("content-encoding", "")
    parts = (part.strip().lower() for part in header.split(","))
    return [c for c in parts if c in _INFLATED or c in _REFUSED]


def capped_chunks(response: httpx.Response, cap: int) -> Iterator[bytes]:
    """The decoded body of a streamed ``response`` in pieces; BodyTooLarge as soon as more than
    ``cap`` bytes have come out, BodyEncodingRefused for what is not plain, gzip or zlib."""
    codings = content_codings(response)
    if len(codings) > 1 or (codings and codings[0] not in _INFLATED):
        raise BodyEncodingRefused(f"Content-Encoding {', '.join(codings)!r} is not accepted for an image")
    if response.is_stream_consumed:
        # Built around bytes already in memory (a test's transport): decoded, nothing to stream.
        if len(response.content) > cap:
            raise BodyTooLarge(f"body exceeds the {cap}-byte limit")
        yield response.content
        return
    # 32 + 15: a gzip or a zlib header, told apart by the inflater itself; "deflate" sent raw,
    # without the zlib header (some servers do, and httpx reads it), is tried when that fails.
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS) if codings else None
    undecided = codings == ["deflate"]
    size = 0
    for raw in response.iter_raw():
        if undecided and raw:
            inflater, undecided = _inflater_for(raw), False
        for piece in _inflate(inflater, raw, cap - size) if inflater is not None else (raw,):
            size += len(piece)
            if size > cap:
                raise BodyTooLarge(f"body exceeds the {cap}-byte limit")
            yield piece
    if inflater is not None and not inflater.eof:
        raise BodyEncodingRefused("the compressed body ends before its end")


def _inflater_for(first: bytes) -> zlib._Decompress:
    """A zlib-wrapped deflate stream (its two header bytes a multiple of 31), else raw deflate."""
    if len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0:
        return zlib.decompressobj(zlib.MAX_WBITS)
    return zlib.decompressobj(-zlib.MAX_WBITS)


def _inflate(inflater: zlib._Decompress, data: bytes, room: int) -> Iterator[bytes]:
    """What ``data`` inflates to, at most ``room`` + 1 bytes in all (enough to see the cap
    crossed); the rest of the input is left unread."""
    try:
        while data and room >= 0:
            # max_length 0 would mean "no limit": room + 1 is at least 1.
            piece = inflater.decompress(data, room + 1)
            room -= len(piece)
            yield piece
            data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise BodyEncodingRefused(f"the compressed body is not valid: {exc}") from None
