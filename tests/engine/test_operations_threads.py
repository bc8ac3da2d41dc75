"""The worker's native thread pools: BLAS runs one thread per process once operations run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

_BLAS_THREADS_AROUND_A_TASK = """
import json
import numpy as np
from threadpoolctl import threadpool_info
from correction_engine import operations

def blas_threads():
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

before = blas_threads()
image = np.zeros((16, 16, 3), np.uint8)
operations.run_enhancement(image, 0, {0: lambda pixels: pixels})
print(json.dumps({"before": before, "after": blas_threads()}))
"""


def test_blas_runs_single_threaded_once_an_operation_has_run():
    # Two BLAS threads by default (as on any multi-core worker), whatever this machine has;
    # a fresh process because the limit is process-wide and set once.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", _BLAS_THREADS_AROUND_A_TASK],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    threads = json.loads(done.stdout)
    assert threads["before"] and all(n == 2 for n in threads["before"])
    assert threads["after"] == [1] * len(threads["before"])
