"""What every instrument reader provides, and what it returns.

A reader is declared, not programmed from scratch: a :class:`Reader` names its
family, says how sure it is that a file is one of its own (:meth:`Reader.sniff`,
from the first bytes and the name), and reads the file into a
:class:`RawSeries`: the instrument's table with its columns already renamed to
the §6.1 vocabulary where the meaning is known (:class:`ColumnMap`), plus what
the file says about the test. :func:`cellstore.formats.normalise.normalise`
does the rest the same way for every family (sign convention, step and cycle
counts, per-step capacity, time from zero).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

#: How many leading bytes :meth:`Reader.sniff` is shown.
SNIFF_BYTES = 64 * 1024


class FormatError(ValueError):
    """A file that claims to be of a family but cannot be read as one; the message says why."""


@dataclass(frozen=True)
class ColumnMap:
    """One instrument column and where it goes.

    ``source`` is matched case-insensitively after stripping spaces; ``scale``
    converts the instrument's unit to the §6.1 unit (mA → A is 1e-3), and
    ``negate`` flips a current whose instrument counts charge as positive.
    """

    source: str
    target: str
    scale: float = 1.0
    negate: bool = False


@dataclass
class RawSeries:
    """A table as read from an instrument file, before normalisation.

    ``frame`` holds the §6.1 columns the reader could name (``Time [s]`` relative or
    absolute, ``Current [A]`` with positive = discharge, ``Step from cycler``,
    ``Cycle from cycler``, cumulative capacities as the instrument counts them) and
    every other column under its own name. ``capacity_per_step`` tells whether the
    instrument already resets capacity and energy at each step.
    """

    frame: pl.DataFrame
    family: str
    start_time: datetime | None = None
    capacity_per_step: bool = False
    test_setup: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)


class Reader(ABC):
    """One instrument family (and dialect) cellstore can read."""

    #: Stable identifier, e.g. ``"maccor_txt"``; shown in errors and stored in ``test_setup``.
    family: str
    #: What a person calls it, e.g. ``"Maccor text export (.txt)"``.
    label: str
    #: Extensions this family usually has (lower case, with the dot); a hint, never a requirement.
    extensions: tuple[str, ...] = ()

    @abstractmethod
    def sniff(self, head: bytes, name: str) -> float:
        """Confidence in 0..1 that a file starting with ``head`` (and called ``name``) is of this family."""

    @abstractmethod
    def read(self, path: Path) -> RawSeries:
        """Read the whole file; raise :class:`FormatError` with a clear message when it is damaged."""
