"""Streaming conversion gives exactly the series of the whole-file path, batch boundaries anywhere.

Every real text export is read in batches of 7 rows (so batches cut steps, cycles and
capacity counters) and normalised batch by batch; the concatenation must equal
``normalise(reader.read(path))`` value for value, with the same ``start_time`` and test
setup. With a tiny sample and tiny chunks the pyarrow chunk parser is used too; there a
file may also turn out not streamable, and :func:`cellstore.formats.stream.convert` must
then still write the same parquet through the whole-file path.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cellstore.formats.base import FormatError
from cellstore.formats.detect import detect
from cellstore.formats.normalise import normalise
from cellstore.formats.stream import NotStreamable, StreamNormaliser, can_stream, convert, normalise_batches
from tests.formats.text_files import MANIFEST_ROWS

STREAMED = sorted(
    name for name, (folder, rows) in MANIFEST_ROWS.items() if rows > 0 and folder not in {"novonix"}
)


def streamed(path: Path, **options) -> tuple[pl.DataFrame, object]:
    reader = detect(path)
    assert can_stream(reader), reader.family
    normaliser = StreamNormaliser()
    frames = list(normalise_batches(reader.read_batches(path, **options), normaliser))
    return pl.concat(frames), normaliser.finish()


@pytest.mark.parametrize("name", STREAMED)
def test_seven_row_batches_equal_the_whole_file(testdata, name):
    folder, _ = MANIFEST_ROWS[name]
    path = testdata / folder / name
    whole = normalise(detect(path).read(path))
    try:
        frame, series = streamed(path, batch_rows=7)
    except NotStreamable as exc:
        if name == "cellpy_nw_regular_export_ife_example.csv":
            return  # the three-level export is read whole
        raise AssertionError(f"{name} should stream: {exc}") from exc
    assert_frame_equal(frame, whole.frame, check_exact=True)
    assert series.start_time == whole.start_time
    assert series.test_setup == whole.test_setup
    assert series.protocol == whole.protocol


@pytest.mark.parametrize("name", STREAMED)
def test_tiny_chunks_stream_or_fall_back_to_the_same_parquet(testdata, name, tmp_path):
    folder, _ = MANIFEST_ROWS[name]
    path = testdata / folder / name
    reader = detect(path)
    whole = normalise(reader.read(path))
    try:
        frame, _ = streamed(path, batch_rows=500, sample_bytes=2048, chunk_bytes=16_384)
    except NotStreamable:
        frame = None
    if frame is not None:
        assert_frame_equal(frame, whole.frame, check_exact=True)
    out = tmp_path / "series.parquet"
    series = convert(reader, path, out)
    assert_frame_equal(pl.read_parquet(out), whole.frame, check_exact=True)
    assert series.start_time == whole.start_time


def arbin(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(
        "Data_Point,Test_Time,Step_Index,Cycle_Index,Current,Voltage,Note\n" + "\n".join(rows) + "\n"
    )
    return path


def test_time_going_backwards_names_the_files_data_row(tmp_path):
    rows = [f"{i},{i},1,1,0.5,3.5,x" for i in range(20)]
    rows[13] = "13,2,1,1,0.5,3.5,x"
    path = arbin(tmp_path, rows)
    with pytest.raises(FormatError) as whole:
        normalise(detect(path).read(path))
    with pytest.raises(FormatError) as batched:
        streamed(path, batch_rows=5)
    assert "data row 13" in str(whole.value)
    assert str(batched.value) == str(whole.value)


def test_a_type_change_after_the_sample_falls_back_to_the_whole_file(tmp_path):
    rows = [f"{i},{i},{1 + i // 50},1,0.5,3.5,{i}" for i in range(3000)]
    rows[2500] = "2500,2500,51,1,0.5,3.5,text"  # the 'Note' column is a number only in the sample
    path = arbin(tmp_path, rows)
    reader = detect(path)
    with pytest.raises(NotStreamable):
        streamed(path, sample_bytes=1024, chunk_bytes=4096)
    out = tmp_path / "series.parquet"
    convert(reader, path, out)
    whole = normalise(reader.read(path))
    assert whole.frame["Note"].dtype == pl.String
    assert_frame_equal(pl.read_parquet(out), whole.frame, check_exact=True)


def test_header_only_and_empty_files_are_refused_the_same_way(tmp_path):
    path = arbin(tmp_path, [])
    with pytest.raises(FormatError, match="no data rows"):
        streamed(path)
    with pytest.raises(FormatError, match="no data rows"):
        convert(detect(path), path, tmp_path / "series.parquet")
    assert not (tmp_path / "series.parquet").exists()


def test_blank_lines_crlf_signs_and_nan_in_later_chunks(tmp_path):
    rows = [
        f"{i},{i * 0.5},{1 + i // 40},{1 + i // 200},{0.5 if i % 80 < 40 else -0.5},3.5,{i * 0.25}"
        for i in range(1500)
    ]
    rows[700] = "   "
    rows[800] = rows[800].replace(",3.5,", ",+3.5,")  # pyarrow refuses the sign; the exact parser takes it
    path = tmp_path / "export.csv"
    header = "Data_Point,Test_Time,Step_Index,Cycle_Index,Current,Voltage,Note"
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n\r\n").encode())
    reader = detect(path)
    whole = normalise(reader.read(path))
    frame, _ = streamed(path, sample_bytes=5_000, chunk_bytes=2_000, batch_rows=7)
    assert_frame_equal(frame, whole.frame, check_exact=True)
    path.write_bytes(path.read_bytes().replace(b",3.5,250.0\r\n", b",3.5,nan\r\n"))
    with pytest.raises(NotStreamable):  # 'nan' is not a number to the whole-file rules: the column is text
        streamed(path, sample_bytes=5_000, chunk_bytes=2_000)
    out = tmp_path / "series.parquet"
    convert(reader, path, out)
    assert_frame_equal(pl.read_parquet(out), normalise(reader.read(path)).frame, check_exact=True)


def test_duration_text_read_by_splits_as_by_the_full_pattern():
    from cellstore.formats.normalise import duration_seconds

    clocks = ["00:00:05", "12:34:56.5", "100:00:01", " 1:2:3. ", None, "7:08:09.123456"]
    with_days = ["  0d 00:00:5.05", "3 d 01:02:03", "12d1:2:3.25", None, "0d 00:01:0.879999995231628"]
    for values in (clocks, with_days):
        fast = pl.DataFrame({"t": values}).select(duration_seconds(pl.col("t")))["t"]
        mixed = pl.DataFrame({"t": [*values, "1.5"]}).select(duration_seconds(pl.col("t")))["t"]
        assert fast.to_list() == mixed.head(len(values)).to_list()  # the mixed column takes the full pattern
