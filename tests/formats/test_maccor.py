"""MaccorTextReader: real files parse, normalise and process, with the manifest's row count."""

from __future__ import annotations

import pytest

from cellstore.formats.families.maccor import MaccorTextReader
from tests.formats.text_files import (
    assert_matches_cellpy,
    check_real_file,
    files_of,
)

READER = MaccorTextReader()


@pytest.mark.parametrize("name", files_of("maccor_txt"))
def test_real_file(testdata, tmp_path, name):
    check_real_file(READER, testdata, tmp_path, name)


def test_values_match_cellpy(testdata):
    raw = READER.read(testdata / "maccor_txt" / "cellpy_maccor_001.txt")
    assert_matches_cellpy(raw.frame, testdata / "references/cellpy_goldens/loader_maccor_txt/raw.parquet")
    assert raw.protocol == {"name": "M50_Validation.000"}


def test_milli_unit_export_is_scaled(testdata):
    frame = READER.read(testdata / "maccor_txt" / "cellpy_maccor_three.txt").frame
    assert 1.0 < frame["Voltage [V]"].median() < 5.0
