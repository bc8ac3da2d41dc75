"""The runner's seam to whatever answers the API (correction_local.engine_host)."""

from __future__ import annotations

import httpx
import pytest

from correction_core import contract
from correction_engine.server.testing import sample_image
from correction_local.config import RunConfig, RunnerError
from correction_local.engine_host import ExternalApi, InProcessEngine, host_for, hosted


def test_the_in_process_engine_reports_a_tasks_own_moments_to_its_key_only():
    host = InProcessEngine(RunConfig(engine_workers=1))
    with hosted(host) as endpoint:
        response = httpx.post(
            f"{endpoint.base_url}{contract.CREATE_PATH}",
            headers={contract.API_KEY_HEADER: endpoint.api_key},
            files={"image_file": ("a.png", sample_image())},
            data={"sync": "1"},
            timeout=30,
        )
        task_id = response.json()["data"]["task_id"]
        moments = host.task_timings(task_id)
        assert set(moments) == {"created", "started", "completed"}
        assert moments["created"] <= moments["started"] <= moments["completed"]
        assert host.task_timings("no-such-task") == {}
        other = InProcessEngine(RunConfig())  # another key: the same task is not its to see
        assert other.task_timings(task_id) == {}
    assert host.task_timings(task_id) == {}  # stopped: nothing to ask


def test_the_endpoint_never_prints_its_key():
    host = InProcessEngine(RunConfig())
    with hosted(host) as endpoint:
        assert endpoint.api_key not in repr(endpoint)


def test_an_external_api_is_refused_before_the_run_without_a_key_or_https(monkeypatch):
    monkeypatch.delenv("CORRECTION_API_KEY", raising=False)
    with pytest.raises(RunnerError, match="CORRECTION_API_KEY"):
        host_for(RunConfig(api_base_url="https://techhk.aoscdn.com"))
    monkeypatch.setenv("CORRECTION_API_KEY", "k")
    with pytest.raises(RunnerError, match="https"):
        host_for(RunConfig(api_base_url="http://techhk.aoscdn.com"))
    host = host_for(RunConfig(api_base_url="https://techhk.aoscdn.com/"))
    assert isinstance(host, ExternalApi) and not host.runs_engine
    with hosted(host) as endpoint:
        assert (endpoint.base_url, endpoint.api_key) == ("https://techhk.aoscdn.com", "k")
        assert host.task_timings("any") == {}


def test_a_configured_engine_host_is_used_when_no_api_is_given():
    made: list[RunConfig] = []

    def factory(config: RunConfig) -> InProcessEngine:
        made.append(config)
        return InProcessEngine(config)

    config = RunConfig(engine_host=factory)
    assert isinstance(host_for(config), InProcessEngine) and made == [config]
    assert isinstance(host_for(RunConfig()), InProcessEngine)
