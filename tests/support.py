"""Helpers the tests share: tenants, HTTP sessions and clients against a live cellstore."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from cellstore.core.database import run_in_transaction
from cellstore.core.settings import Settings

#: The shared instrument files (never copied into the repository).
TESTDATA = Path(os.environ.get("CELLSTORE_TESTDATA", "/work/shared/testdata"))
#: An Arbin export that writes its clock as local time without a zone (2024-09-20 08:32:34.558).
LOCAL_CLOCK_FILE = TESTDATA / "arbin_csv" / "pyprobe_sample_data_arbin.csv"


@dataclass(frozen=True)
class Tenant:
    """An organization made for one test: its admin's key and default project."""

    organization_id: str
    project_id: str
    user_id: str
    api_key: str


@dataclass
class LiveServer:
    """A running ``cellstore serve`` and the settings of its database."""

    url: str
    settings: Settings
    backend: str

    def run(self, work: Any) -> Any:
        """Run an async ``work(session)`` against the server's database, committed."""
        return run_in_transaction(self.settings.async_database_url, work)

    def new_tenant(self, org_name: str = "Test organization") -> Tenant:
        from cellstore.accounts.service import bootstrap_tenant

        created = self.run(lambda s: bootstrap_tenant(s, org_name))
        return Tenant(
            created["organization_id"], created["project_id"], created["user_id"], created["api_key"]
        )

    def http(self, api_key: str | None = None, **headers: str) -> Api:
        return Api(self.url, api_key, headers)

    def client(self, tenant: Tenant, **kwargs: Any) -> Any:
        from ionworks import Ionworks

        kwargs.setdefault("project_id", tenant.project_id)
        return Ionworks(api_key=tenant.api_key, api_url=self.url, **kwargs)


class Api(requests.Session):
    """A requests session bound to the server, sending the client's usual headers."""

    def __init__(self, base_url: str, api_key: str | None, headers: dict[str, str]) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers.update({"Content-Type": "application/json", "Accept": "application/json"})
        if api_key:
            self.headers["X-API-Key"] = api_key
        self.headers.update(headers)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return super().request(method, f"{self.base_url}{url!s}", *args, **kwargs)


def assert_error(response: requests.Response, status: int, error_code: str | None = None) -> dict[str, Any]:
    """The response is the standard error body with this status (and code)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error_code", "message", "detail"}, body
    assert isinstance(body["message"], str) and body["message"]
    if error_code is not None:
        assert body["error_code"] == error_code, body
    return body
