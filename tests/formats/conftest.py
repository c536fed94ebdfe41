"""Where the real instrument files live (shared test data, never copied into the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTDATA = Path(os.environ.get("CELLSTORE_TESTDATA", "/work/shared/testdata"))


@pytest.fixture
def testdata() -> Path:
    if not TESTDATA.is_dir():
        pytest.skip(f"real instrument files not found at {TESTDATA} (set CELLSTORE_TESTDATA)")
    return TESTDATA
