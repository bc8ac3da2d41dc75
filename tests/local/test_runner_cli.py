"""The local runner's inputs and command line, without running the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from correction_local import cli
from correction_local.inputs import InputError, InputFile, folder_inputs, type_from_name
from correction_local.intake import IntakeStats
from correction_local.outcomes import Outcomes
from correction_local.pipeline import RunReport
from correction_local.runner import ImageOutcome, LocalRun, RunConfig, stack_parameters


def test_folder_inputs_types_from_json_tag_and_run_default(tmp_path):
    (tmp_path / "shoes").mkdir()
    for name in ("receipt.jpg", "shoes/red.jpg", "scan.type1.jpg", "other.png", ".DS_Store"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "types.json").write_text(json.dumps({"receipt.jpg": 0, "shoes/red.jpg": 4}))
    files = {f.name: f for f in folder_inputs(tmp_path, run_type=3)}
    assert set(files) == {"receipt.jpg", "shoes/red.jpg", "scan.type1.jpg", "other.png"}
    assert files["receipt.jpg"].metadata == {"correction-type": "0"}
    assert files["shoes/red.jpg"].enhancement_type == 4
    assert files["scan.type1.jpg"].enhancement_type == 1
    assert files["other.png"].enhancement_type == 3
    untyped = {f.name: f for f in folder_inputs(tmp_path)}
    assert untyped["other.png"].metadata == {}  # the template's DefaultType applies


def test_folder_inputs_refuse_bad_types(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "types.json").write_text(json.dumps({"a.jpg": 7}))
    with pytest.raises(InputError):
        folder_inputs(tmp_path)
    (tmp_path / "types.json").write_text(json.dumps({"missing.jpg": 1}))
    with pytest.raises(InputError, match="missing.jpg"):
        folder_inputs(tmp_path)
    with pytest.raises(InputError):
        type_from_name("x.type9.jpg")
    assert type_from_name("x.type2.jpg") == 2 and type_from_name("type2.jpg") is None


def test_parameters_for_the_engine_and_for_the_vendor():
    local = stack_parameters(RunConfig(poll_interval=2, enhancement_type=0), "http://127.0.0.1:5000")
    assert local["SourceMode"] == "file"
    assert (local["ResultHosts"], local["AllowHttpResults"]) == ("127.0.0.1", "true")
    assert (local["PollIntervalSeconds"], local["PollCapSeconds"], local["DefaultType"]) == ("2", "30", "0")
    assert local["ApiQps"] == "0"  # the engine runs without a rate limit, so no budget either
    assert stack_parameters(RunConfig(qps=2), "http://127.0.0.1:5000")["ApiQps"] == "2"
    # Keys are uploaded under the prefix exactly as the functions will read it back.
    assert stack_parameters(RunConfig(source_prefix="/inbox"), "http://x")["SourcePrefix"] == "inbox/"
    vendor = stack_parameters(
        RunConfig(api_base_url="https://techhk.aoscdn.com"), "https://techhk.aoscdn.com"
    )
    assert (vendor["ResultHosts"], vendor["AllowHttpResults"], vendor["SourceMode"]) == (
        ".aoscdn.com",
        "false",
        "file",
    )
    assert "DefaultType" not in vendor and "ApiQps" not in vendor  # the template's 2, the vendor's default


def _fake_run(tmp_path: Path, outcomes: list[str]) -> LocalRun:
    images = [
        ImageOutcome(
            name=f"{i}.jpg", source_key=f"incoming/{i}.jpg", enhancement_type=2, effective_type=2, outcome=o
        )
        for i, o in enumerate(outcomes)
    ]
    report = RunReport(Outcomes(), [], IntakeStats(), 1.0, [i.source_key for i in images])
    return LocalRun(
        RunConfig(output=tmp_path),
        images,
        report,
        {},
        "http://127.0.0.1:1",
        True,
        1.0,
        tmp_path,
        summary_json=tmp_path / "summary.json",
    )


def test_exit_status_is_nonzero_only_when_an_upload_is_lost(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "sample_inputs", lambda *a, **k: [InputFile("x.jpg", b"x")])
    monkeypatch.setattr(cli, "run_local", lambda *a, **k: _fake_run(tmp_path, ["result", "failure", "lost"]))
    assert cli.main(["run", "--output", str(tmp_path)]) == cli.EXIT_LOST
    monkeypatch.setattr(cli, "run_local", lambda *a, **k: _fake_run(tmp_path, ["result", "failure"]))
    assert cli.main(["run", "--output", str(tmp_path)]) == cli.EXIT_OK


def test_vendor_mode_needs_a_key_and_https(monkeypatch, tmp_path):
    monkeypatch.delenv("CORRECTION_API_KEY", raising=False)
    args = ["run", "--output", str(tmp_path), "--samples", "broken-truncated.jpg", "--api-base-url"]
    assert cli.main([*args, "https://techhk.aoscdn.com"]) == cli.EXIT_USAGE
    monkeypatch.setenv("CORRECTION_API_KEY", "k")
    assert cli.main([*args, "http://techhk.aoscdn.com"]) == cli.EXIT_USAGE


def test_bad_flags_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["run", "--type", "5"])
    with pytest.raises(SystemExit):
        cli.main(["run", "--poll-interval", "0"])
    assert cli.main(["run", "--input", str(tmp_path / "missing")]) == cli.EXIT_USAGE
