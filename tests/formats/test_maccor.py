"""MaccorTextReader: real files parse, normalise and process, with the manifest's row count."""

from __future__ import annotations

import pytest

from cellstore.formats.base import FormatError
from cellstore.formats.families.maccor import MaccorTextReader
from cellstore.formats.normalise import normalise
from tests.formats.text_files import MANIFEST_ROWS, assert_matches_cellpy, files_of, read_and_process

READER = MaccorTextReader()


@pytest.mark.parametrize("name", files_of("maccor_txt"))
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
    raw = READER.read(testdata / "maccor_txt" / "cellpy_maccor_001.txt")
    assert_matches_cellpy(raw.frame, testdata / "references/cellpy_goldens/loader_maccor_txt/raw.parquet")
    assert raw.protocol == {"name": "M50_Validation.000"}


def test_milli_unit_export_is_scaled(testdata):
    frame = READER.read(testdata / "maccor_txt" / "cellpy_maccor_three.txt").frame
    assert 1.0 < frame["Voltage [V]"].median() < 5.0
