"""The web interface in a real browser (Debian's Chromium, headless, through Playwright).

Each test signs in as a fresh organization; full-page screenshots of the main pages are kept
in tests/web/artifacts/ (or CELLSTORE_SCREENSHOT_DIR).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import LOCAL_CLOCK_FILE, Api, LiveServer, Tenant
from tests.web.conftest import DESKTOP, PHONE, Cell, S3Server, new_tenant, shoot, sign_in
from tests.web.data import cycling_series, png_bytes

# Pixels of a plot's canvas close to one series colour: the line is really drawn, not only axes.
COUNT_COLOURED_PIXELS = """([selector, rgb]) => {
  const canvas = document.querySelector(selector + " canvas");
  if (!canvas) return -1;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 128 && Math.abs(data[i] - rgb[0]) < 40 && Math.abs(data[i + 1] - rgb[1]) < 40
        && Math.abs(data[i + 2] - rgb[2]) < 40) count += 1;
  }
  return count;
}"""
BLUE = [31, 95, 191]  # the first series (voltage; discharge capacity; charge dQ/dV)
ORANGE = [217, 72, 15]  # the second series (current)
RATED_2_5_AH = {"capacity": {"value": 2.5, "unit": "A.h"}}
NO_HORIZONTAL_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


def drawn(page: Any, selector: str, rgb: list[int], at_least: int = 50) -> None:
    """Wait until the plot's canvas shows the series colour (polled from here: the page's CSP
    forbids the eval that page.wait_for_function would use)."""
    page.wait_for_selector(f"{selector} canvas")
    deadline = time.monotonic() + 20
    while (count := page.evaluate(COUNT_COLOURED_PIXELS, [selector, rgb])) < at_least:
        assert time.monotonic() < deadline, f"{selector}: {count} pixels of {rgb}"
        page.wait_for_timeout(100)


def open_measurement(page: Any, cell: Cell) -> None:
    page.goto(f"/#/measurements/{cell.measurement_id}")
    page.wait_for_selector("#measurement-name")


def test_a_wrong_key_is_refused_in_words(page: Any) -> None:
    page.goto("/")
    page.wait_for_selector("#signin")
    shoot(page, "01-sign-in")
    page.fill("#api-key", "cs_not-a-key")
    page.click("#signin button[type=submit]")
    error = page.locator("#signin-error")
    error.wait_for()
    assert "not accepted" in error.inner_text()
    assert page.evaluate("sessionStorage.getItem('cellstore.apiKey')") is None
    shoot(page, "02-wrong-key")


def test_sign_in_browse_to_a_plotted_measurement(page: Any, web_tenant: Tenant, cell: Cell) -> None:
    sign_in(page, web_tenant.api_key)
    assert "Battery lab" in page.locator("#who-name").inner_text()
    shoot(page, "03-projects")

    page.click("text=Default project")
    page.wait_for_selector("td:has-text('NMC811 21700')")
    assert "capacity 0.35 A.h" in page.locator("table").first.inner_text()
    page.wait_for_selector("td:has-text('Cycle ageing')")
    shoot(page, "04-project")

    page.click("a:text-is('NMC811 21700')")
    page.wait_for_selector("h1:text-is('NMC811 21700')")
    page.wait_for_selector("td a:text-is('SN-0001')")
    assert "voltage max" in page.locator("table.compact").inner_text()
    shoot(page, "05-specification")

    page.click("a:text-is('SN-0001')")
    page.wait_for_selector("h1:text-is('SN-0001')")
    page.wait_for_selector("td a:text-is('Cycle ageing')")
    shoot(page, "06-cell")

    page.click("a:text-is('Cycle ageing')")
    page.wait_for_selector("#measurement-name")
    drawn(page, "#plot-timeseries", BLUE)
    drawn(page, "#plot-timeseries", ORANGE)
    assert "rows" in page.locator(".plot-info").inner_text()
    drawn(page, "[data-plot=Capacity]", ORANGE, at_least=20)
    drawn(page, "[data-plot=Retention]", BLUE, at_least=20)
    drawn(page, "#plot-dqdv", BLUE)
    assert page.locator("#plot-dqdv select, select[name=cycle] option").count() == 3
    steps = page.locator("#steps tbody tr")
    assert steps.count() == 12
    assert "Constant current discharge" in page.locator("#steps").inner_text()
    assert "CC 1A" in page.locator("text=Protocol").first.locator("xpath=..").inner_text()
    shoot(page, "07-measurement")

    # Zoom: drag across the plot; the window is fetched again and drawn.
    over = page.locator("#plot-timeseries .u-over")
    box = over.bounding_box()
    with page.expect_response(lambda r: "/series?" in r.url and "start=" in r.url):
        page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2, steps=5)
        page.mouse.up()
    page.wait_for_selector(".plot-info:has-text('in this window')")
    drawn(page, "#plot-timeseries", BLUE)


def test_search_finds_measurements_by_notes_and_tags(page: Any, web_tenant: Tenant, cell: Cell) -> None:
    sign_in(page, web_tenant.api_key)
    page.fill("#search input", "three cycles")
    page.press("#search input", "Enter")
    page.wait_for_selector("td a:text-is('Cycle ageing')")
    shoot(page, "08-search")
    page.fill("main input[name=q]", "nothing like this")
    page.wait_for_selector("td.empty")


def test_tags_name_and_notes_are_edited_and_persist(
    page: Any, web_tenant: Tenant, cell: Cell, web_api: Api
) -> None:
    sign_in(page, web_tenant.api_key)
    open_measurement(page, cell)
    page.fill("input[name=tag]", "rpt")
    page.click("text=Add tag")
    page.wait_for_selector("#tag-list .tag[data-tag='rpt']")
    page.fill("input[name=tag]", "25degC")
    page.press("input[name=tag]", "Enter")
    page.wait_for_selector("#tag-list .tag[data-tag='25degC']")
    assert sorted(web_api.get(f"/cell_measurements/{cell.measurement_id}").json()["tags"]) == [
        "25degC",
        "rpt",
    ]

    page.click("[aria-label='Remove tag 25degC']")
    page.wait_for_selector("#tag-list .tag[data-tag='25degC']", state="detached")
    assert web_api.get(f"/cell_measurements/{cell.measurement_id}").json()["tags"] == ["rpt"]

    page.click("button:text-is('Edit')")
    page.fill("form[aria-label='Edit measurement'] input[name=name]", "Cycle ageing 25 °C")
    page.fill("form[aria-label='Edit measurement'] textarea", "moved to chamber 2")
    page.click("form[aria-label='Edit measurement'] button:text-is('Save')")
    page.wait_for_selector("#measurement-name:text-is('Cycle ageing 25 °C')")
    stored = web_api.get(f"/cell_measurements/{cell.measurement_id}").json()
    assert (stored["name"], stored["notes"]) == ("Cycle ageing 25 °C", "moved to chamber 2")
    assert page.locator("p.notes").inner_text() == "moved to chamber 2"

    # A tag the server refuses is answered in words on the page.
    page.fill("input[name=tag]", "x" * 50 + "y")
    page.evaluate("document.querySelector('input[name=tag]').removeAttribute('maxlength')")
    page.fill("input[name=tag]", "x" * 60)
    page.click("text=Add tag")
    page.wait_for_selector(".tag-editor .error:not([hidden])")
    assert page.locator(".tag-editor .error").inner_text().strip()


def upload(page: Any, path: Path, name: str) -> None:
    page.set_input_files("#upload-file", str(path))
    page.fill("#upload-name", name)
    page.click("#upload-submit")


def test_upload_a_csv_with_progress_until_ready(
    page: Any, web_tenant: Tenant, cell: Cell, web_api: Api, tmp_path: Path
) -> None:
    csv = tmp_path / "ageing cycle 2.csv"
    cycling_series(cycles=2).write_csv(csv)
    sign_in(page, web_tenant.api_key)
    page.goto(f"/#/instances/{cell.instance['id']}")
    page.click("text=Upload data")
    page.wait_for_selector("#upload-instance option:text-is('SN-0001')", state="attached")
    assert page.locator("#upload-instance").input_value() == cell.instance["id"]
    page.set_input_files("#upload-file", str(csv))
    assert page.locator("#upload-name").input_value() == "ageing cycle 2"
    page.click("#upload-submit")
    page.wait_for_selector("#upload-status [data-status=ready]", timeout=60_000)
    assert page.locator("#upload-progress").evaluate("p => p.value") == 100
    assert "(100 %)" in page.locator("#upload-progress-text").inner_text()
    assert "ready" in page.locator("#upload-stage").inner_text()
    shoot(page, "09-upload-done")

    page.click("#upload-open")
    page.wait_for_selector("#measurement-name:text-is('ageing cycle 2')")
    drawn(page, "#plot-timeseries", BLUE)
    listed = web_api.get(f"/cell_instances/{cell.instance['id']}/cell_measurements").json()["items"]
    uploaded = next(m for m in listed if m["name"] == "ageing cycle 2")
    assert uploaded["processing_status"] == "ready"
    assert uploaded["test_setup"]["format"] == "cellstore_csv"


def test_on_s3_storage_the_page_sends_the_file_straight_to_the_bucket(
    browser: Any, web_s3_server: S3Server, tmp_path: Path
) -> None:
    """The cluster deployment: signed URLs are SeaweedFS's, another origin than the page's."""
    server = web_s3_server.live
    tenant = new_tenant(server, "Cluster lab")
    with server.http(tenant.api_key) as api:
        spec = api.post(
            "/cell_specifications",
            json={"name": "LFP 26650", "project_id": tenant.project_id, "ratings": RATED_2_5_AH},
        ).json()
        instance = api.post(
            f"/cell_specifications/{spec['id']}/cell_instances", json={"name": "SN-0042"}
        ).json()
    context = browser.new_context(viewport=DESKTOP, base_url=server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "PUT" else None)
    try:
        csv = tmp_path / "cluster cycle.csv"
        cycling_series(cycles=2).write_csv(csv)
        sign_in(page, tenant.api_key)
        page.goto(f"/#/upload?instance={instance['id']}")
        page.wait_for_selector("#upload-instance option:text-is('SN-0042')", state="attached")
        upload(page, csv, "cluster cycle")
        page.wait_for_selector("#upload-status [data-status=ready]", timeout=60_000)
        assert sent and all(url.startswith(web_s3_server.s3.endpoint + "/") for url in sent), sent
        page.click("#upload-open")
        page.wait_for_selector("#measurement-name:text-is('cluster cycle')")
        drawn(page, "#plot-timeseries", BLUE)

        # ... and reads files back from it: an image of a file measurement is shown inline.
        image = tmp_path / "cell photo.png"
        image.write_bytes(png_bytes())
        files = server.client(tenant).cell_measurement.create_file(instance["id"], "Teardown", [str(image)])
        page.goto(f"/#/measurements/{files.id}")
        shown = page.locator("img[alt='cell photo.png']")
        assert shown.evaluate("img => img.decode().then(() => img.naturalWidth)") == 48
    finally:
        context.close()
    assert not errors, errors


def test_the_instrument_clock_can_be_this_computer_zone(
    browser: Any, web_server: LiveServer, web_tenant: Tenant, cell: Cell, web_api: Api
) -> None:
    """A cycler writing local time without a zone, uploaded from a lab PC in Berlin."""
    context = browser.new_context(viewport=DESKTOP, base_url=web_server.url, timezone_id="Europe/Berlin")
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        sign_in(page, web_tenant.api_key)
        page.goto(f"/#/upload?instance={cell.instance['id']}")
        page.wait_for_selector("#upload-instance option:text-is('SN-0001')", state="attached")
        assert page.locator("#upload-timezone").input_value() == ""  # UTC unless chosen
        page.select_option("#upload-timezone", "Europe/Berlin")
        assert "this computer" in page.locator("#upload-timezone option:checked").inner_text()
        upload(page, LOCAL_CLOCK_FILE, "Berlin clock")
        page.wait_for_selector("#upload-status [data-status=ready]", timeout=60_000)
    finally:
        context.close()
    listed = web_api.get(f"/cell_instances/{cell.instance['id']}/cell_measurements").json()["items"]
    uploaded = next(m for m in listed if m["name"] == "Berlin clock")
    assert uploaded["start_time"] == "2024-09-20T06:32:34.558000Z"  # 08:32:34.558 CEST
    assert uploaded["test_setup"]["timezone"] == "Europe/Berlin"


def test_an_unreadable_file_is_refused_with_the_reason(
    page: Any, web_tenant: Tenant, cell: Cell, tmp_path: Path
) -> None:
    junk = tmp_path / "scope capture.bin"
    junk.write_bytes(b"\x00\x01 not a cycler file \xff" * 40)
    sign_in(page, web_tenant.api_key)
    page.goto(f"/#/upload?instance={cell.instance['id']}")
    page.wait_for_selector("#upload-instance option:text-is('SN-0001')", state="attached")
    upload(page, junk, "scope")
    error = page.locator("#upload-form .error:not([hidden])")
    error.wait_for()
    text = error.inner_text()
    assert "not a file cellstore can read" in text and "Supported formats" in text
    assert "did not complete" in page.locator("#upload-stage").inner_text()
    shoot(page, "10-upload-refused")


def test_processing_failure_is_shown(
    page: Any, web_tenant: Tenant, cell: Cell, web_api: Api, tmp_path: Path
) -> None:
    """A series without Step count fails processing; the page says why."""
    broken = tmp_path / "no steps.parquet"
    cycling_series(cycles=1).drop("Step count").write_parquet(broken)
    started = web_api.post(
        f"/cell_instances/{cell.instance['id']}/cell_measurements/initiate-upload",
        json={"measurement": {"name": "No steps"}},
    ).json()
    target = next(u for u in started["uploads"] if u["filename"] == "time_series.parquet")
    Api(target["signed_url"], None, {}).put("", data=broken.read_bytes()).raise_for_status()
    web_api.post(
        f"/cell_measurements/{started['measurement_id']}/confirm-upload",
        json={"cell_instance_id": cell.instance["id"], "measurement": {"name": "No steps"}},
    ).raise_for_status()
    sign_in(page, web_tenant.api_key)
    page.goto(f"/#/measurements/{started['measurement_id']}")
    page.wait_for_selector("#status [data-status=failed]", timeout=60_000)
    callout = page.locator("#status-note .callout.error")
    assert "Processing failed" in callout.inner_text()
    assert "Step count" in callout.inner_text()
    shoot(page, "11-processing-failed")


def test_file_and_properties_measurements(
    page: Any, web_server: LiveServer, web_tenant: Tenant, cell: Cell, tmp_path: Path
) -> None:
    image = tmp_path / "cell photo.png"
    image.write_bytes(png_bytes())
    note = tmp_path / "notes.txt"
    note.write_text("swelling 0.2 mm\n")
    client = web_server.client(web_tenant)
    files = client.cell_measurement.create_file(cell.instance["id"], "Teardown", [str(image), str(note)])
    with web_server.http(web_tenant.api_key) as api:
        properties = api.post(
            f"/cell_instances/{cell.instance['id']}/cell_measurements/create",
            json={
                "name": "Incoming inspection",
                "measurement_type": "properties",
                "properties": {"mass": {"value": 68.2, "unit": "g"}, "acir": {"value": 12.5, "unit": "mOhm"}},
            },
        ).json()

    sign_in(page, web_tenant.api_key)
    page.goto(f"/#/measurements/{files.id}")
    page.wait_for_selector("img[alt='cell photo.png']")
    assert (
        page.locator("img[alt='cell photo.png']").evaluate("img => img.decode().then(() => img.naturalWidth)")
        == 48
    )
    assert page.locator("figure.file:has-text('notes.txt') button:text-is('Download')").count() == 1
    shoot(page, "12-file-measurement")

    page.goto(f"/#/measurements/{properties['id']}")
    page.wait_for_selector("#properties")
    rows = [re.sub(r"\s+", " ", r) for r in page.locator("#properties tbody tr").all_inner_texts()]
    assert rows == ["mass 68.2 g", "acir 12.5 mOhm"]
    shoot(page, "13-properties-measurement")


def test_delete_asks_for_confirmation(page: Any, web_tenant: Tenant, cell: Cell, web_api: Api) -> None:
    sign_in(page, web_tenant.api_key)
    open_measurement(page, cell)
    page.click("button.danger:text-is('Delete')")
    dialog = page.locator("dialog#confirm")
    dialog.wait_for()
    assert "Cycle ageing" in dialog.inner_text()
    shoot(page, "14-delete-confirmation")
    dialog.locator("button:text-is('Cancel')").click()
    assert web_api.get(f"/cell_measurements/{cell.measurement_id}").status_code == 200

    page.click("button.danger:text-is('Delete')")
    dialog.locator("#confirm-ok").click()
    page.wait_for_selector("h1:text-is('SN-0001')")
    assert web_api.get(f"/cell_measurements/{cell.measurement_id}").status_code == 404


def test_create_a_specification_and_a_cell_from_the_page(page: Any, web_tenant: Tenant, web_api: Api) -> None:
    sign_in(page, web_tenant.api_key)
    page.click("text=Default project")
    page.click("button:text-is('New specification')")
    form = page.locator("form[aria-label='New cell specification']")
    form.locator("input[name=name]").fill("LFP pouch")
    form.locator("input[name=capacity]").fill("20")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("h1:text-is('LFP pouch')")
    specs = web_api.get("/cell_specifications", params={"project_id": web_tenant.project_id}).json()["items"]
    assert specs[0]["ratings"] == {"capacity": {"value": 20, "unit": "A.h"}}

    page.click("button:text-is('New cell')")
    page.fill("form[aria-label='New cell instance'] input[name=name]", "P-17")
    page.click("form[aria-label='New cell instance'] button[type=submit]")
    page.wait_for_selector("h1:text-is('P-17')")

    # A duplicate name is refused in words.
    page.goto(f"/#/specs/{specs[0]['id']}")
    page.click("button:text-is('New cell')")
    page.fill("form[aria-label='New cell instance'] input[name=name]", "P-17")
    page.click("form[aria-label='New cell instance'] button[type=submit]")
    page.wait_for_selector("form[aria-label='New cell instance'] .error:not([hidden])")


def test_sign_out_forgets_the_key(page: Any, web_tenant: Tenant) -> None:
    sign_in(page, web_tenant.api_key)
    page.click("#signout")
    page.wait_for_selector("#signin")
    assert page.evaluate("sessionStorage.getItem('cellstore.apiKey')") is None
    page.goto("/#/projects")
    page.reload()
    page.wait_for_selector("#signin")


def test_another_organization_sees_none_of_it(
    page: Any, web_server: LiveServer, web_tenant: Tenant, cell: Cell
) -> None:
    other = new_tenant(web_server, "Other lab")
    sign_in(page, other.api_key)
    page.goto(f"/#/measurements/{cell.measurement_id}")
    page.wait_for_selector("main .error")
    assert "Not found" in page.locator("main .error").inner_text()


def test_phone_sized_pages_do_not_overflow(
    browser: Any, web_server: LiveServer, web_tenant: Tenant, cell: Cell
) -> None:
    context = browser.new_context(viewport=PHONE, base_url=web_server.url, is_mobile=True, has_touch=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        sign_in(page, web_tenant.api_key)
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW)
        shoot(page, "20-phone-projects")
        page.goto(f"/#/projects/{web_tenant.project_id}")
        page.wait_for_selector("td:has-text('Cycle ageing')")
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW)
        shoot(page, "21-phone-project")
        open_measurement(page, cell)
        drawn(page, "#plot-timeseries", BLUE)
        page.wait_for_selector("#steps")
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW)
        shoot(page, "22-phone-measurement")
        page.goto(f"/#/upload?instance={cell.instance['id']}")
        page.wait_for_selector("#upload-instance option:text-is('SN-0001')", state="attached")
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW)
        shoot(page, "23-phone-upload")
    finally:
        context.close()


RAW_CYCLER_FILE = (
    Path(os.environ.get("CELLSTORE_TESTDATA", "/work/shared/testdata"))
    / "neware_ndax"
    / "aurora_nw4-120-6-1-36.ndax"
)


def test_from_a_raw_cycler_file_to_a_tagged_plot(page: Any, web_tenant: Tenant, web_api: Api) -> None:
    """The issue's story: a new organization, a specification and a cell made on the upload page,
    a Neware file uploaded, plotted and tagged, without leaving the browser."""
    if not RAW_CYCLER_FILE.is_file():
        pytest.skip(f"real instrument file not found at {RAW_CYCLER_FILE} (set CELLSTORE_TESTDATA)")
    sign_in(page, web_tenant.api_key)
    page.click("#topnav >> text=Upload")
    page.wait_for_selector(
        "#upload-spec option:text-is('No specifications yet: create one')", state="attached"
    )
    page.click("button:text-is('New specification')")
    page.fill("form[aria-label='New cell specification'] input[name=name]", "Coin cell")
    page.fill("form[aria-label='New cell specification'] input[name=capacity]", "0.005")
    page.click("form[aria-label='New cell specification'] button[type=submit]")
    page.wait_for_selector("#upload-spec option:text-is('Coin cell')", state="attached")
    page.click("button:text-is('New cell')")
    page.fill("form[aria-label='New cell instance'] input[name=name]", "nw4-120-6-1-36")
    page.click("form[aria-label='New cell instance'] button[type=submit]")
    page.wait_for_selector("#upload-instance option:text-is('nw4-120-6-1-36')", state="attached")
    page.set_input_files("#upload-file", str(RAW_CYCLER_FILE))
    page.click("#upload-submit")
    page.wait_for_selector("#upload-status [data-status=ready]", timeout=90_000)
    page.click("#upload-open")
    page.wait_for_selector("#measurement-name:text-is('aurora_nw4-120-6-1-36')")
    drawn(page, "#plot-timeseries", BLUE)
    page.fill("input[name=tag]", "formation")
    page.click("text=Add tag")
    page.wait_for_selector("#tag-list .tag[data-tag='formation']")
    shoot(page, "15-raw-cycler-file")
    found = web_api.get(
        "/cell_measurements", params={"project_id": web_tenant.project_id, "q": "formation"}
    ).json()["items"]
    assert [m["name"] for m in found] == ["aurora_nw4-120-6-1-36"]
