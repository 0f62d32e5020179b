"""The benchmarks run (quick mode) and measure the real path: a broken benchmark would
otherwise go unnoticed until someone needs its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", ["bench_validate.py", "bench_render.py", "bench_deploy.py"])
def test_benchmark_runs(script: str) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "== Summary" in result.stdout
