"""Benchmark `secconf validate`: cold start against the import floor, and scale.

    .venv/bin/python benchmarks/bench_validate.py [--quick] [--runs N] [--profile]

Cold start: `secconf validate --all` on the bundled configuration (the checkout's own
config repo) as a fresh process, next to the floor `python -c "import pydantic, yaml"`,
interleaved; secconf once compiled first (as a wheel install leaves it: the target) and
once compiled from source at every start. Scale: `secconf validate --all --offline
--format json` on 10, 100 and 1,000 generated environments, one process each.
--profile adds the largest entries of `python -X importtime` for the cold start.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import harness
from harness import Report, Samples, Target

FLOOR = (sys.executable, "-c", "import pydantic, yaml")
COLD_RATIO = Target("<=", 2.0)  # issue 10, item 8
SCALE_SECONDS = Target("<=", 2.0)
SIZES = {"full": (10, 100, 1000), "quick": (20,)}
PROFILE_TOP = 12


def cold_start(
    compiled: dict[str, str], source: dict[str, str], runs: int, warmup: int
) -> dict[str, Samples]:
    """The floor and both secconf starts, interleaved run by run after warm-up runs."""
    command = harness.secconf("validate", "--all")

    def start(env: Mapping[str, str], argv: Sequence[str | Path]) -> float:
        return harness.run(argv, env=env, ok=(0, 1)).seconds  # 1: findings, still measured

    return harness.interleave(
        {
            "floor": lambda: start(compiled, FLOOR),
            "bytecode": lambda: start(compiled, command),
            "source": lambda: start(source, command),
        },
        runs,
        warmup,
    )


def validate_many(root: Path, size: int, env: Mapping[str, str]) -> float:
    """One `secconf validate --all --offline` process over `size` generated environments;
    its wall time. Raises when it did not validate them all without an error finding."""
    done = harness.run(
        harness.secconf("validate", "--all", "--offline", "--format", "json"), env=env, cwd=root
    )
    report = json.loads(done.stdout)
    if len(report["environments"]) != size or report["summary"]["errors"]:
        raise harness.Broken(f"validated {len(report['environments'])} of {size}, with errors")
    return done.seconds


def scale(
    repos: harness.Repos, sizes: Sequence[int], env: Mapping[str, str], runs: int, warmup: int
) -> dict[int, Samples]:
    """Per size, a fresh repo and `runs` timed processes after `warmup` untimed ones."""
    env = {**env, **repos.workload.environ}  # from_env values set, as in CI: all checked
    result = {}
    for size in sizes:
        root = repos.make(size)
        for _ in range(warmup):  # the OS file cache
            validate_many(root, size, env)
        result[size] = Samples(tuple(validate_many(root, size, env) for _ in range(runs)))
    return result


def import_profile(env: Mapping[str, str]) -> list[str]:
    """The largest cumulative entries of one `python -X importtime` run of the console
    script, and the total: where a cold start goes."""
    done = harness.run(
        [sys.executable, "-X", "importtime", harness.SECCONF, "validate", "--all"],
        env=env,
        ok=(0, 1),
    )
    entries: dict[str, tuple[int, int]] = {}  # module: (self us, cumulative us)
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if line.startswith("import time:") and len(fields) == 3 and fields[0].strip().isdigit():
            entries[fields[2].strip()] = (int(fields[0]), int(fields[1]))
    if not entries:
        raise harness.Broken("no -X importtime output")
    own = sum(s for name, (s, _) in entries.items() if name.strip().startswith("secconf"))
    total = sum(s for s, _ in entries.values())
    lines = [
        f"import profile (one run, bytecode): {len(entries)} modules, {total / 1000:.0f} ms;"
        f" secconf's own module bodies {own / 1000:.0f} ms; top {PROFILE_TOP} cumulative:"
    ]
    top = sorted(entries.items(), key=lambda kv: kv[1][1], reverse=True)[:PROFILE_TOP]
    lines += [f"  {c / 1000:7.1f} ms  {name}" for name, (_, c) in top]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print; exit 0 unless the benchmark itself broke."""
    args = harness.parse_args(__doc__, argv, runs=(15, 1))
    sizes = SIZES["quick" if args.quick else "full"]
    report = Report(
        "secconf validate",
        args,
        "secconf processes import a copy of the package: compiled first, or from source",
    )
    with harness.workspace("secconf-bench-validate-") as tmp:
        installs = harness.Installs(tmp)
        compiled, source = installs.make(compiled=True), installs.make(compiled=False)
        warmup = 0 if args.quick else 2
        cold = cold_start(compiled, source, args.runs, warmup)
        repos = harness.Repos(tmp, compiled, harness.Workload.new(), in_process=False)
        scale_runs = 1 if args.quick else min(args.runs, 5)  # 1,000 environments: ~1 s a run
        validated = scale(repos, sizes, compiled, scale_runs, min(warmup, 1))
        profile = import_profile(compiled) if args.profile else []

    floor = cold["floor"].median
    report.note(f"scale: median of {scale_runs} run(s) per size, after an untimed one")
    report.note(
        f"cold start: median of {args.runs} interleaved runs (min: "
        + ", ".join(f"{k} {1000 * v.best:.0f} ms" for k, v in cold.items())
        + ")"
    )
    for line in profile:
        report.note(line)
    report.add("cold start: python -c 'import pydantic, yaml'", 1000 * floor, "ms")
    report.add(
        "cold start: secconf validate --all (bytecode)", 1000 * cold["bytecode"].median, "ms"
    )
    report.add(
        "cold start ratio to the floor (bytecode)", cold["bytecode"].median / floor, "x", COLD_RATIO
    )
    report.add("cold start: secconf validate --all (source)", 1000 * cold["source"].median, "ms")
    report.add("cold start ratio to the floor (source)", cold["source"].median / floor, "x")
    for size, samples in validated.items():
        target = SCALE_SECONDS if size == 1000 else None
        report.add(f"validate {size} environments (one process)", samples.median, "s", target)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        marginal = (validated[large].median - validated[small].median) / (large - small)
        report.add(f"cost per environment ({small} to {large})", 1000 * marginal, "ms")
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
