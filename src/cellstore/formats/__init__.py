"""Instrument files in, normalised time series out.

One module per instrument family declares how its files are recognised and how
their columns map onto the columns of §6.1 (:mod:`cellstore.formats.base`);
:mod:`cellstore.formats.detect` picks the reader from a file's content, and
:mod:`cellstore.formats.normalise` turns what a reader found into a series the
processing pipeline accepts. Nothing here imports the web layer.
"""
