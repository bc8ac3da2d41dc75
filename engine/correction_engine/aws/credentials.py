"""Credentials that outlive the result URLs they sign.

S3 refuses a presigned URL once the credentials that signed it expire, whatever its
``X-Amz-Expires`` says. botocore renews temporary credentials (an ECS task role's, an instance
profile's) only in their last 15 minutes, so a URL signed earlier within a set's last hour would
die before its hour. :class:`UrlLifetimeCredentials` asks the session's provider chain for a new
set as soon as the one in hand would expire before a URL signed now (its lifetime plus a margin):
task and instance role sets last hours and new ones are published well before the old ones end,
so the new set normally outlives the URL. Static keys (a user's, the emulator's) never expire and
pass through unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    RefreshableCredentials,
    create_credential_resolver,
)

log = logging.getLogger("correction_engine.aws")

# Beyond the URL's own lifetime: a URL is signed a moment after the check, and S3's clock may
# differ from the container's.
MARGIN_SECONDS = 300.0
# How long a set that cannot outlive a URL (no newer one published yet, or the fetch failed)
# signs before the chain is asked again: one fetch a minute at most, never one per request.
RETRY_SECONDS = 60.0


class UrlLifetimeCredentials(Credentials):
    """The chain's current set, swapped for a new one when it has less than ``needed_seconds``
    left.

    The swap is advisory and never blocks a request: while one thread asks the chain, the others
    sign with the set in hand. Within its own last 15 minutes that set still renews itself the
    way botocore always does (blocking, errors raised), so nothing here is worse than botocore.
    """

    def __init__(
        self,
        current: Credentials,
        load: Callable[[], Credentials | None],
        needed_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        # Not Credentials.__init__: the keys are read from the set in hand at each access.
        self._current = current
        self._load = load
        self._needed = needed_seconds
        self._clock = clock
        self._retry_seconds = retry_seconds
        self._retry_at = float("-inf")
        self._warned: str | None = None  # access key of the set last warned about: one warning a set
        self._lock = threading.Lock()
        self.method = current.method

    def get_frozen_credentials(self) -> Any:
        current = self._current
        if (
            self._too_short(current)
            and self._clock() >= self._retry_at
            and self._lock.acquire(blocking=False)
        ):
            try:
                current = self._renew()
            finally:
                self._lock.release()
        return current.get_frozen_credentials()

    # The signers read frozen credentials; these serve any other reader, the way botocore's do.
    @property
    def access_key(self) -> str:
        return str(self.get_frozen_credentials().access_key)

    @property
    def secret_key(self) -> str:
        return str(self.get_frozen_credentials().secret_key)

    @property
    def token(self) -> str | None:
        return self.get_frozen_credentials().token

    @property
    def account_id(self) -> str | None:
        return self.get_frozen_credentials().account_id

    def _too_short(self, credentials: Credentials) -> bool:
        return isinstance(credentials, RefreshableCredentials) and bool(
            credentials.refresh_needed(self._needed)
        )

    def _renew(self) -> Credentials:
        try:
            fresh = self._load()
        except Exception as exc:  # the endpoint's trouble must not fail a request the set in hand can sign
            # The type only: an endpoint's answer is no place to copy into logs.
            reason = f"fetching a new set failed ({type(exc).__name__})"
        else:
            if fresh is None:
                reason = "the provider chain gave none"
            else:
                # The newest set the chain publishes never expires before an older one.
                self._current = fresh
                if not self._too_short(fresh):
                    log.info("renewed the credentials that sign result URLs")
                    return fresh
                reason = "no newer set is published yet"
        self._retry_at = self._clock() + self._retry_seconds
        # Told apart by access key: the endpoint answers the same set again until it rotates.
        key = str(self._current.get_frozen_credentials().access_key)
        if key != self._warned:
            self._warned = key
            log.warning(
                "the credentials signing result URLs expire in under %d s, so a URL signed now "
                "may stop working before its end (%s); asking for a new set every %d s",
                self._needed,
                reason,
                self._retry_seconds,
            )
        return self._current


class _UrlLifetimeProvider(CredentialProvider):
    """The default chain's credentials, wrapped in :class:`UrlLifetimeCredentials` when they expire."""

    METHOD = "url-lifetime"
    CANONICAL_NAME = "url-lifetime"

    def __init__(self, chain: CredentialResolver, needed_seconds: float, clock: Callable[[], float]):
        super().__init__()
        self._chain = chain
        self._needed = needed_seconds
        self._clock = clock

    def load(self) -> Credentials | None:
        credentials = self._chain.load_credentials()
        if not isinstance(credentials, RefreshableCredentials):
            return credentials  # static keys (or none): nothing expires, nothing to do
        return UrlLifetimeCredentials(
            credentials, self._chain.load_credentials, self._needed, clock=self._clock
        )


def url_signing_session(
    url_lifetime_seconds: float,
    region_name: str | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> boto3.session.Session:
    """A session whose clients sign with credentials that outlive a URL of ``url_lifetime_seconds``
    signed now, whenever the provider chain can give such a set."""
    core = botocore.session.get_session()
    chain = create_credential_resolver(core, region_name=region_name)
    provider = _UrlLifetimeProvider(chain, url_lifetime_seconds + MARGIN_SECONDS, clock)
    core.register_component("credential_provider", CredentialResolver([provider]))
    return boto3.session.Session(botocore_session=core, region_name=region_name)
