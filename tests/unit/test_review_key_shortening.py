"""Review of issue 10 item 1: a key shortened to S3's 1,024-byte limit must be unforgeable.

A shortened result key ends in ``~<digest of the full source key>``; before the fix that ending
was also a legal short source name, so a crafted upload could own another object's result.
"""

from __future__ import annotations

import random

from correction_core.objects import EXTENSION_BY_FORMAT, S3_MAX_KEY_BYTES, ObjectRef, failure_key, result_key
from correction_core.settings import Settings

NAMING = Settings(source_prefix="incoming/", destination_prefix="results/", failure_prefix="failures/")


def _keys_of(source_key: str) -> set[str]:
    ref = ObjectRef("src", source_key)
    return {result_key(ref, NAMING, fmt) for fmt in EXTENSION_BY_FORMAT} | {failure_key(ref, NAMING)}


def test_a_crafted_short_name_cannot_take_a_shortened_result_key():
    long_key = "incoming/" + "a" * (S3_MAX_KEY_BYTES - len("incoming/"))
    for fmt, ext in EXTENSION_BY_FORMAT.items():
        shortened = result_key(ObjectRef("src", long_key), NAMING, fmt)
        assert len(shortened.encode()) <= S3_MAX_KEY_BYTES
        # The review's forgery: name a source so that its unshortened result is that key.
        crafted = "incoming/" + shortened[len("results/") : -len(ext)]
        assert len(crafted.encode()) <= S3_MAX_KEY_BYTES and crafted != long_key
        assert result_key(ObjectRef("src", crafted), NAMING, fmt) != shortened
        assert not (_keys_of(crafted) & _keys_of(long_key))


def test_ordinary_keys_keep_their_results_unchanged():
    assert result_key(ObjectRef("src", "incoming/a/photo.jpg"), NAMING, "jpeg") == "results/a/photo.jpg.jpg"
    assert result_key(ObjectRef("src", "incoming/x~1234"), NAMING, "png") == "results/x~1234.png"
    assert failure_key(ObjectRef("src", "incoming/a/b.jpg"), NAMING) == "failures/a/b.jpg.json"


def test_random_keys_near_the_limit_and_their_forgeries_never_share_a_key():
    rng = random.Random(7)
    alphabet = "aé/.~漢😀-_ 0f"
    owner: dict[str, str] = {}
    for _ in range(300):
        key = "incoming/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(550, 800)))
        while len(key.encode()) > S3_MAX_KEY_BYTES:
            key = key[:-1]
        if key.endswith("/"):
            continue
        sources = [key]
        for fmt, ext in EXTENSION_BY_FORMAT.items():
            produced = result_key(ObjectRef("src", key), NAMING, fmt)
            forged = "incoming/" + produced[len("results/") : -len(ext)]
            if forged != key and len(forged.encode()) <= S3_MAX_KEY_BYTES:
                sources.append(forged)
        for source in sources:
            for produced in _keys_of(source):
                assert len(produced.encode()) <= S3_MAX_KEY_BYTES
                assert owner.setdefault(produced, source) == source, (
                    f"{source!r} and {owner[produced]!r} share a key"
                )
