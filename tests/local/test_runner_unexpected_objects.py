"""Issue 10 item 4: the local runner never crashes on an object it does not expect in the
destination bucket; it reports it and writes its summary anyway."""

from __future__ import annotations

import json

import pytest

from correction_local.inputs import InputFile
from correction_local.runner import RunConfig, run_local
from correction_local.samples import make_samples

pytestmark = [pytest.mark.slow]

# Objects nobody of ours writes: a photo and a non-record under the failure prefix, a record
# without a source, an object that names no source, and a key that climbs out of its folder.
PLANTED = {
    "failures/holiday.jpg": b"\xff\xd8\xff\xe0 not a record",
    "failures/list.json": b"[1, 2, 3]",
    "failures/nosource.json": json.dumps({"reason": "task_failed"}).encode(),
    "results/stray.jpg": b"\xff\xd8\xff\xe0 planted by hand",
    "results/../../outside.jpg": b"escape attempt",
}


def test_unexpected_destination_objects_are_reported_and_the_summary_is_written(tmp_path):
    (sample,) = make_samples(["broken-truncated.jpg"])  # refused at submit: no engine work
    inputs = [InputFile(name="failures/" + sample.name, body=sample.body, expect="failure")]

    def plant(api_base_url, local):
        s3 = local.client("s3")
        for key, body in PLANTED.items():
            s3.put_object(Bucket=local.destination_bucket, Key=key, Body=body)

    run = run_local(RunConfig(output=tmp_path, gallery=False), inputs, on_ready=plant)

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["unexpected"]) == set(PLANTED)
    assert summary["counts"]["failure"] == 1 and summary["lost"] == []
    assert run.images[0].source_key == "incoming/failures/broken-truncated.jpg"
    assert not (tmp_path.parent / "outside.jpg").exists()
