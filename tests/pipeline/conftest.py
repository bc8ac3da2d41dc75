"""Fixtures for end-to-end runs: the engine on loopback, and the template's stack in moto.

Every test here runs the real ``statemachine/correction.asl.json`` in moto's Step Functions
interpreter; moto's Lambda invocations run our real handlers in-process (correction_local).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from moto import mock_aws
from PIL import Image

from correction_engine.server.background import run_in_thread
from correction_engine.server.settings import EngineSettings
from correction_local import lambda_bridge
from correction_local.stack import MOTO_CONFIG, LocalStack, build_stack

API_KEY = "pipeline-test-key-5f2c9d1e7a"
SOURCE_PREFIX = "incoming/"


@pytest.fixture
def engine() -> Iterator[Any]:
    # The reliability suite flips the engine's fault knobs at runtime: allowed only when asked at start.
    settings = EngineSettings(api_keys=[API_KEY], rate_limit_qps=0, workers=2, fault_injection=True)
    with run_in_thread(settings) as url:
        yield url


@pytest.fixture
def make_stack(engine: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., LocalStack]]:
    mocks = []

    def make(**parameters: Any) -> LocalStack:
        for name in list(__import__("os").environ):
            if name.startswith(("POWERTOOLS_", "API_", "DESTINATION_", "SOURCE_", "FAILURE_", "DEFAULT_")):
                monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mock = mock_aws(config=MOTO_CONFIG)
        mock.start()
        mocks.append(mock)
        defaults = {
            "ApiBaseUrl": str(engine),
            "SourceMode": "file",
            "ResultHosts": "127.0.0.1",
            "AllowHttpResults": "true",
            "DefaultType": 0,
        }
        return build_stack({**defaults, **parameters}, api_key=API_KEY)

    yield make
    lambda_bridge.uninstall()
    for mock in mocks:
        mock.stop()


def encode(image: np.ndarray, fmt: str = "JPEG", **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
