"""The background-thread helper and the CLI."""

from __future__ import annotations

import io
import threading

import httpx
import numpy as np
import pytest
from PIL import Image

from correction_core import contract
from correction_engine import cli, operations
from correction_engine.server import EngineSettings, run_in_thread
from correction_engine.server.testing import identity, sample_image


def test_helper_yields_a_base_url_with_handles_and_stops_cleanly():
    settings = EngineSettings(api_keys=("k",), operations={1: identity}, rate_limit_qps=0)
    before = threading.active_count()
    with run_in_thread(settings) as url:
        assert isinstance(url, str) and url.startswith("http://127.0.0.1:") and url == url.base_url
        assert url.settings is settings and url.engine is url.app.state.engine
        response = httpx.post(
            f"{url}{contract.CREATE_PATH}",
            headers={contract.API_KEY_HEADER: "k"},
            files={"image_file": ("a.png", sample_image())},
            data={"sync": "1"},
        )
        assert response.json()["data"]["state"] == 1
        assert url.engine.stats.tasks_created("k") == 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_engine/health", timeout=2)
    assert (
        threading.active_count() <= before + 2
    )  # the server thread is gone (idle pool threads may linger briefly)


def test_two_engines_side_by_side_on_distinct_ports():
    settings = EngineSettings(api_keys=("k",))
    with run_in_thread(settings) as first, run_in_thread(EngineSettings(api_keys=("k",))) as second:
        assert first != second
        assert httpx.get(f"{first}/_engine/health").status_code == 200
        assert httpx.get(f"{second}/_engine/health").status_code == 200


def test_invalid_settings_fail_before_a_thread_starts():
    with pytest.raises(ValueError), run_in_thread(EngineSettings(api_keys=())):
        pass


def test_port_in_use_is_reported():
    with run_in_thread(EngineSettings(api_keys=("k",))) as url:
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(OSError), run_in_thread(EngineSettings(api_keys=("k",)), port=port):
            pass


def test_exception_inside_the_block_still_stops_the_server():
    with pytest.raises(RuntimeError, match="inside"), run_in_thread(EngineSettings(api_keys=("k",))) as url:
        raise RuntimeError("inside")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_engine/health", timeout=2)


def test_cli_process_writes_the_result(tmp_path, monkeypatch):
    monkeypatch.setattr(
        operations, "DEFAULT_OPERATIONS", {1: identity, 4: lambda im: np.dstack([im, im[..., 0]])}
    )
    source = tmp_path / "in.png"
    source.write_bytes(sample_image())
    out = tmp_path / "out.jpg"
    assert cli.main(["process", str(source), "--type", "1", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"\xff\xd8\xff")
    png = tmp_path / "out.png"
    assert cli.main(["process", str(source), "--type", "4", "-o", str(png)]) == 0
    with Image.open(io.BytesIO(png.read_bytes())) as img:
        assert img.mode == "RGBA"
    assert (
        cli.main(["process", str(source), "--type", "4", "-o", str(tmp_path / "bad.jpg")]) == 1
    )  # no alpha in JPEG


def test_cli_process_reports_invalid_input(tmp_path, capsys):
    source = tmp_path / "in.gif"
    source.write_bytes(sample_image(fmt="GIF"))
    assert cli.main(["process", str(source), "--type", "1", "-o", str(tmp_path / "o.jpg")]) == 1
    assert "unsupported" in capsys.readouterr().err


def test_cli_serve_requires_a_key(monkeypatch, capsys):
    monkeypatch.delenv("CORRECTION_ENGINE_API_KEYS", raising=False)
    assert cli.main(["serve", "--port", "0"]) == 2
    assert "API key" in capsys.readouterr().err


def test_cli_serve_reads_keys_from_env_and_files(monkeypatch, tmp_path):
    seen = {}

    def fake_run(app, **kwargs):
        seen["keys"] = app.state.settings.api_keys
        seen["qps"] = app.state.settings.rate_limit_qps
        seen.update(kwargs)
        app.state.engine.close()

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setenv("CORRECTION_ENGINE_API_KEYS", "env-1, env-2")
    key_file = tmp_path / "keys"
    key_file.write_text("# one per line\nfile-1\n\nfile-2\n")
    assert cli.main(["serve", "--api-key-file", str(key_file), "--rate-limit", "0", "--port", "9999"]) == 0
    assert seen["keys"] == ("env-1", "env-2", "file-1", "file-2") and seen["qps"] == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 9999
