"""Small cell data for the browser tests: a cycling series in the §6.1 columns, images, files."""

from __future__ import annotations

import math
import struct
import zlib

import polars as pl


def cycling_series(cycles: int = 3, points: int = 120) -> pl.DataFrame:
    """Constant-current discharge, rest, charge, rest per cycle, with a little capacity fade."""
    rows: list[tuple[float, float, float, int, int, float, float]] = []
    time, step = 0.0, 0
    for cycle in range(cycles):
        length = int(points * (1 - 0.03 * cycle))
        for current, count in ((1.0, length), (0.0, 10), (-1.0, length), (0.0, 10)):
            capacity = 0.0
            for i in range(count):
                x = i / points
                bend = 0.08 * math.tanh((x - 0.5) * 12)
                voltage = 3.6 if current == 0 else (4.1 - x - bend if current > 0 else 3.1 + x + bend)
                rows.append(
                    (
                        time,
                        voltage,
                        current,
                        step,
                        cycle,
                        capacity if current > 0 else 0.0,
                        capacity if current < 0 else 0.0,
                    )
                )
                time += 10.0
                capacity += abs(current) * 10 / 3600
            step += 1
    columns = [
        "Time [s]",
        "Voltage [V]",
        "Current [A]",
        "Step count",
        "Cycle from cycler",
        "Discharge capacity [A.h]",
        "Charge capacity [A.h]",
    ]
    return pl.DataFrame(rows, schema=columns, orient="row")


def png_bytes(width: int = 48, height: int = 32) -> bytes:
    """A small colourful PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(
        b"\x00" + b"".join(bytes([(x * 5) % 256, (y * 8) % 256, 170]) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
