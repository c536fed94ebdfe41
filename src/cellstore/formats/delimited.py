"""Delimited text tables as cycler software writes them: a preamble, a header row, data rows.

Shared by the text readers so that every family handles the same damage the same way:
a byte-order mark, undecodable bytes (kept as U+FFFD), decimal commas, blank lines,
quoted whole lines, trailing separators, and rows wider than the header (the extra
fields become ``column_<i>`` columns rather than being lost).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv

from cellstore.formats.base import FormatError
from cellstore.formats.normalise import unique_names
from cellstore.formats.stream import NotStreamable


def decode(data: bytes) -> str:
    """Text of a file: UTF-8 (with or without BOM), else cp1252/latin-1; line ends made ``\\n``."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16").replace("\r\n", "\n").replace("\r", "\n")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def head_text(head: bytes) -> str:
    """The sniffed bytes as text (a cut multi-byte character at the end is harmless)."""
    return decode(head)


def read_text(path: Path) -> str:
    try:
        return decode(path.read_bytes())
    except OSError as error:
        raise FormatError(f"{path.name}: cannot be read ({error.strerror}).") from error


def split_header(line: str, separator: str) -> list[str]:
    names = line.split(separator)
    while names and not names[-1].strip():
        names.pop()
    return [name.strip().strip('"') for name in names]


def parse_table(
    lines: list[str],
    header: list[str],
    *,
    separator: str,
    decimal_comma: bool = False,
    keep_text: tuple[str, ...] = (),
) -> pl.DataFrame:
    """The data ``lines`` as a frame named by ``header``; numeric-looking columns become numbers.

    Columns named in ``keep_text`` stay text (timestamps, state letters). Extra fields
    beyond the header become ``column_<i>``; extra columns that are empty throughout
    (a trailing separator) are left out, as are blank lines.
    """
    lines = [line for line in lines if line.strip()]
    names = _names(header, lines, separator)
    if not lines:
        return pl.DataFrame(
            {name: [] for name in names[: len(header)]}, schema=dict.fromkeys(names, pl.String)
        )
    frame = _text_frame(lines, names, separator)
    extra = [n for n in names[len(header) :] if _blank(frame[n])]
    frame = frame.drop(extra)
    return numeric(frame, decimal_comma=decimal_comma, keep_text=keep_text)


def _names(header: list[str], lines: list[str], separator: str) -> list[str]:
    width = max([len(header), *(line.count(separator) + 1 for line in lines)])
    return unique_names([*header, *(f"column_{i}" for i in range(len(header), width))])


def _text_frame(lines: list[str], names: list[str], separator: str) -> pl.DataFrame:
    return pl.read_csv(
        "\n".join(lines).encode(),
        has_header=False,
        new_columns=names,
        schema=dict.fromkeys(names, pl.String),
        separator=separator,
        quote_char='"',
        truncate_ragged_lines=True,
    )


def _blank(series: pl.Series) -> bool:
    return series.str.strip_chars().replace("", None).null_count() == series.len()


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def numeric(
    frame: pl.DataFrame, *, decimal_comma: bool = False, keep_text: tuple[str, ...] = ()
) -> pl.DataFrame:
    """Text columns whose every non-blank value is a number become Float64 (Int64 if all whole)."""
    kinds = column_kinds(frame, decimal_comma=decimal_comma, keep_text=keep_text)
    exprs = [
        _as_kind(name, kind, decimal_comma) for name, kind in kinds.items() if kind in (EMPTY, INT, FLOAT)
    ]
    return frame.with_columns(exprs) if exprs else frame


#: What :func:`column_kinds` finds a text column to hold.
EMPTY, INT, FLOAT, TEXT = "empty", "int", "float", "text"


def column_kinds(
    frame: pl.DataFrame, *, decimal_comma: bool = False, keep_text: tuple[str, ...] = ()
) -> dict[str, str]:
    """For each text column: all blank, all whole numbers, all numbers, or text (kept as it is)."""
    kinds = {}
    keep = {name.lower() for name in keep_text}
    for name, dtype in frame.schema.items():
        if dtype != pl.String or name.lower() in keep:
            continue
        values = frame.select(_stripped(name, decimal_comma)).to_series().drop_nulls()
        if values.len() == 0:
            kinds[name] = EMPTY
        elif not values.str.contains(_NUMBER.pattern).all():
            kinds[name] = TEXT
        elif values.str.contains(r"^[+-]?\d+$").all():
            kinds[name] = INT
        else:
            kinds[name] = FLOAT
    return kinds


def _stripped(name: str, decimal_comma: bool) -> pl.Expr:
    text = pl.col(name).str.strip_chars().replace("", None)
    return text.str.replace(",", ".", literal=True) if decimal_comma else text


def _as_kind(name: str, kind: str, decimal_comma: bool) -> pl.Expr:
    if kind == EMPTY:
        return pl.lit(None, dtype=pl.Float64).alias(name)
    if kind == INT:
        return _stripped(name, decimal_comma).cast(pl.Int64, strict=False).alias(name)
    return _stripped(name, decimal_comma).cast(pl.Float64).alias(name)


def find_line(lines: list[str], predicate, *, limit: int = 500) -> int:
    """Index of the first line (within ``limit``) for which ``predicate`` holds, else -1."""
    for i, line in enumerate(lines[:limit]):
        if predicate(line):
            return i
    return -1


def key_values(lines: list[str], separators: tuple[str, ...] = (":", "\t", ",")) -> dict[str, str]:
    """``key: value`` pairs of a preamble (first separator found wins; empty values kept)."""
    pairs: dict[str, str] = {}
    for line in lines:
        for separator in separators:
            if separator in line:
                key, _, value = line.partition(separator)
                key = key.strip().strip('"~').rstrip(":").strip()
                if key and key not in pairs:
                    pairs[key] = value.strip().strip(",\t").strip()
                break
    return pairs


def sniff_separator(line: str, candidates: str = "\t;,") -> str:
    """The candidate separator occurring most often in ``line``."""
    return max(candidates, key=line.count)


def parse_datetime(series: pl.Series, formats: tuple[str, ...]) -> pl.Series:
    """Text timestamps parsed with the first of ``formats`` that reads every non-blank value."""
    text = series.cast(pl.String).str.strip_chars().replace("", None)
    return text.str.strptime(pl.Datetime("us"), datetime_format(series, formats), strict=False)


def datetime_format(series: pl.Series, formats: tuple[str, ...]) -> str:
    """The first of ``formats`` that reads every non-blank value of ``series``."""
    text = series.cast(pl.String).str.strip_chars().replace("", None)
    for fmt in formats:
        parsed = text.str.strptime(pl.Datetime("us"), fmt, strict=False)
        if parsed.null_count() == text.null_count():
            return fmt
    raise FormatError(
        f"column {series.name!r}: timestamps in an unknown format (e.g. {text.drop_nulls()[:1].to_list()})"
    )


# --- streaming -------------------------------------------------------------------------------

#: Bytes looked at to find a file's preamble and header.
HEAD_BYTES = 1 << 20
#: Bytes of data rows whose columns decide each column's type for the whole stream.
SAMPLE_BYTES = 8 << 20
#: Bytes of data rows parsed at a time after the sample.
CHUNK_BYTES = 16 << 20
#: Bytes per parallel parsing block inside a chunk.
_BLOCK_BYTES = 4 << 20
#: ASCII characters ``str.strip`` removes; a line starting with one may be blank (and is then left out).
_SPACE = b" \t\x0b\x0c\x1c\x1d\x1e\x1f"
_MAYBE_BLANK = re.compile(rb"\n[\n \t\x0b\x0c\x1c-\x1f]")


@dataclass(frozen=True)
class Head:
    """The first bytes of a text file, cut after a whole line, and its lines as ``read_text`` gives them."""

    raw: bytes
    lines: list[str]
    complete: bool  # the whole file
    #: "utf-8", or "cp1252" when the head already is not UTF-8 (so :func:`decode` takes the whole file so)
    encoding: str = "utf-8"

    def offset(self, index: int) -> int:
        """Byte offset of line ``index`` (0-based); :class:`NotStreamable` if beyond the head."""
        position = 0
        for _ in range(index):
            position = self.raw.find(b"\n", position) + 1
            if position == 0:
                raise NotStreamable("the header lies beyond the first megabyte")
        return position


def read_head(path: Path, size: int = HEAD_BYTES) -> Head:
    """The start of a file for a streaming reader; :class:`NotStreamable` for what only ``read_text``
    handles (UTF-16, lines ended by a lone carriage return)."""
    try:
        with open(path, "rb") as file:
            raw = file.read(size + 1)
    except OSError as error:
        raise FormatError(f"{path.name}: cannot be read ({error.strerror}).") from error
    complete = len(raw) <= size
    if not complete:
        raw = raw[: raw.rfind(b"\n", 0, size) + 1]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NotStreamable("UTF-16 text")
    if b"\r" in raw.replace(b"\r\n", b""):
        raise NotStreamable("lines ended by a lone carriage return")
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    try:
        text, encoding = body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = body.decode("cp1252", errors="replace"), "cp1252"
    return Head(raw=raw, lines=text.replace("\r\n", "\n").split("\n"), complete=complete, encoding=encoding)


class TableStream:
    """The data rows of a delimited file from byte ``offset`` on, in frames equal to the slices of
    :func:`parse_table` over the same lines.

    Column names, widths and types are decided on the first :data:`SAMPLE_BYTES` of rows
    (exactly as :func:`parse_table` decides them, which the first frame is); later chunks
    are parsed by pyarrow straight into those types, and by :func:`parse_table`'s own rules
    where pyarrow refuses a chunk (ragged rows, signs, spaces, ``nan``). A later value that
    would change a decision (text in a number column, a fraction in a whole-number one, a
    filled extra column, a byte that is not UTF-8) raises :class:`NotStreamable`.
    """

    def __init__(
        self,
        path: Path,
        offset: int,
        header: list[str],
        *,
        separator: str,
        decimal_comma: bool = False,
        keep_text: tuple[str, ...] = (),
        sample_bytes: int = SAMPLE_BYTES,
        chunk_bytes: int = CHUNK_BYTES,
        batch_rows: int | None = None,
        encoding: str = "utf-8",
    ) -> None:
        self._path, self._offset, self._header = path, offset, header
        self._encoding = encoding
        self._separator, self._decimal_comma, self._keep_text = separator, decimal_comma, keep_text
        self._chunk_bytes, self._batch_rows = chunk_bytes, batch_rows
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read(sample_bytes + 1)
        self._eof = len(data) <= sample_bytes
        if not self._eof:
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                raise NotStreamable("a data row longer than the sample")
            data = data[:cut]
        self._next = offset + len(data)
        lines = [line for line in self._text(data).split("\n") if line.strip()]
        if not lines and not self._eof:
            raise NotStreamable("no data rows in the sample")
        self._names = _names(header, lines, separator)
        if lines:
            text = _text_frame(lines, self._names, separator)
            self._kept = [n for n in self._names[: len(header)]] + [
                n for n in self._names[len(header) :] if not _blank(text[n])
            ]
            text = text.select(self._kept)
            self._kinds = column_kinds(text, decimal_comma=decimal_comma, keep_text=keep_text)
            self.sample = text.with_columns(self._typed())
        else:
            self.sample = parse_table([], header, separator=separator)
            self._kept, self._kinds = list(self.sample.columns), {}

    def __iter__(self) -> Iterator[pl.DataFrame]:
        yield from self._slices(self.sample)
        if self._eof:
            return
        # The next chunk is parsed on a second thread while the caller works on this one.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cellstore-csv") as pool:
            parsing: Future[pl.DataFrame] | None = None
            for data in self._chunks():
                following = pool.submit(self._parse, data)
                if parsing is not None:
                    yield from self._slices(parsing.result())
                parsing = following
            if parsing is not None:
                yield from self._slices(parsing.result())

    def _chunks(self) -> Iterator[bytes]:
        """The rest of the file after the sample, in pieces of whole lines."""
        with open(self._path, "rb") as file:
            file.seek(self._next)
            rest = b""
            while data := file.read(self._chunk_bytes):
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest += data
                    continue
                yield rest + data[:cut] if rest else data[:cut]
                rest = data[cut:]
            if rest:
                yield rest

    def _slices(self, frame: pl.DataFrame) -> Iterator[pl.DataFrame]:
        if self._batch_rows is None or frame.height <= self._batch_rows:
            yield frame
            return
        for start in range(0, frame.height, self._batch_rows):
            yield frame.slice(start, self._batch_rows)

    def _text(self, data: bytes) -> str:
        if self._encoding == "utf-8":
            return _text(data)
        return data.decode(self._encoding, errors="replace").replace("\r\n", "\n").replace("\r", "\n")

    def _parse(self, data: bytes) -> pl.DataFrame:
        if self._encoding != "utf-8":
            data = self._text(data).encode()
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not data.isascii():
            data = "\n".join(line for line in self._text(data).split("\n") if line.strip()).encode()
        elif data[:1] in b"\n" + _SPACE or _MAYBE_BLANK.search(data):
            data = b"\n".join(line for line in data.split(b"\n") if line.strip(_SPACE))
        if not data or data.isspace():
            return self.sample.clear()
        frame = self._parse_arrow(data)
        return frame if frame is not None else self._parse_exactly(data)

    def _parse_arrow(self, data: bytes) -> pl.DataFrame | None:
        types = {
            name: pa.int64() if kind == INT else pa.float64() if kind == FLOAT else pa.string()
            for name, kind in ((n, self._kinds.get(n, TEXT)) for n in self._names)
        }
        try:
            table = pa_csv.read_csv(
                pa.py_buffer(data),
                read_options=pa_csv.ReadOptions(column_names=self._names, block_size=_BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(delimiter=self._separator, quote_char='"'),
                convert_options=pa_csv.ConvertOptions(
                    column_types=types,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                    decimal_point="," if self._decimal_comma else ".",
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        frame = pl.from_arrow(table, rechunk=False)
        assert isinstance(frame, pl.DataFrame)
        floats = [n for n, k in self._kinds.items() if k == FLOAT]
        if (
            floats
            and frame.select(
                pl.any_horizontal((pl.col(n).is_nan() | pl.col(n).is_infinite()).any() for n in floats)
            ).item()
        ):
            return None  # the whole-file rules do not count "nan" and "inf" as numbers
        self._check_blank(
            frame, [n for n in self._names if n not in self._kept or self._kinds.get(n) == EMPTY]
        )
        return frame.select(
            pl.lit(None, dtype=pl.Float64).alias(n) if self._kinds.get(n) == EMPTY else pl.col(n)
            for n in self._kept
        )

    def _parse_exactly(self, data: bytes) -> pl.DataFrame:
        lines = [line for line in self._text(data).split("\n") if line.strip()]
        names = _names(self._header, lines, self._separator)
        if len(names) < len(self._names):
            names = self._names
        elif names[: len(self._names)] != self._names:
            names = [*self._names, *names[len(self._names) :]]
        text = _text_frame(lines, names, self._separator)
        self._check_blank(text, [n for n in names if n not in self._kept])
        text = text.select(self._kept)
        kinds = column_kinds(text, decimal_comma=self._decimal_comma, keep_text=self._keep_text)
        for name, kind in kinds.items():
            if kind != EMPTY and not _fits(kind, self._kinds[name]):
                raise NotStreamable(f"column {name!r} holds {kind} values after the sample")
        return text.with_columns(self._typed())

    def _typed(self) -> list[pl.Expr]:
        return [_as_kind(n, k, self._decimal_comma) for n, k in self._kinds.items() if k != TEXT]

    @staticmethod
    def _check_blank(frame: pl.DataFrame, names: list[str]) -> None:
        for name in names:
            if not _blank(frame[name].cast(pl.String)):
                raise NotStreamable(f"column {name!r} has values after the sample")


def _fits(found: str, decided: str) -> bool:
    return decided == TEXT or found == decided or (found == INT and decided == FLOAT)


def _text(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotStreamable("not UTF-8 further on") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")
