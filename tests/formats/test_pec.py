"""PecReader: real files parse, normalise and process, with the manifest's row count."""

from __future__ import annotations

import pytest

from cellstore.formats.families.pec import PecReader
from tests.formats.text_files import (
    assert_matches_cellpy,
    check_real_file,
    files_of,
)

READER = PecReader()


@pytest.mark.parametrize("name", files_of("pec"))
def test_real_file(testdata, tmp_path, name):
    check_real_file(READER, testdata, tmp_path, name)


def test_values_match_cellpy(testdata):
    raw = READER.read(testdata / "pec" / "cellpy_pec.csv")
    assert_matches_cellpy(raw.frame, testdata / "references/cellpy_goldens/loader_pec_csv/raw.parquet")
