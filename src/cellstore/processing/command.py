"""``cellstore process``: steps and cycle metrics of a parquet series, without a server.

The worker derives a measurement's ``steps.parquet`` and ``cycles.parquet`` with
:func:`~cellstore.processing.pipeline.process_series`; this command runs the very
same function on local files, so a lab can check a series (or reproduce what the
server stored) offline. It imports nothing from the web layer. Registered in
``cellstore.cli`` with ``app.command("process")(process_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cellstore.processing.errors import SeriesError
from cellstore.processing.pipeline import process_series


def process_command(
    series: Annotated[
        Path,
        typer.Argument(
            help="Time series parquet in the API's columns (Time \\[s], Voltage [V], Current [A], "
            "Step count, ...).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    steps: Annotated[Path, typer.Option("--steps", help="Where to write the steps table (parquet).")],
    cycles: Annotated[Path, typer.Option("--cycles", help="Where to write the cycle metrics (parquet).")],
    rated_capacity: Annotated[
        float | None,
        typer.Option(
            "--rated-capacity",
            min=0.0,
            help="Rated capacity of the cell in A.h: step tolerances become C/1000 (rest) and C/200 "
            "(constant current) instead of 1 % of the largest current.",
        ),
    ] = None,
) -> None:
    """Validate a time series and write its steps and cycle metrics, as the server's worker does."""
    try:
        result = process_series(
            series, steps, cycles, rated_capacity_ah=rated_capacity if rated_capacity else None
        )
    except SeriesError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(
        f"{result.rows} rows, {result.steps} steps, {result.cycles} cycles: wrote {steps} and {cycles}"
    )
