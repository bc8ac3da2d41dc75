"""Every command line says its version, explains its options, and fails plainly (issue 13)."""

from __future__ import annotations

import argparse
from importlib.metadata import version

import pytest

from correction_engine import cli as engine_cli
from correction_local import cli as local_cli
from correction_ops import cli as ops_cli

INSTALLED = version("photo-correction-pipeline")


@pytest.mark.parametrize(
    ("main", "prog"),
    [
        (engine_cli.main, "correction-engine"),
        (local_cli.main, "correction-local"),
        (ops_cli.main, "correction-ops"),
    ],
)
def test_every_cli_prints_the_installed_version(main, prog, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"{prog} {INSTALLED}"


def _actions(parser: argparse.ArgumentParser, command: str) -> list[argparse.Action]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [a for a in sub.choices[command]._actions if not isinstance(a, argparse._HelpAction)]


def test_engine_process_and_fault_options_have_help_text():
    parser = engine_cli.build_parser()
    process = _actions(parser, "process")
    assert {a.dest for a in process} >= {"input", "type", "output"}
    assert all(a.help for a in process), [a.dest for a in process if not a.help]
    faults = [a for a in _actions(parser, "serve") if a.dest.startswith("fault_")]
    assert len(faults) >= 10
    assert all(a.help for a in faults), [a.dest for a in faults if not a.help]


def test_ops_describes_itself_in_plain_words(capsys):
    with pytest.raises(SystemExit):
        ops_cli.main(["--help"])
    out = capsys.readouterr().out
    assert "redrive" in out.lower() and "``" not in out


def test_ops_without_a_region_says_so_in_one_line_and_exits_2(monkeypatch, tmp_path, capsys):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    assert ops_cli.main(["redrive", "--stack", "photo-correction"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "region" in err
