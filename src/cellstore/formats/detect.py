"""Which reader a file needs, decided from its content (the name is only a tie-breaker).

Readers register themselves in :data:`READERS` by family; :func:`detect` shows
each the first bytes of the file and takes the most confident. A file no reader
claims gets :class:`UnknownFormat`, whose message lists what cellstore reads.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from cellstore.formats.base import SNIFF_BYTES, Reader

#: Every reader, by family. Filled by :func:`register` when the family modules are imported.
READERS: dict[str, Reader] = {}

#: Below this confidence a reader's claim is not enough.
MIN_CONFIDENCE = 0.5


class UnknownFormat(ValueError):
    """No reader recognises the file."""


def register(reader: Reader) -> Reader:
    if reader.family in READERS:
        raise ValueError(f"two readers for the family {reader.family!r}")
    READERS[reader.family] = reader
    return reader


def supported_formats() -> list[str]:
    """What a person reads in an error message: one label per family."""
    _load_families()
    return sorted(reader.label for reader in READERS.values())


def detect(path: Path, name: str | None = None) -> Reader:
    """The reader for ``path`` (``name``: the file's original name, when the path is a temporary one)."""
    with open(path, "rb") as file:
        head = file.read(SNIFF_BYTES)
    return detect_head(head, name or path.name)


def detect_head(head: bytes, name: str) -> Reader:
    """The reader for a file called ``name`` that starts with ``head`` (its first :data:`SNIFF_BYTES`)."""
    _load_families()
    scored = sorted(
        ((reader.sniff(head, name), reader.family, reader) for reader in READERS.values()),
        key=lambda scored: (scored[0], scored[1]),
        reverse=True,
    )
    if not scored or scored[0][0] < MIN_CONFIDENCE:
        raise UnknownFormat(
            f"{name}: not a file cellstore can read. Supported formats: {', '.join(supported_formats())}"
        )
    return scored[0][2]


def _load_families() -> None:
    """Import every module of :mod:`cellstore.formats.families`; importing one registers its readers."""
    import cellstore.formats.families as families

    for module in pkgutil.iter_modules(families.__path__):
        importlib.import_module(f"{families.__name__}.{module.name}")
