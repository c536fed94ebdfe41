"""Appending rows to a parquet file without decoding the rows already in it.

A parquet file is ``PAR1``, the row groups' pages, a footer (the Thrift-encoded
``FileMetaData``), its length and ``PAR1`` again; every page is found through
absolute offsets kept in the footer. So a series plus an extension can be written
as the series' bytes up to its footer, the pages of the extension (encoded on their
own, with the same writer settings), and one footer listing the row groups of both,
the extension's offsets shifted by where its pages now start. Extending a 10M-row
series then costs a byte copy and the encoding of the new rows, not a re-encoding
of the whole series.

Only the few footer fields that hold offsets are touched; everything else is carried
through as read, by a small generic reader and writer of Thrift's compact protocol.
When the two files do not have the same physical schema, or use something this does
not handle (bloom filters, encryption), :func:`append_parquet` returns
False and the caller rewrites the file the ordinary way.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import Any

MAGIC = b"PAR1"

# Thrift compact protocol type ids.
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)

# Field ids of parquet.thrift that the append reads or changes.
_FILE_NUM_ROWS, _FILE_SCHEMA, _FILE_ROW_GROUPS = 3, 2, 4
_FILE_ENCRYPTION = (8, 9)
_GROUP_COLUMNS, _GROUP_FILE_OFFSET, _GROUP_ORDINAL = 1, 5, 7
_CHUNK_FILE_PATH, _CHUNK_FILE_OFFSET, _CHUNK_META = 1, 2, 3
_OFFSET_INDEX_OFFSET, _COLUMN_INDEX_OFFSET = 4, 6
_INDEX_FIELDS = ((_OFFSET_INDEX_OFFSET, 5), (_COLUMN_INDEX_OFFSET, 7))  # (offset field, length field)
_CHUNK_ENCRYPTION = (8, 9)
_META_OFFSETS = (9, 10, 11)  # data_page_offset, index_page_offset, dictionary_page_offset
_META_BLOOM = (14, 15)

Struct = list[list[Any]]  # [[field id, type, value], ...] in wire order


class Unsupported(Exception):
    """The files use a parquet feature the byte-level append does not handle."""


def append_parquet(existing: Path, delta: Path, out: Path) -> bool:
    """Write ``existing`` followed by the row groups of ``delta`` to ``out``; False if it cannot.

    Both files must have the same physical schema (the delta written with the
    existing file's dtypes and the same writer). ``out`` is written whole or not at all
    by the caller's atomic rename; on False nothing useful is in it.
    """
    try:
        base_meta, base_end = _footer(existing)
        delta_meta, delta_end = _footer(delta)
        groups = _row_groups(delta_meta)
        indexes = _page_indexes(groups)
        pages_end = min([start for _, start, _ in indexes] + [delta_end])
        shift = base_end - len(MAGIC)
        with open(delta, "rb") as source:
            moved = _moved_page_indexes(indexes, source, shift, at=shift + pages_end)
        merged = _merge(base_meta, delta_meta, shift=shift, moved=moved)
    except Unsupported:
        return False
    with open(out, "wb") as target:
        _copy(existing, 0, base_end, target)
        _copy(delta, len(MAGIC), pages_end - len(MAGIC), target)
        for _, data in moved.values():
            target.write(data)
        footer = _write_struct(merged)
        target.write(footer)
        target.write(struct.pack("<I", len(footer)))
        target.write(MAGIC)
    return True


def _copy(source: Path, start: int, length: int, target: io.BufferedWriter) -> None:
    """Append ``length`` bytes of ``source`` from ``start`` to ``target``, in the kernel where it can."""
    target.flush()
    at = target.tell()
    copied = 0
    with open(source, "rb") as src:
        try:
            while copied < length:
                done = os.copy_file_range(
                    src.fileno(), target.fileno(), length - copied, start + copied, at + copied
                )
                if done == 0:
                    break
                copied += done
        except OSError:
            pass  # no copy_file_range between these files: copy through Python below
        src.seek(start + copied)
        target.seek(at + copied)
        while copied < length:
            chunk = src.read(min(length - copied, 1 << 24))
            if not chunk:
                raise Unsupported("file shorter than its footer says")
            target.write(chunk)
            copied += len(chunk)
    target.seek(at + length)


def _footer(path: Path) -> tuple[Struct, int]:
    """The parsed ``FileMetaData`` of ``path`` and the offset where the footer starts."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size < 12:
            raise Unsupported("too short for parquet")
        f.seek(size - 8)
        tail = f.read(8)
        if tail[4:] != MAGIC:
            raise Unsupported("not a plain parquet file (encrypted footer or damaged)")
        length = struct.unpack("<I", tail[:4])[0]
        start = size - 8 - length
        if start < len(MAGIC):
            raise Unsupported("footer length out of range")
        f.seek(start)
        raw = f.read(length)
    return _Reader(raw).struct(), start


def _field(fields: Struct, fid: int) -> list[Any] | None:
    return next((f for f in fields if f[0] == fid), None)


def _row_groups(meta: Struct) -> list[Struct]:
    groups = _field(meta, _FILE_ROW_GROUPS)
    return list(groups[2][1]) if groups else []


def _chunks(group: Struct) -> list[Struct]:
    columns = _field(group, _GROUP_COLUMNS)
    if columns is None:
        raise Unsupported("row group without columns")
    return columns[2][1]


def _page_indexes(groups: list[Struct]) -> list[tuple[int, int, int]]:
    """(offset field id, start, length) of every page index of the row groups, in file order."""
    found = []
    for group in groups:
        for chunk in _chunks(group):
            for offset_id, length_id in _INDEX_FIELDS:
                offset, length = _field(chunk, offset_id), _field(chunk, length_id)
                if offset is None:
                    continue
                if length is None:
                    raise Unsupported("page index without a length")
                found.append((offset_id, offset[2], length[2]))
    return sorted(found, key=lambda item: item[1])


def _moved_page_indexes(
    indexes: list[tuple[int, int, int]], source: io.BufferedReader, shift: int, *, at: int
) -> dict[int, tuple[int, bytes]]:
    """The delta's page indexes as written from ``at`` on: old start → (new start, bytes).

    A column index (per-page statistics) moves as it is; an offset index holds the
    absolute offsets of its pages, which move by ``shift`` (and may change length).
    """
    moved: dict[int, tuple[int, bytes]] = {}
    position = at
    for kind, start, length in indexes:
        source.seek(start)
        data = source.read(length)
        if kind == _OFFSET_INDEX_OFFSET:
            index = _Reader(data).struct()
            locations = _field(index, 1)  # page_locations: [PageLocation(offset, size, first_row_index)]
            for location in locations[2][1] if locations else []:
                _field(location, 1)[2] += shift
            data = _write_struct(index)
        moved[start] = (position, data)
        position += len(data)
    return moved


def _merge(base: Struct, delta: Struct, *, shift: int, moved: dict[int, tuple[int, bytes]]) -> Struct:
    if any(_field(meta, fid) for meta in (base, delta) for fid in _FILE_ENCRYPTION):
        raise Unsupported("encrypted")
    base_schema, delta_schema = _field(base, _FILE_SCHEMA), _field(delta, _FILE_SCHEMA)
    if base_schema is None or delta_schema is None:
        raise Unsupported("no schema")
    if _write_value(_LIST, base_schema[2]) != _write_value(_LIST, delta_schema[2]):
        raise Unsupported("different physical schemas")
    groups = _row_groups(base)
    for group in _row_groups(delta):
        groups.append(_shifted_group(group, shift, moved, ordinal=len(groups)))
    for group in groups:
        for chunk in _chunks(group):
            if any(_field(chunk, fid) for fid in (*_CHUNK_ENCRYPTION, _CHUNK_FILE_PATH)):
                raise Unsupported("encrypted or external column chunks")
    merged: Struct = []
    for fid, ftype, value in base:
        if fid == _FILE_NUM_ROWS:
            value = value + _field(delta, _FILE_NUM_ROWS)[2]
        elif fid == _FILE_ROW_GROUPS:
            value = (_STRUCT, groups)
        merged.append([fid, ftype, value])
    return merged


def _shifted_group(group: Struct, shift: int, moved: dict[int, tuple[int, bytes]], *, ordinal: int) -> Struct:
    out: Struct = []
    for fid, ftype, value in group:
        if fid == _GROUP_FILE_OFFSET:
            value += shift
        elif fid == _GROUP_ORDINAL:
            value = ordinal
        elif fid == _GROUP_COLUMNS:
            value = (_STRUCT, [_shifted_chunk(chunk, shift, moved) for chunk in value[1]])
        out.append([fid, ftype, value])
    return out


def _shifted_chunk(chunk: Struct, shift: int, moved: dict[int, tuple[int, bytes]]) -> Struct:
    lengths = {length_id: offset_id for offset_id, length_id in _INDEX_FIELDS}
    offsets = {fid: value for fid, _, value in chunk}
    out: Struct = []
    for fid, ftype, value in chunk:
        if fid == _CHUNK_FILE_OFFSET:
            value += shift
        elif fid in (_COLUMN_INDEX_OFFSET, _OFFSET_INDEX_OFFSET):
            value = moved[value][0]
        elif fid in lengths:
            value = len(moved[offsets[lengths[fid]]][1])
        elif fid == _CHUNK_META:
            meta: Struct = []
            for mid, mtype, mvalue in value:
                if mid in _META_BLOOM:
                    raise Unsupported("bloom filters")
                meta.append([mid, mtype, mvalue + shift if mid in _META_OFFSETS else mvalue])
            value = meta
        out.append([fid, ftype, value])
    return out


# --- Thrift compact protocol ----------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise Unsupported("truncated footer")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, ftype: int) -> Any:
        if ftype in (_TRUE, _FALSE):
            return self.byte() == _TRUE  # only reached inside lists; fields carry it in the type
        if ftype == _BYTE:
            return self.byte()
        if ftype in (_I16, _I32, _I64):
            return self.zigzag()
        if ftype == _DOUBLE:
            raw = self.data[self.pos : self.pos + 8]
            self.pos += 8
            return raw
        if ftype == _BINARY:
            n = self.varint()
            raw = self.data[self.pos : self.pos + n]
            self.pos += n
            return raw
        if ftype in (_LIST, _SET):
            header = self.byte()
            size, elem = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            return (elem, [self.value(elem) for _ in range(size)])
        if ftype == _STRUCT:
            return self.struct()
        raise Unsupported(f"thrift type {ftype}")  # maps do not occur in parquet's FileMetaData

    def struct(self) -> Struct:
        fields: Struct = []
        last = 0
        while True:
            header = self.byte()
            if header == 0:
                return fields
            delta, ftype = header >> 4, header & 0x0F
            fid = last + delta if delta else self.zigzag()
            last = fid
            if ftype in (_TRUE, _FALSE):
                fields.append([fid, _TRUE, ftype == _TRUE])
            else:
                fields.append([fid, ftype, self.value(ftype)])


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def _zigzag(n: int) -> bytes:
    return _varint((n << 1) ^ (n >> 63))


def _write_value(ftype: int, value: Any) -> bytes:
    if ftype in (_TRUE, _FALSE):
        return bytes([_TRUE if value else _FALSE])
    if ftype == _BYTE:
        return bytes([value])
    if ftype in (_I16, _I32, _I64):
        return _zigzag(value)
    if ftype == _DOUBLE:
        return value
    if ftype == _BINARY:
        return _varint(len(value)) + value
    if ftype in (_LIST, _SET):
        elem, items = value
        header = (
            bytes([(len(items) << 4) | elem])
            if len(items) < 15
            else bytes([0xF0 | elem]) + _varint(len(items))
        )
        return header + b"".join(_write_value(elem, item) for item in items)
    if ftype == _STRUCT:
        return _write_struct(value)
    raise Unsupported(f"thrift type {ftype}")


def _write_struct(fields: Struct) -> bytes:
    out = bytearray()
    last = 0
    for fid, ftype, value in fields:
        wire_type = (_TRUE if value else _FALSE) if ftype in (_TRUE, _FALSE) else ftype
        delta = fid - last
        if 0 < delta <= 15:
            out.append((delta << 4) | wire_type)
        else:
            out.append(wire_type)
            out += _zigzag(fid)
        if ftype not in (_TRUE, _FALSE):
            out += _write_value(ftype, value)
        last = fid
    out.append(0)
    return bytes(out)
