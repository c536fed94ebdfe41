"""PecReader: real files parse, normalise and process, with the manifest's row count."""

from __future__ import annotations

import pytest

from cellstore.formats.base import FormatError
from cellstore.formats.families.pec import PecReader
from cellstore.formats.normalise import normalise
from tests.formats.text_files import MANIFEST_ROWS, assert_matches_cellpy, files_of, read_and_process

READER = PecReader()


@pytest.mark.parametrize("name", files_of("pec"))
def test_real_file(testdata, tmp_path, name):
    folder, rows = MANIFEST_ROWS[name]
    path = testdata / folder / name
    head = path.read_bytes()[:65536]
    assert READER.sniff(head, name) >= 0.5
    if rows == 0:  # an empty test: read fine, refused by normalise with a clear message
        assert READER.read(path).frame.height == 0
        with pytest.raises(FormatError, match="no data rows"):
            normalise(READER.read(path))
        return
    series = read_and_process(READER, path, tmp_path)
    assert series.frame.height == rows


def test_values_match_cellpy(testdata):
    raw = READER.read(testdata / "pec" / "cellpy_pec.csv")
    assert_matches_cellpy(raw.frame, testdata / "references/cellpy_goldens/loader_pec_csv/raw.parquet")
