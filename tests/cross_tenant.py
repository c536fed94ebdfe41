"""What the tenancy tests share: cases of one organization reaching for another's ids, and
answers compared with the ids taken out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.support import LiveServer


@dataclass(frozen=True)
class Case:
    """A request B sends with A's ids (``{name}`` placeholders), and the answer it must get."""

    method: str
    path: str
    body: Any = None
    label: str = ""
    status: int = 404
    error_code: str = "NOT_FOUND"
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        text = f"{self.method} {self.path}" + (" as A's organization" if self.headers else "")
        return text + (f" [{self.label}]" if self.label else "")


def fill(template: Any, ids: dict[str, str]) -> Any:
    """The template with ``{name}`` placeholders replaced by ids."""
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, ids) for v in template]
    return template


def unfill(value: Any, ids: dict[str, str]) -> Any:
    """Replace the ids in an answer by their placeholder names, so answers about different ids compare."""
    text = json.dumps(value)
    for key, id_ in ids.items():
        text = text.replace(id_, f"<{key}>")
    return json.loads(text)


def canonical(value: Any) -> Any:
    """JSON with lists sorted, so that two snapshots compare by content only."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def ids_in(value: Any) -> set[str]:
    """Every id-shaped string in a JSON answer."""
    return {id_ for id_ in json.dumps(value).split('"') if len(id_) == 36}


def send(server: LiveServer, api_key: str, case: Case, ids: dict[str, str]) -> requests.Response:
    """The case's request, without following redirects (a redirect would already be a leak)."""
    with server.http(api_key, **fill(case.headers, ids)) as http:
        kwargs = {} if case.body is None else {"json": fill(case.body, ids)}
        return http.request(case.method, fill(case.path, ids), allow_redirects=False, **kwargs)
