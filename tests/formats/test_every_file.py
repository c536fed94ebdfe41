"""Every file of the shared test data gets a defined outcome: a series, or a clear refusal.

The family tests check values; this one walks the whole folder the way ``cellstore ingest``
would meet it, so that a new file, or a reader that starts raising something other than
:class:`FormatError`, is noticed at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cellstore.formats.base import FormatError
from cellstore.formats.detect import UnknownFormat, detect
from cellstore.formats.normalise import normalise
from tests.formats.conftest import TESTDATA

#: Files that come beside a data file and are not a series themselves.
COMPANIONS = ("_Metadata.csv", "_metadata.csv", ".mpl", ".ftr")
#: Files that hold no data rows, on purpose.
EMPTY = {"yadg_wait.mpr", "yadg_wait.mpt", "fastnda_empty.ndax"}


def data_files() -> list[Path]:
    if not TESTDATA.is_dir():
        return []
    return sorted(
        path
        for path in TESTDATA.rglob("*")
        if path.is_file()
        and path.name != "MANIFEST.md"
        and not {"references", "reference"} & set(path.relative_to(TESTDATA).parts)
    )


@pytest.mark.parametrize("path", data_files(), ids=lambda path: str(path.relative_to(TESTDATA)))
def test_the_file_is_read_or_refused_in_words(path: Path) -> None:
    if path.name.endswith(COMPANIONS):
        with pytest.raises(UnknownFormat, match="Supported formats"):
            detect(path)
        return
    reader = detect(path)
    if path.name in EMPTY:
        with pytest.raises(FormatError, match="no data rows"):
            normalise(reader.read(path))
        return
    series = normalise(reader.read(path))
    assert series.frame.height > 0
    assert {"Step count"} <= set(series.frame.columns)
    assert series.test_setup["format"] == reader.family


def test_the_test_data_is_there_to_walk() -> None:
    if not TESTDATA.is_dir():
        pytest.skip(f"real instrument files not found at {TESTDATA}")
    assert len(data_files()) >= 70
