"""Benchmark `secconf render`: the path users run, one process per target.

    .venv/bin/python benchmarks/bench_render.py [--quick] [--runs N] [--profile]

For 10, 100 and 1,000 generated environments whose file stores already exist (made
beforehand, untimed, by `secconf keys ensure --all`; the master key in the repo's key
file), three processes `secconf render --all --target dotenv|kubernetes|vault`, each
timed (stores read, every file written anew: the outputs are removed before each run, as
in a fresh CI checkout); their total is the headline. Outputs of the first,
middle and last environment are parsed back (python-dotenv, PyYAML, json) and compared
with the values the environment files give. In full mode, a sampled loop of `kubectl
create secret generic --dry-run=client`, what a user would script instead.
--profile adds a cProfile of one in-process render of the largest repo (kubernetes).
"""

from __future__ import annotations

import base64
import functools
import io
import itertools
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import harness
from harness import Report, Samples, Target, Workload

TARGETS = ("dotenv", "kubernetes", "vault")
# Where each target writes by default (README: `targets:`): out/ENV + suffix.
SUFFIXES = {"dotenv": ".env", "kubernetes": ".k8s.yaml", "vault": ".vault.json"}
TOTAL_SECONDS = Target("<=", 3.0)  # issue 10, item 9: the three processes, 1,000 environments
SIZES = {"full": (10, 100, 1000), "quick": (20,)}
KUBECTL_SAMPLE = 20


def prepare_repo(repos: harness.Repos, size: int, env: Mapping[str, str]) -> Path:
    """A repo of `size` environments whose file stores exist (each holds its environment
    key), so that the timed renders read stores rather than create them."""
    root = repos.make(size)
    harness.run(harness.secconf("keys", "ensure", "--all"), env=env, cwd=root)
    stores = list((root / "secrets").glob("*.enc.yaml"))  # the documented default path
    if len(stores) != size:
        raise harness.Broken(f"`keys ensure --all` left {len(stores)} stores for {size} envs")
    return root


def render_runs(root: Path, env: Mapping[str, str], runs: int, warmup: int) -> dict[str, Samples]:
    """The three `secconf render --all --target T` processes, interleaved."""

    aside = root.parent / (root.name + "-replaced")  # removed with the workspace
    aside.mkdir(exist_ok=True)
    count = itertools.count()

    def render(target: str) -> float:
        # As in a fresh CI checkout: every file written anew (render leaves a file whose
        # content is unchanged alone, so a second run would measure no write at all).
        # The last run's files are moved aside, not deleted: on ext4, creating a thousand
        # files within seconds of deleting a thousand took 0.3-1.0 s here instead of
        # 0.03 s (the freed inodes), a cost a fresh checkout, which deletes nothing,
        # does not pay.
        batch = aside / str(next(count))
        batch.mkdir()
        for old in (root / "out").glob("*" + SUFFIXES[target]):
            old.rename(batch / old.name)
        return harness.run(
            harness.secconf("render", "--all", "--target", target), env=env, cwd=root
        ).seconds

    return harness.interleave({t: functools.partial(render, t) for t in TARGETS}, runs, warmup)


def check_outputs(root: Path, size: int, workload: Workload) -> None:
    """The files of sampled environments read back, by libraries we did not write, as
    exactly the values their environment files give: or the benchmark is broken."""
    import yaml
    from dotenv import dotenv_values

    for index in harness.samples_of(size):
        name = harness.environment_name(index)
        want = workload.values(index)
        files = {t: root / "out" / (name + SUFFIXES[t]) for t in TARGETS}
        text = files["dotenv"].read_text(encoding="utf-8")
        dotenv = dict(dotenv_values(stream=io.StringIO(text), interpolate=False))
        vault = json.loads(files["vault"].read_text(encoding="utf-8"))
        docs = {d["kind"]: d for d in yaml.safe_load_all(files["kubernetes"].read_bytes())}
        secret = {k: base64.b64decode(v).decode() for k, v in docs["Secret"]["data"].items()}
        kubernetes = {**docs["ConfigMap"]["data"], **secret}
        for target, got in (("dotenv", dotenv), ("vault", vault), ("kubernetes", kubernetes)):
            if got != want:
                raise harness.Broken(f"{files[target].name} does not hold {name}'s values")
        if set(secret) != set(harness.SENSITIVE):
            raise harness.Broken(f"{name}: the Secret holds {sorted(secret)}")
    wrong = [t for t in TARGETS if len(list((root / "out").glob("*" + SUFFIXES[t]))) != size]
    if wrong:
        raise harness.Broken(f"not {size} files for {wrong}")


def kubectl_loop(kubectl: str, root: Path, tmp: Path) -> float:
    """Milliseconds per environment of `kubectl create secret generic NAME
    --from-env-file=FILE --dry-run=client -o yaml` over a sample, one process each (what a
    user would script), after one untimed call; one result checked against the values."""
    import yaml

    inputs = []
    for index in range(1, KUBECTL_SAMPLE + 1):
        name = harness.environment_name(index)
        payload = json.loads((root / "out" / (name + SUFFIXES["vault"])).read_text())
        path = tmp / f"{name}.kubectl.env"
        path.write_text("".join(f"{k}={v}\n" for k, v in payload.items()), encoding="utf-8")
        inputs.append((name, path, payload))
    env = harness.child_env()

    def create(name: str, path: Path) -> harness.Completed:
        argv = [kubectl, "create", "secret", "generic", name, f"--from-env-file={path}"]
        return harness.run([*argv, "--dry-run=client", "-o", "yaml"], env=env, cwd=tmp)

    create(*inputs[0][:2])
    outputs = [create(name, path) for name, path, _ in inputs]
    secret = yaml.safe_load(outputs[0].stdout)["data"]
    if {k: base64.b64decode(v).decode() for k, v in secret.items()} != inputs[0][2]:
        raise harness.Broken("kubectl's Secret does not hold the values secconf delivers")
    return 1000 * sum(o.seconds for o in outputs) / len(outputs)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print; exit 0 unless the benchmark itself broke."""
    args = harness.parse_args(__doc__, argv, runs=(3, 1))
    sizes = SIZES["quick" if args.quick else "full"]
    report = Report(
        "secconf render --all, one process per target",
        args,
        "processes import a compiled copy of secconf; stores exist beforehand, outputs do not",
    )
    kubectl = None if args.quick else shutil.which("kubectl")
    with harness.workspace("secconf-bench-render-") as tmp:
        env = harness.Installs(tmp).make(compiled=True)
        workload = Workload.new()
        env = {**env, **workload.environ}
        repos = harness.Repos(tmp, env, workload, in_process=False)
        timings: dict[int, dict[str, Samples]] = {}
        for size in sizes:
            root = prepare_repo(repos, size, env)
            timings[size] = render_runs(root, env, args.runs, 0 if args.quick else 1)
            check_outputs(root, size, workload)
        kubectl_ms = kubectl_loop(kubectl, root, tmp) if kubectl else None
        profile = []
        if args.profile:
            with harness.environ(workload.environ):
                profile = harness.profile_main(
                    ["--root", root, "render", "--all", "--target", "kubernetes"],
                    f"secconf render --all --target kubernetes ({sizes[-1]} envs, files unchanged)",
                )

    report.note(
        "outputs parsed back and compared with the environment files: first, middle and last"
    )
    report.note("  environment of each size, 3 targets (python-dotenv, PyYAML, json)")
    for line in profile:
        report.note(line)
    total = {size: sum(s.median for s in t.values()) for size, t in timings.items()}
    for size in sizes:
        target = TOTAL_SECONDS if size == 1000 else None
        report.add(f"render 3 targets, {size} environments (3 processes)", total[size], "s", target)
    large = sizes[-1]
    for name, samples in timings[large].items():
        report.add(f"render --all --target {name}, {large} environments", samples.median, "s")
    report.add(f"per environment, 3 targets, at {large}", 1000 * total[large] / large, "ms")
    if len(sizes) > 1:
        marginal = (total[large] - total[sizes[0]]) / (large - sizes[0])
        report.add(
            f"cost per environment ({sizes[0]} to {large}), 3 targets", 1000 * marginal, "ms"
        )
    if kubectl_ms is not None:
        ours = 1000 * timings[large]["kubernetes"].median / large
        report.add(
            f"kubectl create secret, per environment ({KUBECTL_SAMPLE} sampled)", kubectl_ms, "ms"
        )
        report.add(
            f"kubectl per env / secconf kubernetes per env at {large}", kubectl_ms / ours, "x"
        )
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
