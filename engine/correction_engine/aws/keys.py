"""The engine's API keys from Secrets Manager, cached with Powertools' parameters utility.

The secret's value is JSON: ``{"api_keys": ["..."], "admin_key": "..."}`` (``admin_key``
optional), plus ``"api_key": "..."``, the one key the stack generates (Secrets Manager can put a
generated string under a key, not in a list; engine/template.yaml). Keys are re-read at most
every ``max_age`` seconds, so a rotated key is accepted without restarting a container; a key
never reaches a log line.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider


class KeySource:
    def __init__(self, secretsmanager: Any, secret_arn: str, max_age: int):
        self._provider = SecretsProvider(boto3_client=secretsmanager)
        self._arn = secret_arn
        self._max_age = max_age

    def _secret(self) -> dict[str, Any]:
        value = self._provider.get(self._arn, max_age=self._max_age, transform="json")
        if not isinstance(value, dict):
            raise ValueError("the engine's key secret must be a JSON object")
        return value

    def api_keys(self) -> tuple[str, ...]:
        secret = self._secret()
        keys = secret.get("api_keys") or []
        if not isinstance(keys, list):
            raise ValueError('the key secret\'s "api_keys" must be a list of strings')
        generated = secret.get("api_key")
        keys = [generated, *keys] if isinstance(generated, str) else keys
        return tuple(dict.fromkeys(str(k) for k in keys if isinstance(k, str) and k))

    def admin_key(self) -> str | None:
        admin = self._secret().get("admin_key")
        return admin if isinstance(admin, str) and admin else None
