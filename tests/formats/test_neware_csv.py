"""NewareCsvReader: real files parse, normalise and process, with the manifest's row count."""

from __future__ import annotations

import pytest

from cellstore.formats.families.neware_csv import NewareCsvReader
from tests.formats.text_files import (
    assert_matches_cellpy,
    check_real_file,
    files_of,
)

READER = NewareCsvReader()


@pytest.mark.parametrize("name", files_of("neware_csv"))
def test_real_file(testdata, tmp_path, name):
    check_real_file(READER, testdata, tmp_path, name)


def test_values_match_cellpy(testdata):
    raw = READER.read(testdata / "neware_csv" / "cellpy_neware_uio.csv")
    assert_matches_cellpy(raw.frame, testdata / "references/cellpy_goldens/loader_neware_txt/raw.parquet")
