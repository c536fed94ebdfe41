"""BioLogic EC-Lab / BT-Lab binary data files (``.mpr``).

The layout, as worked out from the files themselves and checked against the
``.mpt`` text exports EC-Lab writes of the same runs:

* The file opens with ``BIO-LOGIC MODULAR FILE\\x1a`` padded with spaces to 48
  bytes, then a sequence of modules. Each starts with ``MODULE``, a 10-byte short
  name (``VMP Set``, ``VMP data``, ``VMP LOG``, ``VMP loop``, ...) and a 25-byte
  long name. Older files follow with ``length: u32, version: u32, date: 8 ascii``
  (a 57-byte header); newer ones (EC-Lab 11.5 onward) with ``0xFFFFFFFF`` then
  ``length: u32, 0: u32, version: u32, date: 8 ascii`` (65 bytes).
* The data module body is ``points: u32``, a column count (``u8`` before version 10,
  ``u16`` from then), one ``u16`` identifier per column, then the records, packed
  without padding at the end of the body. A record begins with one flag byte when
  any flag column is present (mode, ox/red, error, control changes, Ns changes,
  counter inc. are bit fields of that byte), followed by every other column in
  order, each with the width its identifier implies (:data:`COLUMNS`).
* The settings module body begins with the technique number; the log module holds
  the acquisition start as an OLE automation date (days since 1899-12-30) at
  offset 585.

Only column identifiers whose width is known can be read; a file with one unknown
identifier is still read when the record length leaves exactly one plausible
width for it, and otherwise rejected with the identifier in the message.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.detect import register
from cellstore.processing import columns as c

MAGIC = b"BIO-LOGIC MODULAR FILE\x1a"
MODULE = b"MODULE"
OLE_EPOCH = datetime(1899, 12, 30)
LOG_START_OFFSET = 585

#: Flag columns: identifier -> (name, bit mask within the record's flag byte).
FLAGS: dict[int, tuple[str, int]] = {
    1: ("mode", 0x03),
    2: ("ox/red", 0x04),
    3: ("error", 0x08),
    21: ("control changes", 0x10),
    31: ("Ns changes", 0x20),
    65: ("counter inc.", 0x80),
}

#: Value columns: identifier -> (EC-Lab's column name, numpy dtype).
COLUMNS: dict[int, tuple[str, str]] = {
    4: ("time/s", "<f8"),
    5: ("control/V/mA", "<f4"),
    6: ("Ewe/V", "<f4"),
    7: ("dq/mA.h", "<f8"),
    8: ("I/mA", "<f4"),
    9: ("Ece/V", "<f4"),
    11: ("<I>/mA", "<f8"),
    13: ("(Q-Qo)/mA.h", "<f8"),
    16: ("Analog IN 1/V", "<f4"),
    19: ("control/V", "<f4"),
    20: ("control/mA", "<f4"),
    23: ("dQ/mA.h", "<f8"),
    24: ("cycle number", "<f8"),
    26: ("Rapp/Ohm", "<f4"),
    27: ("Ewe-Ece/V", "<f4"),
    32: ("freq/Hz", "<f4"),
    33: ("|Ewe|/V", "<f4"),
    34: ("|I|/A", "<f4"),
    35: ("Phase(Z)/deg", "<f4"),
    36: ("|Z|/Ohm", "<f4"),
    37: ("Re(Z)/Ohm", "<f4"),
    38: ("-Im(Z)/Ohm", "<f4"),
    39: ("I Range", "<u2"),
    69: ("R/Ohm", "<f4"),
    70: ("P/W", "<f4"),
    74: ("|Energy|/W.h", "<f8"),
    75: ("Analog OUT/V", "<f4"),
    76: ("<I>/mA", "<f4"),
    77: ("<Ewe>/V", "<f4"),
    96: ("|Ece|/V", "<f4"),
    98: ("Phase(Zce)/deg", "<f4"),
    99: ("|Zce|/Ohm", "<f4"),
    100: ("Re(Zce)/Ohm", "<f4"),
    101: ("-Im(Zce)/Ohm", "<f4"),
    123: ("Energy charge/W.h", "<f8"),
    124: ("Energy discharge/W.h", "<f8"),
    125: ("Capacitance charge/µF", "<f8"),
    126: ("Capacitance discharge/µF", "<f8"),
    131: ("Ns", "<u2"),
    169: ("Cs/µF", "<f4"),
    172: ("Cp/µF", "<f4"),
    174: ("<Ewe>/V", "<f4"),
    430: ("Phase(Zwe-ce)/deg", "<f4"),
    431: ("|Zwe-ce|/Ohm", "<f4"),
    432: ("Re(Zwe-ce)/Ohm", "<f4"),
    433: ("-Im(Zwe-ce)/Ohm", "<f4"),
    434: ("(Q-Qo)/C", "<f4"),
    435: ("dQ/C", "<f4"),
    441: ("<Ece>/V", "<f4"),
    467: ("Q charge/discharge/mA.h", "<f8"),
    468: ("half cycle", "<u4"),
    469: ("z cycle", "<u4"),
    471: ("<Ece>/V", "<f4"),
    473: ("THD Ewe/%", "<f4"),
    474: ("THD I/%", "<f4"),
    476: ("NSD Ewe/%", "<f4"),
    477: ("NSD I/%", "<f4"),
    479: ("NSR Ewe/%", "<f4"),
    480: ("NSR I/%", "<f4"),
    **{486 + k: (f"|Ewe h{k + 2}|/V", "<f4") for k in range(6)},
    **{492 + k: (f"|I h{k + 2}|/A", "<f4") for k in range(6)},
}

#: Technique numbers found at the start of the settings module.
TECHNIQUES: dict[int, str] = {
    4: "Galvanostatic Cycling with Potential Limitation",
    6: "Cyclic Voltammetry",
    11: "Open Circuit Voltage",
    25: "Chronopotentiometry",
    28: "Wait",
    29: "Potentio Electrochemical Impedance Spectroscopy",
    30: "Galvano Electrochemical Impedance Spectroscopy",
    127: "Modulo Bat",
}

#: Source columns that become a §6.1 column one to one (and so are not kept under their own name).
RENAMED = ("time/s", "P/W", "Ns", "cycle number", "freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm")

_WIDTH_GUESS = {2: "<u2", 4: "<f4", 8: "<f8"}


@dataclass(frozen=True)
class _Module:
    name: str
    version: int
    body: bytes


def _modules(data: bytes) -> list[_Module]:
    modules = []
    pos = data.find(MODULE, len(MAGIC))
    while pos >= 0:
        name = data[pos + 6 : pos + 16].decode("latin-1").strip()
        try:
            if data[pos + 41 : pos + 45] == b"\xff\xff\xff\xff":
                length, _, version = struct.unpack_from("<III", data, pos + 45)
                start = pos + 65
            else:
                length, version = struct.unpack_from("<II", data, pos + 41)
                start = pos + 57
        except struct.error as exc:
            raise FormatError(f"module {name!r} at byte {pos} has a truncated header") from exc
        end = start + length
        if end > len(data):
            raise FormatError(
                f"module {name!r} claims {length} bytes but the file ends {len(data) - start} bytes after it"
            )
        modules.append(_Module(name, version, data[start:end]))
        pos = data.find(MODULE, end)
    return modules


def _records_offset(version: int) -> int | None:
    """Where the records begin in the data body, for the versions seen so far (a cross-check only)."""
    if version >= 10:
        return 0x3EF
    return {2: 0x195, 3: 0x196}.get(version)


def _record_dtype(ids: list[int], body_length: int, version: int, points: int) -> np.dtype:
    flags = any(i in FLAGS for i in ids)
    known = sum(np.dtype(COLUMNS[i][1]).itemsize for i in ids if i in COLUMNS) + int(flags)
    unknown = [i for i in ids if i not in FLAGS and i not in COLUMNS]
    guessed = ""
    if unknown:
        offset = _records_offset(version)
        width = (body_length - offset) / points - known if offset is not None and points else None
        if len(unknown) > 1 or width not in _WIDTH_GUESS:
            raise FormatError(f"unknown BioLogic column identifiers {unknown}; cannot lay out the records")
        guessed = _WIDTH_GUESS[int(width)]
    fields: list[tuple[str, str]] = [("flags", "u1")] if flags else []
    names: set[str] = set()
    for i in ids:
        if i in FLAGS:
            continue
        name, dtype = COLUMNS.get(i, (f"column {i}", guessed))
        if name in names:  # two identifiers EC-Lab names alike: keep both, distinguishably
            name = f"{name} ({i})"
        names.add(name)
        fields.append((name, dtype))
    return np.dtype(fields)


def _data_frame(module: _Module) -> pl.DataFrame:
    body = module.body
    if len(body) < 5:
        raise FormatError("the data module is too short to hold its column list")
    points = struct.unpack_from("<I", body, 0)[0]
    if module.version >= 10:
        count = struct.unpack_from("<H", body, 4)[0]
        start = 6
    else:
        count = body[4]
        start = 5
    header_end = start + 2 * count
    if header_end > len(body):
        raise FormatError("the data module's column list runs past its end")
    ids = list(struct.unpack_from(f"<{count}H", body, start))
    dtype = _record_dtype(ids, len(body), module.version, points)
    size = points * dtype.itemsize
    offset = len(body) - size
    if offset < header_end:
        raise FormatError(
            f"the data module holds {len(body) - header_end} bytes of records, "
            f"fewer than {points} records of {dtype.itemsize} bytes"
        )
    records = np.frombuffer(body, dtype=dtype, count=points, offset=offset)
    frame: dict[str, np.ndarray] = {}
    for i in ids:
        if i in FLAGS:
            name, mask = FLAGS[i]
            shift = (mask & -mask).bit_length() - 1
            frame[name] = ((records["flags"] & mask) >> shift).astype(np.int64)
    for name in dtype.names or ():
        if name == "flags":
            continue
        values = records[name]
        frame[name] = values.astype(np.int64) if values.dtype.kind == "u" else values.astype(np.float64)
    return pl.DataFrame(frame)


def _start_time(modules: list[_Module]) -> datetime | None:
    for module in modules:
        if module.name == "VMP LOG" and len(module.body) >= LOG_START_OFFSET + 8:
            days = struct.unpack_from("<d", module.body, LOG_START_OFFSET)[0]
            if 32874 < days < 73051:  # 1990 .. 2100: anything else is not a date written by EC-Lab
                return OLE_EPOCH + timedelta(days=days)
    return None


def _to_canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Name the §6.1 quantities; EC-Lab counts oxidation (charge) current positive, §6.1 discharge."""
    cols = frame.columns
    exprs: list[pl.Expr] = []
    renamed = [name for name in RENAMED if name in cols]
    if "time/s" in cols:
        exprs.append(pl.col("time/s").alias(c.TIME))
    voltage = next((v for v in ("Ewe/V", "<Ewe>/V") if v in cols), None)
    if voltage:
        exprs.append(pl.col(voltage).alias(c.VOLTAGE))
        renamed.append(voltage)
    current = next((v for v in ("I/mA", "<I>/mA") if v in cols), None)
    increment = _charge_increment(frame)
    if current:
        exprs.append((-pl.col(current) / 1000).alias(c.CURRENT))
        renamed.append(current)
    elif increment is not None and "time/s" in cols:
        # GCPL files keep no current column: EC-Lab exports <I> as the charge passed over the interval
        dt = pl.col("time/s").diff()
        exprs.append(
            pl.when(dt > 0).then(-increment * 3.6 / dt).otherwise(None).fill_null(0.0).alias(c.CURRENT)
        )
    if increment is not None:
        exprs += [
            (increment.clip(lower_bound=0).cum_sum() / 1000).alias(c.CHARGE_CAPACITY),
            ((-increment).clip(lower_bound=0).cum_sum() / 1000).alias(c.DISCHARGE_CAPACITY),
        ]
    if "P/W" in cols:
        exprs.append((-pl.col("P/W")).alias(c.POWER))
    if "Ns" in cols:
        exprs.append(pl.col("Ns").alias(c.STEP_FROM_CYCLER))
    if "cycle number" in cols:
        exprs.append(pl.col("cycle number").cast(pl.Int64).alias(c.CYCLE_FROM_CYCLER))
    if "freq/Hz" in cols:
        exprs.append(pl.col("freq/Hz").alias(c.FREQUENCY))
    if "Re(Z)/Ohm" in cols:
        exprs.append(pl.col("Re(Z)/Ohm").alias(c.Z_RE))
    if "-Im(Z)/Ohm" in cols:
        exprs.append((-pl.col("-Im(Z)/Ohm")).alias(c.Z_IM))
    return frame.with_columns(exprs).drop(renamed)


def _charge_increment(frame: pl.DataFrame) -> pl.Expr | None:
    """Charge passed since the previous record, in mA.h, positive while charging."""
    cols = frame.columns
    if "dq/mA.h" in cols:
        return pl.col("dq/mA.h")
    if "(Q-Qo)/mA.h" in cols:
        return pl.col("(Q-Qo)/mA.h").diff().fill_null(0.0)
    if "(Q-Qo)/C" in cols:
        return (pl.col("(Q-Qo)/C").diff().fill_null(0.0)) / 3.6
    return None


class BiologicMprReader(Reader):
    family = "biologic_mpr"
    label = "BioLogic EC-Lab binary (.mpr)"
    extensions = (".mpr",)

    def sniff(self, head: bytes, name: str) -> float:
        if head.startswith(MAGIC):
            return 0.99
        return 0.0

    def read(self, path: Path) -> RawSeries:
        data = path.read_bytes()
        if not data.startswith(MAGIC):
            raise FormatError(f"{path.name}: not a BioLogic .mpr file (no 'BIO-LOGIC MODULAR FILE' header)")
        modules = _modules(data)
        data_modules = [m for m in modules if m.name == "VMP data"]
        if not data_modules:
            raise FormatError(f"{path.name}: the .mpr file has no data module")
        frame = _to_canonical(_data_frame(data_modules[0]))
        setup: dict[str, object] = {"data_module_version": data_modules[0].version}
        settings = next((m for m in modules if m.name == "VMP Set"), None)
        if settings is not None and settings.body:
            number = settings.body[0]
            setup["technique"] = TECHNIQUES.get(number, f"technique {number}")
        return RawSeries(
            frame=frame,
            family=self.family,
            start_time=_start_time(modules),
            capacity_per_step=False,
            test_setup=setup,
        )


register(BiologicMprReader())
