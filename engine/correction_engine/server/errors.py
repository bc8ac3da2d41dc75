"""Errors a storage, queue or task backend raises when it cannot be reached, whatever the home.

The local backends never raise them; the remote ones (``correction_engine.aws``) translate
their SDK's errors into these, so the service answers a create with 429 or 500 and a worker
hands the task back to its queue, without either knowing which cloud is behind the interface.
"""

from __future__ import annotations


class BackendUnavailable(Exception):
    """A backend call failed for a reason that may pass (network, throttling, a service error).

    ``throttled`` is True when the backend asked us to slow down: the client is told 429 with
    Retry-After rather than 500, because retrying later is exactly what it should do.
    """

    def __init__(self, message: str, *, throttled: bool = False):
        super().__init__(message)
        self.throttled = throttled
