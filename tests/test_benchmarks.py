"""The benchmarks run (quick mode) and measure the real path: a broken benchmark would
otherwise go unnoticed until someone needs its figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# One row of the `== Summary` table: figure, value (with its unit), target, met?
FIGURE = re.compile(
    r"^  (?P<figure>\S.*?)  +(?P<value>-?\d+(\.\d+)?)( (ms|s|x))?"
    r"  +(?P<target>-|(<=|>=) -?\d+(\.\d+)?( (ms|s|x))?)  +(?P<met>met|NOT met|-)$"
)


def summary_rows(stdout: str) -> list[str]:
    """The lines of the summary table after its header, up to the blank line."""
    after = stdout.split("\n== Summary\n", 1)[1]
    lines = after.split("\n\n", 1)[0].splitlines()
    assert lines[0].split() == ["figure", "value", "target", "met?"]
    return lines[1:]


SCRIPTS = ["bench_validate.py", "bench_render.py", "bench_deploy.py", "bench_age.py", "bench_scan.py"]


@pytest.fixture(scope="module")
def smoke_runs() -> dict[str, tuple[int, str, str]]:
    """Every benchmark's --quick run, all started at once (their figures are not
    checked here, so they may share the machine): exit code, stdout, stderr."""
    started = {
        script: subprocess.Popen(
            [sys.executable, str(REPO / "benchmarks" / script), "--quick"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in SCRIPTS
    }
    done: dict[str, tuple[int, str, str]] = {}
    try:
        for script, process in started.items():
            out, err = process.communicate(timeout=300)
            done[script] = (process.returncode, out, err)
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return done


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs(script: str, smoke_runs: dict[str, tuple[int, str, str]]) -> None:
    code, stdout, stderr = smoke_runs[script]
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    assert "\n== Summary\n" in stdout
    rows = summary_rows(stdout)
    assert len(rows) >= 3, stdout
    unparsed = [row for row in rows if not FIGURE.match(row)]
    assert unparsed == [], stdout


def test_a_figure_line_that_does_not_parse_is_caught() -> None:
    """The pattern rejects what a broken report would print (no value, a unit-less
    target word), so the check above means something."""
    assert FIGURE.match("  render 3 targets, 50 environments  1.624 s  <= 3 s  NOT met")
    assert FIGURE.match("  unchanged re-apply: requests other than reads  0  <= 0  met")
    assert not FIGURE.match("  render 3 targets  nan s  -  -")
    assert not FIGURE.match("  render 3 targets  1.6 s  soon  met")
    assert not FIGURE.match("  render 3 targets  1.6 s  -  maybe")
