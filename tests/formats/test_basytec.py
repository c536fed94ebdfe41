"""BasytecReader: real files parse, normalise and process, with the manifest's row count."""

from __future__ import annotations

import pytest

from cellstore.formats.families.basytec import BasytecReader
from tests.formats.text_files import check_real_file, files_of

READER = BasytecReader()


@pytest.mark.parametrize("name", files_of("basytec"))
def test_real_file(testdata, tmp_path, name):
    check_real_file(READER, testdata, tmp_path, name)
