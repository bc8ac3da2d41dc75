"""Event parsing, key decoding, result naming and per-object options, from the committed events."""

import json
from pathlib import Path

import pytest

from correction_core.errors import InvalidOption
from correction_core.objects import (
    NotAnUploadEvent,
    ObjectRef,
    failure_key,
    refs_from_notification,
    result_key,
    skip_reason,
)
from correction_core.options import resolve_options
from correction_core.settings import Settings, SettingsError

EVENTS = Path(__file__).resolve().parents[2] / "events"
SETTINGS = Settings(destination_bucket="dest", source_prefix="incoming/", destination_prefix="out/")


def body_of(name: str) -> dict:
    return json.loads(json.loads((EVENTS / name).read_text())["Records"][0]["body"])


def test_s3_notification_key_is_url_decoded():
    (ref,) = refs_from_notification(body_of("submit-s3-notification.json"))
    assert ref.key == "incoming/receipts/March 2026 été + tax.jpg"
    assert ref.version_id == "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"
    assert ref.bucket == "local-photos-source"


def test_eventbridge_event_is_understood():
    (ref,) = refs_from_notification(body_of("submit-eventbridge.json"))
    assert ref.key == "incoming/products/red shoe.png"
    assert ref.size == 52011


def test_test_event_is_not_an_upload():
    with pytest.raises(NotAnUploadEvent):
        list(refs_from_notification(body_of("submit-s3-test-event.json")))


@pytest.mark.parametrize(
    ("key", "fmt", "expected"),
    [
        ("incoming/a/photo.HEIC.jpeg", "png", "out/a/photo.HEIC.jpeg.png"),
        ("incoming/scan", "jpeg", "out/scan.jpg"),
        ("incoming/.hidden", "jpeg", "out/.hidden.jpg"),
        ("incoming/dir/été plage+1.tif", "jpeg", "out/dir/été plage+1.tif.jpg"),
    ],
)
def test_result_key_keeps_the_whole_relative_name_and_adds_the_real_extension(key, fmt, expected):
    assert result_key(ObjectRef("src", key), SETTINGS, fmt) == expected


def test_failure_key_is_one_per_source_object():
    assert failure_key(ObjectRef("src", "incoming/a/b.jpg", "v1"), SETTINGS) == "failures/a/b.jpg.json"


@pytest.mark.parametrize(
    ("ref", "skipped"),
    [
        (ObjectRef("src", "incoming/folder/"), True),
        (ObjectRef("src", "elsewhere/x.jpg"), True),
        (ObjectRef("dest", "incoming/x.jpg"), True),
        (ObjectRef("src", "incoming/x.jpg"), False),
    ],
)
def test_skip_rules(ref, skipped):
    assert (skip_reason(ref, SETTINGS) is not None) is skipped


def test_execution_name_is_deterministic_valid_and_version_specific():
    a = ObjectRef("src", "incoming/ünïcødé name with spaces" + "x" * 200 + ".jpg", "v1")
    b = ObjectRef("src", a.key, "v2")
    assert a.execution_name() == ObjectRef("src", a.key, "v1").execution_name()
    assert a.execution_name() != b.execution_name()
    assert len(a.execution_name()) <= 80
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in a.execution_name())


def test_options_from_metadata_override_defaults():
    options = resolve_options({"Correction-Type": "4", "correction-return-type": "2"}, SETTINGS)
    assert (options.enhancement_type, options.return_type, options.source_mode) == (4, 2, "url")
    assert resolve_options({}, SETTINGS).enhancement_type == SETTINGS.default_type


@pytest.mark.parametrize(
    "metadata",
    [
        {"correction-type": "5"},
        {"correction-type": "-1"},
        {"correction-type": "two"},
        {"correction-return-type": "3"},
        {"correction-source-mode": "ftp"},
    ],
)
def test_out_of_range_options_are_errors(metadata):
    with pytest.raises(InvalidOption) as info:
        resolve_options(metadata, SETTINGS)
    assert info.value.code == "option_out_of_range"


def test_settings_refuse_long_presigned_urls_and_sync_only_return_type():
    with pytest.raises(SettingsError):
        Settings(presign_seconds=3600)
    with pytest.raises(SettingsError):
        Settings(default_return_type=3)
    assert Settings.from_env({"SOURCE_PREFIX": "/in", "RESULT_HOSTS": "a.com, .b.com"}).source_prefix == "in/"


def test_notifications_without_optional_fields_still_parse():
    body = body_of("submit-s3-notification.json")
    for field in ("versionId", "sequencer", "size", "eTag"):
        del body["Records"][0]["s3"]["object"][field]
    (ref,) = refs_from_notification(body)
    assert ref.key == "incoming/receipts/March 2026 été + tax.jpg" and ref.version_id is None
