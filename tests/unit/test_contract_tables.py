"""The contract module against the contract document, literally: every table, limit and endpoint.

``docs/api/correction-api.md`` is the repository's copy of the vendor document; when the shared
original is present beside the repository, the copy must be identical to it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from correction_core import contract

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "api" / "correction-api.md"
SHARED_API = REPO.parent / "shared" / "api"

TEXT = DOC.read_text(encoding="utf-8")


def section(heading: str) -> str:
    """The text under a Markdown heading (any level) up to the next heading of the same or higher level."""
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", TEXT, re.MULTILINE)
    assert match, f"heading {heading!r} not found in {DOC}"
    level = len(match.group(1))
    rest = TEXT[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every pipe table in ``text`` as a list of rows keyed by the header cells."""
    found: list[list[dict[str, str]]] = []
    lines = [line.strip() for line in text.splitlines()]
    i = 0
    while i < len(lines) - 1:
        if lines[i].startswith("|") and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[i + 1]):
            header = [cell.strip() for cell in lines[i].strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = [cell.strip() for cell in lines[i].strip("|").split("|")]
                assert len(cells) == len(header), f"ragged table row: {lines[i]}"
                rows.append(dict(zip(header, cells)))
                i += 1
            found.append(rows)
        else:
            i += 1
    return found


def only_table(heading: str) -> list[dict[str, str]]:
    found = tables(section(heading))
    assert len(found) == 1, f"expected one table under {heading!r}, found {len(found)}"
    return found[0]


def numbered_meanings(description: str) -> dict[int, str]:
    """'0 = a; 1 = b (default); ...' -> {0: 'a', 1: 'b (default)'}, trailing period dropped."""
    parts = re.split(r";\s*(?=-?\d+\s*=)", description.strip())
    out = {}
    for part in parts:
        code, _, meaning = part.partition("=")
        out[int(code.strip())] = meaning.strip().rstrip(".")
    return out


# --- the tables ------------------------------------------------------------------------------------


def test_http_status_table_matches_exactly():
    rows = only_table("HTTP response status codes")
    assert {int(r["Code"]): r["Meaning"] for r in rows} == dict(contract.HTTP_STATUS_MEANINGS)


def test_named_http_statuses_are_in_the_table():
    named = {
        contract.HTTP_OK,
        contract.HTTP_BAD_REQUEST,
        contract.HTTP_UNAUTHORIZED,
        contract.HTTP_NOT_FOUND,
        contract.HTTP_PAYLOAD_TOO_LARGE,
        contract.HTTP_TOO_MANY_REQUESTS,
        contract.HTTP_SERVER_ERROR,
    }
    assert named == set(contract.HTTP_STATUS_MEANINGS)


def test_task_state_table_matches_exactly():
    rows = only_table("Task status codes (data.state)")
    assert {int(r["Code"]): r["Meaning"] for r in rows} == dict(contract.TASK_STATE_MEANINGS)


def test_task_state_rule_matches_the_classifiers():
    assert "1 = succeeded; greater than 1 = still processing; less than 0 = failed." in section(
        "Task status codes (data.state)"
    )
    for state in contract.TASK_STATE_MEANINGS:
        verdicts = (contract.is_succeeded(state), contract.is_failed(state), contract.is_pending(state))
        assert verdicts.count(True) == 1, state
        meaning = contract.TASK_STATE_MEANINGS[state]
        if contract.is_failed(state):
            assert state < 0
        if state == 0:
            assert meaning.startswith("Queued") and contract.is_pending(state)


def test_named_states_have_the_documented_meanings():
    m = contract.TASK_STATE_MEANINGS
    assert m[contract.STATE_QUEUED].startswith("Queued")
    assert m[contract.STATE_SUCCEEDED].startswith("Completed")
    assert m[contract.STATE_PROCESSING] == "Processing in progress."
    assert m[contract.STATE_FAILED] == "Processing failed."
    assert "OSS" in m[contract.STATE_RESULT_UPLOAD_FAILED]
    assert "failed to download" in m[contract.STATE_DOWNLOAD_FAILED]
    assert "size limit" in m[contract.STATE_URL_IMAGE_TOO_LARGE]
    assert "Invalid image" in m[contract.STATE_INVALID_IMAGE]
    assert "timed out" in m[contract.STATE_PROCESSING_TIMEOUT]


def test_endpoints_table_matches():
    rows = only_table("Endpoints")
    assert {(r["Method"], r["Path"]) for r in rows} == {
        ("POST", contract.CREATE_PATH),
        ("GET", contract.QUERY_PATH_TEMPLATE),
    }
    assert f"`POST {contract.CREATE_PATH}`" in TEXT
    assert f"`GET {contract.QUERY_PATH_TEMPLATE}`" in TEXT
    assert contract.query_path("abc") == contract.QUERY_PATH_TEMPLATE.replace("{task_id}", "abc")


def test_base_url_and_auth_header():
    assert re.search(r"```\s*\n" + re.escape(contract.BASE_URL_GLOBAL) + r"\s*\n```", section("Base URL"))
    assert f"{contract.API_KEY_HEADER}: YOUR_API_KEY" in section("Authentication")
    # The mainland host is from the vendor notes, not the contract; it must stay the same service.
    assert re.fullmatch(r"https://[a-z0-9]+\.aoscdn\.com", contract.BASE_URL_MAINLAND_CHINA)


def test_body_parameter_names_are_the_field_constants():
    rows = only_table("Body parameters")
    assert [r["Name"] for r in rows] == [
        contract.FIELD_IMAGE_URL,
        contract.FIELD_IMAGE_FILE,
        contract.FIELD_SYNC,
        contract.FIELD_TYPE,
        contract.FIELD_RETURN_TYPE,
    ]
    assert "multipart/form-data" in section("Create a photo cropping and enhancement task")


def test_type_meanings_and_vendor_default():
    row = next(r for r in only_table("Body parameters") if r["Name"] == contract.FIELD_TYPE)
    description = row["Description"].removeprefix("Enhancement type. ")
    meanings = numbered_meanings(description)
    default = [code for code, text in meanings.items() if text.endswith(" (default)")]
    assert default == [contract.VENDOR_DEFAULT_TYPE]
    cleaned = {code: text.removesuffix(" (default)") for code, text in meanings.items()}
    assert cleaned == dict(contract.ENHANCEMENT_TYPE_MEANINGS)
    assert {int(t) for t in contract.EnhancementType} == set(cleaned)


def test_return_type_meanings():
    row = next(r for r in only_table("Body parameters") if r["Name"] == contract.FIELD_RETURN_TYPE)
    meanings = numbered_meanings(row["Description"].removeprefix("Result return format. "))
    assert meanings == dict(contract.RETURN_TYPE_MEANINGS)
    assert {int(t) for t in contract.ReturnType} == set(meanings)
    sync_only = {code for code, text in meanings.items() if "only available for synchronous" in text}
    assert sync_only == {int(t) for t in contract.SYNC_ONLY_RETURN_TYPES}


def test_sync_values():
    row = next(r for r in only_table("Body parameters") if r["Name"] == contract.FIELD_SYNC)
    meanings = numbered_meanings(row["Description"])
    assert meanings[contract.SyncMode.ASYNC].startswith("asynchronous (default")
    assert meanings[contract.SyncMode.SYNC].startswith("synchronous")
    assert set(meanings) == {int(m) for m in contract.SyncMode}


def test_formats_and_limits_table():
    rows = only_table("Guidelines and Limits")
    assert len(rows) == 1
    row = rows[0]
    assert tuple(f.strip() for f in row["Format"].split(",")) == contract.SUPPORTED_FORMATS
    assert row["Resolution"] == f"Up to {contract.MAX_DIMENSION} x {contract.MAX_DIMENSION}"
    size = re.fullmatch(r"Up to (\d+)MB", row["File size"])
    assert size and int(size.group(1)) * 1024 * 1024 == contract.MAX_UPLOAD_BYTES


def test_limits_stated_in_prose():
    m = contract.TASK_STATE_MEANINGS
    url_limit = re.search(r"\((\d+)MB\)", m[contract.STATE_URL_IMAGE_TOO_LARGE])
    assert url_limit and int(url_limit.group(1)) * 1024 * 1024 == contract.MAX_URL_IMAGE_BYTES
    processing = re.search(r"maximum processing time is (\d+) seconds", m[contract.STATE_PROCESSING_TIMEOUT])
    assert processing and int(processing.group(1)) == contract.MAX_PROCESSING_SECONDS
    credits = re.search(r"Each successful call consumes (\d+) credits", TEXT)
    assert credits and int(credits.group(1)) == contract.CREDITS_PER_TASK
    assert "valid for **1 hour**" in TEXT and contract.RESULT_URL_TTL_SECONDS == 3600
    poll = re.search(
        r"polling every (\d+) second and keeping the total polling duration within (\d+) seconds", TEXT
    )
    assert poll and (int(poll.group(1)), int(poll.group(2))) == (
        contract.RECOMMENDED_POLL_INTERVAL_SECONDS,
        contract.RECOMMENDED_POLL_CAP_SECONDS,
    )
    qps = re.search(r"default QPS is (\d+)", contract.HTTP_STATUS_MEANINGS[contract.HTTP_TOO_MANY_REQUESTS])
    assert qps and int(qps.group(1)) == contract.DEFAULT_QPS
    assert f"{contract.PROGRESS_COMPLETE} means processing is complete" in TEXT


# --- the repository copy is the shared original ------------------------------------------------------


@pytest.mark.parametrize("name", ["correction-api.md", "vendor-notes.md"])
def test_repo_copy_equals_shared_original(name):
    original = SHARED_API / name
    if not original.exists():
        pytest.skip(f"{original} is not present (only in the development workspace)")
    assert (REPO / "docs" / "api" / name).read_bytes() == original.read_bytes()


# --- Our own limits, derived from the document's ------------------------------------------


@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize(("mode", "channels"), [("RGBA", 4), ("RGB", 3), ("L", 1)])
def test_png_size_bound_holds_for_a_real_encoder_on_incompressible_pixels(level, mode, channels):
    import io

    import numpy as np
    from PIL import Image

    width, height = 613, 409
    shape = (height, width, channels) if channels > 1 else (height, width)
    noise = np.random.default_rng(level).integers(0, 256, shape, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise, mode).save(buffer, format="PNG", compress_level=level)
    bound = contract.png_size_bound(width, height, channels=channels)
    raw = height * (1 + width * channels)
    assert raw < len(buffer.getvalue()) <= bound
    assert bound - raw < raw * 0.002 + 1024  # tight: framing overhead only, not a guess


def test_result_cap_covers_the_largest_result_the_documented_resolution_allows():
    row = only_table("Guidelines and Limits")[0]
    side = int(re.fullmatch(r"Up to (\d+) x \1", row["Resolution"]).group(1))
    assert contract.png_size_bound(side, side, channels=4) <= contract.MAX_RESULT_BYTES
    # 32-bit BMP and uncompressed TIFF results: raw pixels plus headers under the allowance.
    assert side * side * 4 + contract.RESULT_METADATA_ALLOWANCE_BYTES <= contract.MAX_RESULT_BYTES
    assert contract.MIN_DIMENSION >= 2  # a one-pixel side is refused before paying
