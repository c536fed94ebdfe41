"""The web interface's files over plain HTTP: served at / and /static/, open, shipped in the package."""

from __future__ import annotations

from cellstore.web.router import STATIC_FILES
from tests.support import LiveServer, assert_error


def test_root_answers_the_page_without_credentials(web_server: LiveServer) -> None:
    with web_server.http() as anonymous:
        response = anonymous.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>cellstore</title>" in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_static_files_are_served_with_their_types(web_server: LiveServer) -> None:
    with web_server.http() as anonymous:
        script = anonymous.get("/static/js/main.js")
        style = anonymous.get("/static/app.css")
        plotting = anonymous.get("/static/vendor/uPlot.iife.min.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert plotting.status_code == 200 and "uPlot" in plotting.text


def test_only_shipped_files_are_served(web_server: LiveServer) -> None:
    with web_server.http() as anonymous:
        for path in ("/static/missing.js", "/static/../router.py", "/static/%2e%2e/router.py", "/static/"):
            assert_error(anonymous.get(path), 404, "NOT_FOUND")


def test_every_asset_the_page_names_ships_in_the_package() -> None:
    assert {"index.html", "app.css", "js/main.js", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"} <= set(
        STATIC_FILES
    )


def test_the_api_is_not_shadowed(web_server: LiveServer) -> None:
    with web_server.http() as anonymous:
        assert anonymous.get("/healthz").json()["status"] == "ok"
        assert_error(anonymous.get("/projects"), 401)
