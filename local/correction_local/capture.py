"""What a local run borrows from the process and gives back: the log streams and the environment."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path


@contextmanager
def logs_to(path: Path) -> Iterator[None]:
    """Send the handlers' structured logs (and any library warnings) to ``path``, not the terminal.

    The Powertools Logger and Metrics write JSON lines to stdout, as in Lambda; here they would
    tear the progress bar apart, so they go to ``pipeline.log`` in the output folder for the
    duration (stdout included: callers that draw on the terminal must hold their own stream).
    """
    from correction_core.observability import SERVICE

    with open(path, "a", encoding="utf-8") as sink:
        service = logging.getLogger(SERVICE)
        swapped = []
        for handler in service.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                swapped.append((handler, handler.setStream(sink)))
        root_handler = logging.StreamHandler(sink)
        root_handler.setLevel(logging.WARNING)
        root_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(root_handler)
        logging.captureWarnings(True)  # e.g. Powertools' warnings go to the log, not over the bar
        try:
            # Powertools Metrics prints its EMF lines (as Lambda would, for CloudWatch to pick up).
            with redirect_stdout(sink):
                yield
        finally:
            logging.captureWarnings(False)
            logging.getLogger().removeHandler(root_handler)
            for handler, previous in swapped:
                handler.setStream(previous)


@contextmanager
def preserved_environment() -> Iterator[None]:
    """build_stack writes the functions' variables into os.environ; put them back afterwards."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
