"""Unit tests of the API client against httpx.MockTransport: every contract code, retries, secrets.

The mock plays the server; assertions are on what the client sent and what it raised or returned.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from correction_core import contract
from correction_core.client import CorrectionClient, RetryPolicy, parse_retry_after
from correction_core.errors import (
    ApiTransportError,
    ApiUnavailable,
    BadApiResponse,
    CorrectionError,
    InvalidRequest,
    PayloadTooLarge,
    PollTimeout,
    RateLimited,
    RequestRejected,
    TaskFailed,
    TaskNotFound,
    Unauthorized,
)
from correction_core.results import CreatedTask, ResultKind, TaskStatus

SENTINEL_KEY = "sk-SENTINEL-7f3a9c1e5b2d"
SIGNATURE = "Signature=SIGSECRETabc123"
SIGNED_URL = f"https://result.aoscdn.com/out/abc.png?Expires=1700003600&{SIGNATURE}"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40

# What each contract HTTP status must raise. A code added to the contract without an entry
# here makes test_every_contract_http_status_is_expected fail, so it cannot go untested.
EXPECTED_ERROR = {
    400: InvalidRequest,
    401: Unauthorized,
    404: TaskNotFound,
    413: PayloadTooLarge,
    429: RateLimited,
    500: ApiUnavailable,
}


@dataclass
class Server:
    """A scripted server: each request pops the next reply (or reuses the last one)."""

    replies: list[Any]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply


@dataclass
class Harness:
    server: Server
    sleeps: list[float]
    client: CorrectionClient


def ok(data: dict[str, Any], message: str = "success") -> httpx.Response:
    return httpx.Response(200, json={"status": 200, "message": message, "data": data})


def make(
    replies: list[Any] | Any,
    *,
    max_attempts: int = 4,
    clock: Callable[[], float] | None = None,
    **kwargs: Any,
) -> Harness:
    server = Server(replies if isinstance(replies, list) else [replies])
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if isinstance(clock, FakeClock):  # sleeping is what moves a fake clock forward
            clock.now += seconds

    policy = RetryPolicy(
        max_attempts=max_attempts,
        base_delay=0.5,
        max_delay=kwargs.pop("max_delay", 8.0),
        sleep=sleep,
        random=lambda: 0.5,  # deterministic "full jitter": half of each ceiling
        retry_ambiguous_create=kwargs.pop("retry_ambiguous_create", False),
    )
    extra = {"clock": clock} if clock else {}
    client = CorrectionClient(
        api_key=kwargs.pop("api_key", SENTINEL_KEY),
        transport=httpx.MockTransport(server),
        retry=policy,
        **extra,
        **kwargs,
    )
    return Harness(server, sleeps, client)


def form_fields(request: httpx.Request) -> dict[str, tuple[str | None, str | None, bytes]]:
    """Parse the multipart body the client sent: name -> (filename, content type, bytes)."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content
    )
    fields: dict[str, tuple[str | None, str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        assert name not in fields, f"field {name} sent twice"
        part_type = part.get("content-type")
        payload = part.get_payload(decode=True)
        fields[name] = (part.get_filename(), str(part_type) if part_type else None, payload)
    return fields


def all_text(error: BaseException) -> str:
    """Every string an exception can surface: str, repr, record, details, and its chain."""
    texts = []
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 5:
        texts += [str(current), repr(current), repr(current.args)]
        if isinstance(current, CorrectionError):
            texts.append(json.dumps(current.to_record(), default=str))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
        seen += 1
    return "\n".join(texts)


# --- construction, secrets ---------------------------------------------------------------------


def test_repr_and_str_hide_the_key_for_str_and_callable_keys():
    for key in (SENTINEL_KEY, lambda: SENTINEL_KEY):
        client = CorrectionClient(api_key=key, transport=httpx.MockTransport(lambda r: ok({})))
        assert SENTINEL_KEY not in repr(client)
        assert SENTINEL_KEY not in str(client)
        assert SENTINEL_KEY not in repr(vars(client))
        assert "hidden" in repr(client)


def test_key_sent_in_header_and_callable_resolved_lazily_per_request():
    calls = []

    def key() -> str:
        calls.append(1)
        return SENTINEL_KEY

    h = make(ok({"task_id": "t1", "state": 4}), api_key=key)
    assert calls == []  # building the client must not hit Secrets Manager
    h.client.get_task("t1")
    h.client.get_task("t1")
    assert [r.headers[contract.API_KEY_HEADER] for r in h.server.requests] == [SENTINEL_KEY] * 2
    assert len(calls) == 2  # caching is Powertools' job; the client always asks


def test_empty_key_is_refused_before_any_request():
    h = make(ok({}), api_key=lambda: "  ")
    with pytest.raises(Unauthorized):
        h.client.get_task("t1")
    assert h.server.requests == []


@pytest.mark.parametrize(
    "base_url", [contract.BASE_URL_GLOBAL, contract.BASE_URL_MAINLAND_CHINA, "http://127.0.0.1:8080/"]
)
def test_base_url_is_configurable(base_url):
    h = make(ok({"task_id": "t1", "state": 1}), base_url=base_url)
    h.client.get_task("t1")
    assert str(h.server.requests[0].url) == base_url.rstrip("/") + contract.query_path("t1")


def test_tls_verification_cannot_be_disabled():
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError):
        CorrectionClient(api_key=SENTINEL_KEY, ssl_context=insecure)
    with pytest.raises(ValueError):
        CorrectionClient(api_key=SENTINEL_KEY, ssl_context=ssl.create_default_context(), ca_bundle="/x.pem")
    CorrectionClient(api_key=SENTINEL_KEY, ssl_context=ssl.create_default_context()).close()


def test_timeout_must_be_explicit_httpx_timeout():
    with pytest.raises(TypeError):
        CorrectionClient(api_key=SENTINEL_KEY, timeout=5)  # type: ignore[arg-type]


# --- create_task: validation and the multipart body ---------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"image_url": "https://s3/x.jpg?X-Amz-Signature=1", "image_file": PNG},
        {"image_url": ""},
        {"image_file": b""},
        {"image_url": "", "image_file": b""},
    ],
)
def test_create_needs_exactly_one_source_before_any_request(kwargs):
    h = make(ok({"task_id": "t"}))
    with pytest.raises(ValueError, match="exactly one"):
        h.client.create_task(enhancement_type=1, **kwargs)
    assert h.server.requests == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"enhancement_type": 5},
        {"enhancement_type": -1},
        {"enhancement_type": True},
        {"enhancement_type": 1, "return_type": 0},
        {"enhancement_type": 1, "return_type": contract.ReturnType.BINARY},  # sync-only
        {"enhancement_type": 1, "return_type": 3, "sync": False},
    ],
)
def test_create_rejects_bad_options_before_any_request(kwargs):
    h = make(ok({"task_id": "t"}))
    with pytest.raises(ValueError):
        h.client.create_task(image_url="https://example.com/a.jpg", **kwargs)
    assert h.server.requests == []


def test_create_rejects_non_http_image_url_without_echoing_its_signature():
    h = make(ok({"task_id": "t"}))
    with pytest.raises(ValueError) as caught:
        h.client.create_task(image_url="ftp://host/a.jpg?X-Amz-Signature=SECRET", enhancement_type=1)
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize("etype", list(contract.EnhancementType))
def test_create_from_url_sends_multipart_with_type_always(etype):
    url = "https://bucket.s3.amazonaws.com/in/a.jpg?X-Amz-Signature=ab%2Bc&X-Amz-Expires=600"
    h = make(ok({"task_id": "task-1"}))
    created = h.client.create_task(image_url=url, enhancement_type=etype)
    assert created == CreatedTask("task-1")
    request = h.server.requests[0]
    assert request.method == "POST"
    assert request.url.path == contract.CREATE_PATH
    fields = form_fields(request)
    assert set(fields) == {
        contract.FIELD_SYNC,
        contract.FIELD_TYPE,
        contract.FIELD_RETURN_TYPE,
        contract.FIELD_IMAGE_URL,
    }
    assert fields[contract.FIELD_TYPE][2] == str(int(etype)).encode()
    assert fields[contract.FIELD_SYNC][2] == b"0"
    assert fields[contract.FIELD_RETURN_TYPE][2] == b"1"
    assert fields[contract.FIELD_IMAGE_URL][2] == url.encode()  # the presigned query is untouched
    assert fields[contract.FIELD_IMAGE_URL][0] is None  # a plain field, not a file


def test_create_from_bytes_sends_one_file_part_with_sniffed_type():
    h = make(ok({"task_id": "task-2"}))
    h.client.create_task(
        image_file=PNG,
        enhancement_type=contract.EnhancementType.PRODUCT_CUTOUT,
        return_type=contract.ReturnType.BASE64,
    )
    fields = form_fields(h.server.requests[0])
    assert set(fields) == {"sync", "type", "return_type", "image_file"}
    filename, content_type, content = fields["image_file"]
    assert content == PNG
    assert content_type == "image/png"
    assert filename and filename.endswith(".png")
    assert fields["type"][2] == b"4"
    assert fields["return_type"][2] == b"2"


def test_create_from_tuple_keeps_filename_and_content_type():
    h = make(ok({"task_id": "task-3"}))
    h.client.create_task(image_file=("scan 1.jpg", b"\xff\xd8\xff\xe0rest", "image/jpeg"), enhancement_type=0)
    filename, content_type, content = form_fields(h.server.requests[0])["image_file"]
    assert (filename, content_type, content) == ("scan 1.jpg", "image/jpeg", b"\xff\xd8\xff\xe0rest")


def test_create_refuses_files_over_the_contract_limit_without_uploading():
    h = make(ok({"task_id": "t"}))
    with pytest.raises(PayloadTooLarge):
        h.client.create_task(image_file=b"\0" * (contract.MAX_UPLOAD_BYTES + 1), enhancement_type=1)
    assert h.server.requests == []


def test_sync_create_returns_status_with_result():
    h = make(ok({"task_id": "s1", "state": 1, "progress": 100, "image": SIGNED_URL, "return_type": 1}))
    status = h.client.create_task(image_url="https://example.com/a.jpg", enhancement_type=2, sync=True)
    assert isinstance(status, TaskStatus)
    assert status.is_done and status.image == SIGNED_URL and status.result_kind is ResultKind.URL
    assert form_fields(h.server.requests[0])["sync"][2] == b"1"


def test_sync_binary_create_accepts_raw_image_body():
    h = make(httpx.Response(200, content=PNG, headers={"content-type": "image/png"}))
    status = h.client.create_task(
        image_url="https://example.com/a.jpg", enhancement_type=4, return_type=3, sync=True
    )
    assert isinstance(status, TaskStatus)
    assert status.result_kind is ResultKind.BINARY and status.image_bytes == PNG and status.is_done
    assert form_fields(h.server.requests[0])["return_type"][2] == b"3"


def test_async_create_without_task_id_is_bad_response():
    h = make(ok({}))
    with pytest.raises(BadApiResponse):
        h.client.create_task(image_url="https://example.com/a.jpg", enhancement_type=1)


# --- every HTTP status of the contract ----------------------------------------------------------


def test_every_contract_http_status_is_expected():
    assert set(contract.HTTP_STATUS_MEANINGS) - {contract.HTTP_OK} == set(EXPECTED_ERROR)


@pytest.mark.parametrize("status", sorted(contract.HTTP_STATUS_MEANINGS))
def test_http_status_mapping(status):
    body = {"status": status, "message": f"server says {status}", "data": {"task_id": "t1", "state": 4}}
    h = make(httpx.Response(status, json=body), max_attempts=1)
    if status == contract.HTTP_OK:
        assert h.client.get_task("t1").state == 4
        return
    with pytest.raises(EXPECTED_ERROR[status]) as caught:
        h.client.get_task("t1")
    assert caught.value.http_status == status
    assert f"server says {status}" in str(caught.value)
    assert len(h.server.requests) == 1


@pytest.mark.parametrize("status", sorted(set(contract.HTTP_STATUS_MEANINGS) - {200}))
def test_json_status_in_http_200_is_mapped_the_same_way(status):
    body = {"status": status, "message": "nope", "data": {}}
    h = make(httpx.Response(200, json=body), max_attempts=1)
    with pytest.raises(EXPECTED_ERROR[status]) as caught:
        h.client.get_task("t1")
    assert caught.value.details.get("json_status") == status
    assert caught.value.http_status == 200


@pytest.mark.parametrize("status", [502, 503, 504, 599])
def test_other_5xx_are_unavailable_even_with_html_bodies(status):
    h = make(httpx.Response(status, text="<html>bad gateway</html>"), max_attempts=1)
    with pytest.raises(ApiUnavailable) as caught:
        h.client.get_task("t1")
    assert caught.value.http_status == status


@pytest.mark.parametrize("status", [402, 403, 409, 422])
def test_other_4xx_are_rejections(status):
    h = make(httpx.Response(status, json={"status": status, "message": "x"}), max_attempts=4)
    with pytest.raises(RequestRejected):
        h.client.get_task("t1")
    assert len(h.server.requests) == 1  # a rejection is never retried


def test_json_status_as_string_is_accepted():
    h = make(httpx.Response(200, json={"status": "200", "data": {"task_id": "t1", "state": "4"}}))
    assert h.client.get_task("t1").state == 4


def test_redirect_from_api_is_not_followed():
    h = make(httpx.Response(302, headers={"location": "https://evil.example/"}))
    with pytest.raises(BadApiResponse):
        h.client.get_task("t1")
    assert len(h.server.requests) == 1


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>ok</html>"),
        httpx.Response(200, content=b""),
        httpx.Response(200, json=["status", 200]),
        httpx.Response(200, json={"message": "no status", "data": {"task_id": "t1", "state": 1}}),
        httpx.Response(200, json={"status": 200, "message": "no data"}),
        httpx.Response(200, json={"status": 200, "data": "t1"}),
        httpx.Response(200, json={"status": 200, "data": {"task_id": "t1"}}),
        httpx.Response(200, json={"status": 200, "data": {"task_id": "t1", "state": "soon"}}),
        httpx.Response(200, json={"status": 200, "data": {"task_id": "t1", "state": 1.5}}),
        httpx.Response(200, json={"status": "ok", "data": {"task_id": "t1", "state": 1}}),
        httpx.Response(200, json={"status": 200, "data": {"task_id": "t1", "state": 1, "image": 5}}),
    ],
)
def test_malformed_responses_are_bad_api_response(response):
    h = make(response)
    with pytest.raises(BadApiResponse):
        h.client.get_task("t1")


# --- every task state of the contract ----------------------------------------------------------


@pytest.mark.parametrize("state", sorted(contract.TASK_STATE_MEANINGS))
def test_every_contract_state_is_classified(state):
    h = make(ok({"task_id": "t1", "state": state, "progress": 100 if state == 1 else 10}, message="m"))
    status = h.client.get_task("t1")  # never raises for a state: CheckStatus branches on it
    assert status.state == state
    expected = (state == 1, state < 0, state == 0 or state > 1)
    assert (status.is_done, status.is_failed, status.is_pending) == expected
    assert status.state_meaning == contract.TASK_STATE_MEANINGS[state]


@pytest.mark.parametrize("state", sorted(s for s in contract.TASK_STATE_MEANINGS if s < 0))
def test_wait_raises_task_failed_for_every_failure_state(state):
    h = make(ok({"task_id": "t1", "state": state}, message=f"server detail {state}"))
    with pytest.raises(TaskFailed) as caught:
        h.client.wait("t1")
    assert caught.value.state == state and caught.value.task_id == "t1"
    assert f"server detail {state}" in str(caught.value)
    assert contract.TASK_STATE_MEANINGS[state] in str(caught.value)
    assert h.sleeps == []  # stops at once


@pytest.mark.parametrize("state", sorted(s for s in contract.TASK_STATE_MEANINGS if contract.is_pending(s)))
def test_wait_keeps_polling_every_pending_state(state):
    h = make([ok({"task_id": "t1", "state": state}), ok({"task_id": "t1", "state": 1, "image": SIGNED_URL})])
    status = h.client.wait("t1", interval=1.0, timeout=30.0)
    assert status.is_done and len(h.server.requests) == 2
    assert h.sleeps == [1.0]


def test_unknown_negative_state_fails_with_number_and_message():
    h = make(ok({"task_id": "t1", "state": -99}, message="brand new failure"))
    status = h.client.get_task("t1")
    assert status.is_failed and not status.is_pending
    with pytest.raises(TaskFailed) as caught:
        status.raise_for_failure()
    assert "-99" in str(caught.value) and "brand new failure" in str(caught.value)
    with pytest.raises(TaskFailed):
        h.client.wait("t1")


def test_unknown_positive_state_is_pending():
    h = make(ok({"task_id": "t1", "state": 42}))
    assert h.client.get_task("t1").is_pending


def test_state_zero_is_queued_not_failed():
    status = make(ok({"task_id": "t1", "state": 0})).client.get_task("t1")
    assert status.is_pending and not status.is_failed and not status.is_done


def test_lenient_parsing_and_extra_fields_ignored():
    h = make(
        ok(
            {
                "task_id": "t1",
                "state": "1",
                "progress": "100",
                "image": SIGNED_URL,
                "created_at": "1700000000",
                "processed_at": 1700000001,
                "completed_at": "",
                "return_type": 1,
                "state_detail": "Complete",
                "something_new": {"nested": True},
            }
        )
    )
    status = h.client.get_task("t1")
    assert status.state == 1 and status.progress == 100
    assert status.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert status.processed_at == datetime(2023, 11, 14, 22, 13, 21, tzinfo=UTC)
    assert status.completed_at is None


def test_task_id_falls_back_to_the_requested_one_and_is_quoted():
    h = make(ok({"state": 4}))
    assert h.client.get_task("a/b c").task_id == "a/b c"
    assert h.server.requests[0].url.raw_path.decode().endswith("/a%2Fb%20c")


def test_result_kinds_url_base64_and_none():
    for image, kind in [
        (SIGNED_URL, ResultKind.URL),
        ("iVBORw0KGgo=", ResultKind.BASE64),
        ("data:image/png;base64,iVBORw0KGgo=", ResultKind.BASE64),
        ("", ResultKind.NONE),
        (None, ResultKind.NONE),
    ]:
        status = make(ok({"task_id": "t1", "state": 1, "image": image})).client.get_task("t1")
        assert status.result_kind is kind


def test_json_escaped_ampersand_in_result_url_is_decoded_not_mangled():
    raw = (
        '{"status":200,"data":{"task_id":"t1","state":1,'
        '"image":"https://r.aoscdn.com/a.png?x=1\\u0026Signature=a%2Bb"}}'
    )
    h = make(httpx.Response(200, content=raw.encode(), headers={"content-type": "application/json"}))
    assert h.client.get_task("t1").image == "https://r.aoscdn.com/a.png?x=1&Signature=a%2Bb"


def test_status_repr_hides_the_url_signature():
    status = make(ok({"task_id": "t1", "state": 1, "image": SIGNED_URL})).client.get_task("t1")
    assert SIGNATURE not in repr(status) and "result.aoscdn.com" in repr(status)


# --- wait() --------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_wait_times_out_at_the_cap_with_poll_timeout():
    clock = FakeClock()
    h = make(ok({"task_id": "t1", "state": 4}), clock=clock)
    with pytest.raises(PollTimeout) as caught:
        h.client.wait("t1", interval=1.0, timeout=3.5)
    assert h.sleeps == [1.0, 1.0, 1.0, 0.5]
    assert len(h.server.requests) == 5
    assert caught.value.details["state"] == 4


def test_wait_returns_immediately_when_done():
    h = make(ok({"task_id": "t1", "state": 1, "image": "aGVsbG8="}))
    assert h.client.wait("t1").is_done and h.sleeps == []


# --- retries ---------------------------------------------------------------------------------------


def test_429_retry_honours_retry_after_seconds():
    h = make([httpx.Response(429, headers={"retry-after": "3"}), ok({"task_id": "t1", "state": 4})])
    assert h.client.get_task("t1").state == 4
    assert h.sleeps == [3.0]


def test_429_retry_after_http_date_is_relative_to_the_wall_clock():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    header = format_datetime(datetime(2026, 1, 1, 12, 0, 2, tzinfo=UTC), usegmt=True)
    h = make(
        [httpx.Response(429, headers={"retry-after": header}), ok({"task_id": "t1", "state": 4})],
        wall_clock=lambda: now,
    )
    h.client.get_task("t1")
    assert h.sleeps == [2.0]


def test_retry_after_is_capped_at_max_delay():
    replies = [httpx.Response(429, headers={"retry-after": "120"}), ok({"task_id": "t1", "state": 4})]
    h = make(replies, max_delay=2.0)
    h.client.get_task("t1")
    assert h.sleeps == [2.0]


def test_429_without_retry_after_uses_full_jitter_backoff():
    h = make([httpx.Response(429), httpx.Response(429), ok({"task_id": "t1", "state": 4})])
    h.client.get_task("t1")
    assert h.sleeps == [0.25, 0.5]  # uniform(0, 0.5 * 2**n) with the random source pinned at 0.5


def test_429_exhaustion_raises_rate_limited_with_retry_after():
    h = make(
        httpx.Response(429, headers={"retry-after": "1"}, json={"status": 429, "message": "slow down"}),
        max_attempts=3,
    )
    with pytest.raises(RateLimited) as caught:
        h.client.get_task("t1")
    assert caught.value.retry_after == 1.0
    assert caught.value.details["attempts"] == 3
    assert len(h.server.requests) == 3 and h.sleeps == [1.0, 1.0]


def test_429_inside_http_200_is_retried_too():
    h = make([httpx.Response(200, json={"status": 429, "message": "qps"}), ok({"task_id": "t1", "state": 2})])
    assert h.client.get_task("t1").state == 2 and len(h.sleeps) == 1


def test_5xx_then_success():
    h = make([httpx.Response(500), httpx.Response(503), ok({"task_id": "t1", "state": 1})])
    assert h.client.get_task("t1").is_done
    assert h.sleeps == [0.25, 0.5]


def test_5xx_exhaustion_raises_api_unavailable():
    h = make(httpx.Response(502), max_attempts=2)
    with pytest.raises(ApiUnavailable) as caught:
        h.client.get_task("t1")
    assert caught.value.http_status == 502 and caught.value.transient
    assert len(h.server.requests) == 2


def test_backoff_is_capped_and_jitter_stays_within_the_ceiling():
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, random=lambda: 0.999)
    assert [round(policy.backoff(n), 3) for n in (1, 2, 3, 4, 5)] == [0.999, 1.998, 3.996, 3.996, 3.996]
    assert RetryPolicy(base_delay=1.0, max_delay=4.0, jitter=False).backoff(2) == 2.0


@pytest.mark.parametrize(
    "value, expected",
    [
        ("5", 5.0),
        (" 0.5 ", 0.5),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("inf", None),
        ("Thu, 01 Jan 2026 12:00:10 GMT", 10.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value, expected):
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(value, now=lambda: now) == expected


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("server disconnected without sending a response"),
    ],
)
def test_transport_errors_become_api_transport_error_and_get_is_retried(exc):
    h = make([exc, ok({"task_id": "t1", "state": 4})])
    assert h.client.get_task("t1").state == 4
    assert len(h.server.requests) == 2
    h = make(exc, max_attempts=2)
    with pytest.raises(ApiTransportError) as caught:
        h.client.get_task("t1")
    assert type(exc).__name__ in str(caught.value) and caught.value.transient


def test_create_is_retried_when_the_request_never_left():
    h = make([httpx.ConnectError("refused"), httpx.Response(429), ok({"task_id": "t9"})])
    assert h.client.create_task(image_url="https://e.com/a.jpg", enhancement_type=1).task_id == "t9"
    assert len(h.server.requests) == 3


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("late"), httpx.RemoteProtocolError("dropped")])
def test_create_is_not_repeated_after_an_ambiguous_failure(exc):
    # The first request may have created (and charged) a task: raise instead of paying twice.
    h = make([exc, ok({"task_id": "t9"})])
    with pytest.raises(ApiTransportError) as caught:
        h.client.create_task(image_url="https://e.com/a.jpg", enhancement_type=1)
    assert caught.value.details["request_may_have_been_processed"] is True
    assert len(h.server.requests) == 1
    h = make([exc, ok({"task_id": "t9"})], retry_ambiguous_create=True)
    assert h.client.create_task(image_url="https://e.com/a.jpg", enhancement_type=1).task_id == "t9"


def test_before_request_hook_runs_before_every_attempt_and_its_rate_limit_is_retried():
    calls: list[str] = []

    def hook(method: str) -> None:
        calls.append(method)
        if len(calls) == 1:
            raise RateLimited("shared budget spent", retry_after=0.3)

    h = make([httpx.Response(503), ok({"task_id": "t1", "state": 4})], before_request=hook)
    h.client.get_task("t1")
    assert calls == ["GET", "GET", "GET"]  # budget refusal, the 503, the success
    assert len(h.server.requests) == 2
    assert h.sleeps == [0.3, 0.5]


# --- secrets never leak ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(401, json={"status": 401, "message": f"key {SENTINEL_KEY} is invalid"}),
        httpx.Response(400, json={"status": 400, "message": f"bad url {SIGNED_URL}"}),
        httpx.Response(200, json={"status": 413, "message": f"too big ({SENTINEL_KEY})"}),
        httpx.Response(500, text=f"trace: header X-API-KEY={SENTINEL_KEY}, url {SIGNED_URL}"),
        httpx.ConnectError(f"proxy said no to {SENTINEL_KEY}"),
        httpx.Response(200, json={"status": 200, "message": f"{SENTINEL_KEY}", "data": {"task_id": "t1"}}),
    ],
)
def test_key_and_signatures_never_appear_in_errors(reply):
    h = make(reply, max_attempts=1)
    with pytest.raises(CorrectionError) as caught:
        h.client.get_task("t1")
    text = all_text(caught.value)
    assert SENTINEL_KEY not in text
    assert SIGNATURE not in text


def test_task_failed_message_is_scrubbed():
    h = make(ok({"task_id": "t1", "state": -3}, message=f"could not fetch {SIGNED_URL}"))
    with pytest.raises(TaskFailed) as caught:
        h.client.wait("t1")
    assert SIGNATURE not in all_text(caught.value) and "result.aoscdn.com" in str(caught.value)


def test_our_own_budget_refusal_is_not_retried_inside_the_client():
    from correction_core.errors import BudgetExhausted

    def hook(method: str) -> None:
        raise BudgetExhausted("budget spent", retry_after=0.4)

    h = make([ok({"task_id": "t1", "state": 4})], before_request=hook)
    with pytest.raises(BudgetExhausted):
        h.client.get_task("t1")
    assert h.server.requests == [] and h.sleeps == []  # the state machine does the waiting


# --- issue 10 item 3: which failed creates may be repeated ---------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(500, json={"status": 500, "message": "server-side exception"}),
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(503),
        httpx.Response(504, text="gateway timeout"),
        httpx.Response(200, json={"status": 500, "message": "server-side exception"}),
        httpx.Response(200, text="<html>not the contract</html>"),
        httpx.Response(302, headers={"location": "https://elsewhere.example/"}),
    ],
)
def test_a_create_answer_that_does_not_prove_nothing_was_made_is_never_repeated(reply):
    # A gateway can answer 502/504 after the backend created (and charged for) the task.
    h = make([reply, ok({"task_id": "t2"})])
    with pytest.raises(CorrectionError) as caught:
        h.client.create_task(image_url="https://e.com/a.jpg", enhancement_type=1)
    assert len(h.server.requests) == 1
    assert caught.value.details["request_may_have_been_processed"] is True


@pytest.mark.parametrize(
    "reply",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no answer to SYN"),
        httpx.Response(429, headers={"retry-after": "1"}),
        httpx.Response(200, json={"status": 429, "message": "qps"}),
    ],
)
def test_a_create_is_repeated_only_after_answers_that_prove_nothing_was_made(reply):
    h = make([reply, ok({"task_id": "t3"})])
    assert h.client.create_task(image_url="https://e.com/a.jpg", enhancement_type=1).task_id == "t3"
    assert len(h.server.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 413])
def test_a_create_refused_by_a_contract_validation_is_not_ambiguous(status):
    h = make(httpx.Response(status, json={"status": status, "message": "no"}))
    with pytest.raises(RequestRejected) as caught:
        h.client.create_task(image_url="https://e.com/a.jpg", enhancement_type=1)
    assert len(h.server.requests) == 1
    assert not caught.value.details.get("request_may_have_been_processed")
