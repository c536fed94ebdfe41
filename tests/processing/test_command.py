"""``cellstore process``: the command function, through typer as the CLI registers it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import typer
from bench._series import cycling_series
from typer.testing import CliRunner

from cellstore.processing.command import process_command
from cellstore.processing.pipeline import process_series

app = typer.Typer()
app.command("process")(process_command)
app.command("other")(lambda: None)  # two commands, so "process" is a subcommand as in cellstore.cli


@pytest.fixture
def series_path(tmp_path: Path) -> Path:
    path = tmp_path / "series.parquet"
    cycling_series(5_000, scale=0.05).write_parquet(path)
    return path


def test_writes_the_same_steps_and_cycles_as_the_worker(tmp_path: Path, series_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app,
        [
            "process",
            str(series_path),
            "--steps",
            str(out / "s.parquet"),
            "--cycles",
            str(out / "c.parquet"),
            "--rated-capacity",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "5000 rows" in result.output
    process_series(
        series_path, tmp_path / "steps.parquet", tmp_path / "cycles.parquet", rated_capacity_ah=5.0
    )
    assert pl.read_parquet(out / "s.parquet").equals(pl.read_parquet(tmp_path / "steps.parquet"))
    assert pl.read_parquet(out / "c.parquet").equals(pl.read_parquet(tmp_path / "cycles.parquet"))


def test_without_rated_capacity(tmp_path: Path, series_path: Path) -> None:
    process_command(series_path, tmp_path / "s.parquet", tmp_path / "c.parquet", None)
    steps = pl.read_parquet(tmp_path / "s.parquet")
    assert steps.height > 0
    assert "Constant current discharge" in steps["Step type"].to_list()


def test_a_bad_series_exits_1_with_the_processing_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    pl.DataFrame({"Step count": [0, 2], "Time [s]": [0.0, 1.0]}).write_parquet(bad)
    result = CliRunner().invoke(
        app, ["process", str(bad), "--steps", str(tmp_path / "s"), "--cycles", str(tmp_path / "c")]
    )
    assert result.exit_code == 1
    assert "Step count must rise by 0 or 1" in result.output
    assert not (tmp_path / "s").exists()


def test_help_and_missing_file(tmp_path: Path) -> None:
    runner = CliRunner()
    assert "--rated-capacity" in runner.invoke(app, ["process", "--help"]).output
    missing = runner.invoke(app, ["process", str(tmp_path / "nope.parquet"), "--steps", "s", "--cycles", "c"])
    assert missing.exit_code == 2


def test_runs_in_a_fresh_interpreter(tmp_path: Path, series_path: Path) -> None:
    code = (
        "import sys, typer; from cellstore.processing.command import process_command; "
        "typer.run(process_command)"
    )
    done = subprocess.run(
        [
            *(sys.executable, "-c", code, str(series_path)),
            *("--steps", str(tmp_path / "s.parquet"), "--cycles", str(tmp_path / "c.parquet")),
            *("--rated-capacity", "5"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert pl.read_parquet(tmp_path / "c.parquet").height > 0
