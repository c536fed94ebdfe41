"""Fixtures of the browser tests: one real ``cellstore serve`` on SQLite with the web interface,
Debian's Chromium driven by Playwright, a fresh organization per test and its data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import serving
from tests.storage.conftest import SeaweedFS, seaweedfs, serving_on_s3  # noqa: F401 - the fixture is used here
from tests.support import Api, LiveServer, Tenant
from tests.web.data import cycling_series

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CELLSTORE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(os.environ.get("CELLSTORE_SCREENSHOT_DIR", ROOT / "tests" / "web" / "artifacts"))
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``cellstore serve`` on SQLite, as a person would start it."""
    with serving(tmp_path_factory.mktemp("cellstore-web"), "sqlite") as live:
        yield live


@dataclass
class S3Server:
    """A cellstore on S3 storage, and the SeaweedFS behind it."""

    live: LiveServer
    s3: SeaweedFS


@pytest.fixture(scope="module")
def web_s3_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Server]:
    """``cellstore serve`` as a cluster runs it (PostgreSQL, SeaweedFS): the page then sends files
    straight to the S3 endpoint, another origin than its own."""
    weed: SeaweedFS = request.getfixturevalue("seaweedfs")
    data_dir = tmp_path_factory.mktemp("cellstore-web-s3")
    with serving_on_s3(data_dir, weed, request.getfixturevalue("postgres_admin_url")) as live:
        yield S3Server(live, weed)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (Playwright's own download does not work here); skipped without it
    unless CELLSTORE_BROWSER_TESTS=required, as in CI."""
    required = os.environ.get("CELLSTORE_BROWSER_TESTS") == "required"
    problem = None
    try:
        from playwright import sync_api
    except ImportError:
        problem = "the browser tests need the playwright package"
    if not CHROMIUM.exists():
        problem = f"the browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    if problem:
        if required:
            pytest.fail(problem)
        pytest.skip(problem)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, web_server: LiveServer) -> Iterator[Any]:
    """A desktop-sized page (1366x768) on the server, failing the test on any script error."""
    context = browser.new_context(viewport=DESKTOP, base_url=web_server.url)
    context.set_default_timeout(20_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, errors


def new_tenant(server: LiveServer, name: str) -> Tenant:
    """A new organization. In a thread: Playwright's sync API keeps an event loop running in this
    one, and the tenant is made with asyncio.run."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(server.new_tenant, name).result()


@pytest.fixture
def web_tenant(web_server: LiveServer) -> Tenant:
    return new_tenant(web_server, "Battery lab")


@pytest.fixture
def web_api(web_server: LiveServer, web_tenant: Tenant) -> Iterator[Api]:
    with web_server.http(web_tenant.api_key) as session:
        yield session


@dataclass
class Cell:
    """A specification with ratings, one cell of it, and a processed cycling measurement."""

    spec: dict[str, Any]
    instance: dict[str, Any]
    measurement_id: str


@pytest.fixture
def cell(web_server: LiveServer, web_tenant: Tenant, web_api: Api) -> Cell:
    spec = web_api.post(
        "/cell_specifications",
        json={
            "name": "NMC811 21700",
            "project_id": web_tenant.project_id,
            "form_factor": "21700",
            "ratings": {
                "capacity": {"value": 0.35, "unit": "A.h"},
                "voltage_max": {"value": 4.2, "unit": "V"},
            },
        },
    ).json()
    instance = web_api.post(
        f"/cell_specifications/{spec['id']}/cell_instances", json={"name": "SN-0001"}
    ).json()
    client = web_server.client(web_tenant)
    created = client.cell_measurement.create(
        instance["id"],
        {
            "measurement": {
                "name": "Cycle ageing",
                "notes": "three cycles at 1 A",
                "protocol": {"name": "CC 1A"},
            },
            "time_series": cycling_series(),
        },
    )
    return Cell(spec, instance, created.id)


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot kept as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, api_key: str) -> None:
    page.goto("/")
    page.fill("#api-key", api_key)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("h1:text-is('Projects')")
