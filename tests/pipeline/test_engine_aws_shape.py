"""The pipeline in front of the engine in its AWS shape: the local runner with ``AwsShapeEngine``
(tasks in DynamoDB, work on SQS, results in S3 of a moto server on loopback, the Lambda worker
fed by an event-source poller), and the pipeline's own stack in moto in this process.

The pipeline fetches each result from the engine's S3 presigned URL over loopback HTTP, as it
would fetch the vendor's; what arrives is measured against the sample's truth.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from correction_local.engine_aws import AwsShapeEngine
from correction_local.inputs import sample_inputs
from correction_local.runner import RunConfig, run_local

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("local-runner")]

SAMPLES = ["product-cutout-busy.jpg", "broken-pixels.png"]  # type 4; a file the API answers -7


def test_the_pipeline_runs_against_the_engine_in_its_aws_shape(tmp_path) -> None:
    inputs = {i.name: i for i in sample_inputs(SAMPLES, scale=0.5)}
    run = run_local(
        RunConfig(output=tmp_path / "out", gallery=False, engine_host=AwsShapeEngine, engine_workers=1),
        list(inputs.values()),
    )
    outcomes = {image.name: image for image in run.images}
    assert {name: o.outcome for name, o in outcomes.items()} == {
        "product-cutout-busy.jpg": "result",
        "broken-pixels.png": "failure",
    }
    assert run.engine_started

    cutout = outcomes["product-cutout-busy.jpg"]
    assert cutout.result_path is not None and cutout.task_id
    result = np.asarray(Image.open(io.BytesIO(cutout.result_path.read_bytes())))
    assert result.shape[2] == 4  # type 4 arrives as a cut-out with alpha
    # The generator's own product mask is the truth: the alpha keeps as many pixels as the
    # product has (a wrong or empty cut-out, or none at all, would not).
    truth = inputs["product-cutout-busy.jpg"].truth
    assert truth is not None
    alpha = result[..., 3] > 127
    assert abs(alpha.sum() / truth.mask.sum() - 1) < 0.05
    # The engine's own moments reached the runner through the host (read from DynamoDB).
    assert cutout.engine_processing_seconds is not None and cutout.engine_processing_seconds > 0

    broken = outcomes["broken-pixels.png"]
    assert broken.task_id, "the broken file reached the engine and failed there, with its task id"


def test_the_engine_shape_needs_the_engine(capsys) -> None:
    from correction_local.cli import main

    assert main(["run", "--engine-shape", "aws", "--api-base-url", "https://techhk.aoscdn.com"]) == 2
    assert "--engine-shape" in capsys.readouterr().out
