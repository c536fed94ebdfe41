"""A time series whose parquet is over the client's 16 MiB multipart threshold.

On ``postgresql-s3`` the server offers S3 multipart credentials, so the ``ionworks``
client must upload through SeaweedFS multipart (and not fall back to the single
PUT, which it does silently when the store refuses the credentials). On
``sqlite-local`` no multipart is offered and the same body goes up in one PUT.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from ionworks import _uploads
from polars.testing import assert_frame_equal

from tests.measurements.conftest import MiB, StoreServer, cycling, series_detail, step_type_of

ROWS = 1_600_000
ROWS_PER_STEP = 100_000


def _size(body: Any) -> int:
    if isinstance(body, bytes | bytearray):
        return len(body)
    here = body.tell()
    end = body.seek(0, io.SEEK_END)
    body.seek(here)
    return int(end - here)


@pytest.fixture
def upload_paths(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Records each upload the client makes: ("multipart" | "put", bytes)."""
    seen: list[tuple[str, int]] = []
    multipart, single_put = _uploads._upload_multipart, _uploads.upload_to_signed_url

    def spy_multipart(mp: Any, body: Any, size_bytes: int, **kwargs: Any) -> None:
        seen.append(("multipart", size_bytes))
        multipart(mp, body, size_bytes, **kwargs)

    def spy_single_put(url: str, body: Any, **kwargs: Any) -> None:
        seen.append(("put", _size(body)))
        single_put(url, body, **kwargs)

    monkeypatch.setattr(_uploads, "_upload_multipart", spy_multipart)
    monkeypatch.setattr(_uploads, "upload_to_signed_url", spy_single_put)
    return seen


def test_a_series_over_16_mib_is_uploaded_processed_and_read_back(
    store_server: StoreServer, iw: Any, make_cell: Callable[..., str], upload_paths: list[tuple[str, int]]
) -> None:
    cm = iw.cell_measurement
    frame = cycling(0, ROWS, ROWS_PER_STEP, seed=7)
    bundle = cm.create(make_cell(), series_detail("Long-term cycling", frame, tags=["aging"]))

    assert len(upload_paths) == 1, upload_paths
    path, size = upload_paths[0]
    assert size > 16 * MiB  # noisy data: zstd cannot bring it under the threshold
    assert path == ("multipart" if store_server.offers_multipart else "put")

    mid = bundle.id
    settled = cm.get(mid)
    assert (settled.processing_status, settled.processing_error) == ("ready", None)
    steps = cm.steps(mid)
    n = ROWS // ROWS_PER_STEP
    assert steps["Step type"].to_list() == [step_type_of(i) for i in range(n)]
    assert steps["End index"].to_list()[-1] == ROWS - 1
    for start, stop in ((0, 3), (1_048_000, 1_049_000), (ROWS - 7, ROWS)):
        assert_frame_equal(cm.time_series(mid, row_range=(start, stop)), frame.slice(start, stop - start))
    assert_frame_equal(cm.time_series(mid), frame)
