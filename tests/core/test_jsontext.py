"""JSON text is exact: integers beyond 64 bits survive storage, lists and the polled read."""

from __future__ import annotations

import json

from cellstore.core.jsontext import dumps, loads
from tests.core.test_cache import make_measurement
from tests.support import LiveServer, Tenant

HUGE = 2**70 + 1


def test_integers_beyond_64_bits_round_trip() -> None:
    text = dumps({"serial": HUGE, "label": "x"})
    assert json.loads(text) == {"serial": HUGE, "label": "x"}
    assert loads(text) == {"serial": HUGE, "label": "x"}
    assert isinstance(loads(text)["serial"], int)


def test_ordinary_documents_read_the_same_as_the_standard_library() -> None:
    text = '{"name": "check-up", "t": 25.5, "tags": ["a", "é"], "n": null, "ok": true, "id": 1234567890123}'
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)
    assert json.loads(dumps(json.loads(text))) == json.loads(text)


def test_a_huge_custom_field_comes_back_as_sent(server: LiveServer, tenant: Tenant) -> None:
    http = server.http(tenant.api_key)
    measurement_id = make_measurement(http, tenant)
    path = f"/cell_measurements/{measurement_id}"
    patched = http.patch(path, data=json.dumps({"cycler_serial": HUGE}))
    assert patched.status_code == 200, patched.text
    for _ in range(2):  # from the database, then from the cache
        assert json.loads(http.get(path).text)["cycler_serial"] == HUGE
    instance_id = http.get(path).json()["cell_instance_id"]
    listed = json.loads(http.get(f"/cell_instances/{instance_id}/cell_measurements").text)
    assert [item["cycler_serial"] for item in listed["items"]] == [HUGE]


def test_a_list_row_and_the_single_read_answer_the_same_json(server: LiveServer, tenant: Tenant) -> None:
    """List pages write JSON columns out as stored text; the single read parses them: same answer."""
    http = server.http(tenant.api_key)
    measurement_id = make_measurement(http, tenant)
    path = f"/cell_measurements/{measurement_id}"
    fields = {
        "tags": ["b", "a é"],
        "protocol": {"name": "RPT", "steps": [{"c_rate": 0.5}, None], "ambient_temperature_degc": 25},
        "test_setup": {"cycler": "Neware", "channel_number": 7},
        "notes": "ü\nline two",
        "nested_custom": {"list": [1, 2.5, "x", True, None]},
    }
    assert http.patch(path, json=fields).status_code == 200
    single = http.get(path).json()
    listed = http.get(f"/cell_instances/{single['cell_instance_id']}/cell_measurements").json()["items"]
    assert listed == [single]
