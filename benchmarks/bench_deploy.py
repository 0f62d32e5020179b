"""Benchmark `secconf apply --target vault`: first apply, unchanged re-apply, a naive loop.

    .venv/bin/python benchmarks/bench_deploy.py [--quick] [--runs N] [--profile]

200 generated environments delivered to the loopback Vault of the test suite
(tests/support/vault_server.py), run in a separate process so that it does not compete
with secconf for this process's GIL. secconf runs as `secconf apply --all --target vault
--yes` through `secconf.cli.main` in this process (imports warm), and once as a real
process. The naive loop is what a user would script with hvac: one client, per
environment a read then a write of the payload `secconf render --target vault` wrote.
Re-apply and naive loop are interleaved, with 2 ms added to every request by the server
(a stand-in for a network round trip; the target's setting) and on bare loopback. The
server counts every request: a phase that does not send exactly what secconf promises
(an unchanged re-apply: one read per environment, no write) breaks the benchmark.
--profile adds a cProfile of one in-process re-apply with --parallel 1.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import harness
from harness import Report, Samples, Target, Workload

VAULT_SERVER = harness.REPO / "tests" / "support" / "vault_server.py"
SERVE_FLAG = "--serve-vault"  # internal: this script as the server's process
MOUNT = "secret"  # the default targets.vault mount; secret_path defaults to "{env}/app"
LATENCY = 0.002  # seconds added per request: issue 10, item 9
RATIO = Target(">=", 3.0)  # naive loop / unchanged re-apply, at LATENCY, 200 environments
SIZES = {"full": 200, "quick": 50}
KINDS = ("read", "read_404", "data_write", "metadata_write", "other", "failed")

# --------------------------------------------------------------------------- the server


def tally(records: Sequence[Any]) -> dict[str, int]:
    """The server's requests by kind: KV v2 reads (404: not there yet), data writes,
    custom-metadata writes, anything else, and failed writes."""
    counts = dict.fromkeys(KINDS, 0)
    for record in records:
        parts = record.path.split("/")  # "", "v1", MOUNT, "data" | "metadata", ...
        segment = parts[3] if len(parts) > 3 and parts[2] == MOUNT else ""
        if record.method == "GET" and segment == "data":
            counts["read"] += 1
            counts["read_404"] += record.status == 404
            continue
        if record.method in ("POST", "PUT") and segment == "data":
            counts["data_write"] += 1
        elif record.method in ("POST", "PUT", "PATCH") and segment == "metadata":
            counts["metadata_write"] += 1
        else:
            counts["other"] += 1
        counts["failed"] += not 200 <= record.status < 300
    return counts


def serve_vault(commands: TextIO, answers: TextIO) -> int:
    """The server's process: print URL and token, then answer one JSON line per command:
    `counts` (since the last `reset`), `reset`, `delay N SECONDS`. EOF stops it."""
    spec = importlib.util.spec_from_file_location("bench_vault_server", VAULT_SERVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    with module.VaultServer(token=f"bench-{secrets.token_hex(8)}") as vault:
        print(json.dumps({"url": vault.url, "token": vault.token}), file=answers, flush=True)
        for line in commands:
            command = line.split()
            answer: dict[str, int] = {}
            if command == ["counts"]:
                answer = tally(vault.requests)
            elif command == ["reset"]:
                vault.reset_requests()
            elif len(command) == 3 and command[0] == "delay":
                vault.delay_next(int(command[1]), float(command[2]))
            else:
                break
            print(json.dumps(answer), file=answers, flush=True)
    return 0


class VaultProcess:
    """The loopback Vault in a child process, driven over its stdin and stdout."""

    def __init__(self) -> None:
        import subprocess

        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), SERVE_FLAG],
            env=harness.child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = self.ask(None)
        self.url: str = hello["url"]
        self.token: str = hello["token"]

    def ask(self, command: str | None) -> dict[str, Any]:
        """Send a command (None: only read the next answer) and return the answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise harness.Broken(f"the Vault server process exited ({self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        """End it (it holds no state worth a graceful shutdown) and wait for it."""
        self.process.terminate()
        self.process.wait(timeout=10)


# --------------------------------------------------------------------------- phases


class Bench:
    """One repo of `size` environments, the server, and the checked, timed phases."""

    def __init__(self, vault: VaultProcess, root: Path, size: int, env: Mapping[str, str]):
        self.vault, self.root, self.size, self.env = vault, root, size, env
        self.payloads: list[tuple[str, dict[str, str]]] = []
        self.counts: dict[str, dict[str, int]] = {}  # phase: what the server last received

    def expect(self, read_404: int, data_write: int, metadata_write: int) -> dict[str, int]:
        """What a phase must send: one read per environment, plus the writes given."""
        n = self.size
        per = (n, read_404 * n, data_write * n, metadata_write * n, 0, 0)
        return dict(zip(KINDS, per, strict=True))

    def measured(
        self, phase: str, action: Callable[[], object], want: Mapping[str, int], delay: float
    ) -> float:
        """Wall time of one `action` on a fresh request log, each of its requests held
        `delay` seconds; raises when the server did not receive exactly `want`."""
        self.vault.ask("reset")
        if delay:
            requests = sum(want[k] for k in ("read", "data_write", "metadata_write", "other"))
            self.vault.ask(f"delay {requests} {delay}")
        seconds = harness.timed(action)
        got = self.vault.ask("counts")
        if got != want:
            raise harness.Broken(f"{phase}: the server received {got}, expected {want}")
        self.counts[phase] = got
        return seconds

<<<<<<< HEAD
def secconf_apply(root: Path, parallel: int = CLI_PARALLEL) -> list[Any]:
    """What `secconf apply --all --target vault --yes` does once its options are parsed:
    open the project, plan every environment, apply the plans. Returns the outcomes."""
    from secconf.deploy import apply_plans, make_target, plan_environments
    from secconf.operations.project import Project
=======
    def apply_argv(self, *extra: str) -> list[str | Path]:
        """`secconf apply --all --target vault --yes` on this repo, plus `extra`."""
        return ["--root", self.root, "apply", "--all", "--target", "vault", "--yes", *extra]
>>>>>>> bench

    def check_statuses(self, stdout: str, status: str) -> None:
        """Every environment's result (apply --format json) is `status`."""
        rows = json.loads(stdout)["environments"]
        statuses = {row.get("result", {}).get("status") for row in rows}
        if len(rows) != self.size or statuses != {status}:
            raise harness.Broken(f"{len(rows)} results, statuses {statuses}, not all {status}")

    def apply(self, *, check_status: str | None = None) -> None:
        """One in-process `secconf apply --all --target vault --yes`: the text output users
        see, or with `check_status` JSON, every environment's status checked. (Exit 0 and
        the server's exact counts are the check of the re-apply: no environment failed,
        none wrote.)"""
        argv = self.apply_argv() if check_status is None else self.apply_argv("--format", "json")
        code, out, err = harness.call_main(argv)
        if code != 0:
            raise harness.Broken(f"secconf apply exited {code}: {err.strip()[-600:]}")
        if check_status is not None:
            self.check_statuses(out, check_status)

    def apply_process(self) -> None:
        """One `secconf apply --all --target vault --yes` process (a compiled install)."""
        harness.run(harness.secconf(*self.apply_argv()), env=self.env)

    def naive(self) -> None:
        """The loop a user would write with hvac: one client; per environment a read (404
        tolerated), then a write of the payload."""
        import hvac
        import hvac.exceptions

        kv = hvac.Client(url=self.vault.url, token=self.vault.token).secrets.kv.v2
        for path, payload in self.payloads:
            with contextlib.suppress(hvac.exceptions.InvalidPath):  # not there yet
                kv.read_secret_version(path=path, mount_point=MOUNT, raise_on_deleted_version=False)
            kv.create_or_update_secret(path=path, secret=payload, mount_point=MOUNT)

    def load_payloads(self, workload: Workload) -> None:
        """Render the vault target (stable interface), read its payloads for the naive
        loop, and check the sampled ones against the environment files."""
        code, _, err = harness.call_main(
            ["--root", self.root, "render", "--all", "--target", "vault"]
        )
<<<<<<< HEAD


def naive_payloads(root: Path) -> list[tuple[str, dict[str, str]]]:
    """(KV path, payload) per environment: exactly what secconf delivers, precomputed."""
    from secconf.operations.project import Project
    from secconf.render import RenderInput
    from secconf.render.targets.vault import vault_payload

    project = Project.open(root)
    out = []
    for environment in project.select((), all_=True):
        config = project.resolve(environment, stored={})
        path = environment.targets.vault.secret_path.format(env=environment.name)
        out.append((path, vault_payload(RenderInput(config, None, b""))))
    return out


def naive_loop(url: str, token: str, payloads: Sequence[tuple[str, dict[str, str]]]) -> None:
    """The loop a user would write with hvac: one client; per environment read, then write."""
    import hvac
    import hvac.exceptions

    kv = hvac.Client(url=url, token=token).secrets.kv.v2
    for path, payload in payloads:
        with suppress(hvac.exceptions.InvalidPath):  # no secret there yet
            kv.read_secret_version(path=path, mount_point=MOUNT, raise_on_deleted_version=False)
        kv.create_or_update_secret(path=path, secret=payload, mount_point=MOUNT)


def check_live(url: str, token: str, payloads: Sequence[tuple[str, dict[str, str]]]) -> None:
    """After the first apply, secrets hold exactly their payloads and secconf's marks."""
    import hvac

    kv = hvac.Client(url=url, token=token).secrets.kv.v2
    for path, payload in (payloads[0], payloads[-1]):
        data = kv.read_secret_version(path=path, mount_point=MOUNT, raise_on_deleted_version=True)
        custom = data["data"]["metadata"].get("custom_metadata") or {}
        if data["data"]["data"] != payload or custom.get("managed-by") != "secconf":
            raise RuntimeError(f"{MOUNT}/{path} does not hold what secconf delivers")


def prepare_all(root: Path) -> None:
    """The CPU part of a plan, without Vault: open the project and prepare every
    environment (store lookup, resolution, validation), as plan_environments does."""
    from secconf.operations.prepare import prepare
    from secconf.operations.project import Project

    project = Project.open(root)
    for environment in project.select((), all_=True):
        prepare(project, environment, notify=lambda message: None, generate=True)


def run_cli(root: Path, url: str, token: str) -> float:
    """Wall time of one `secconf apply --all --target vault --yes` process."""
    env = {**os.environ, "VAULT_ADDR": url, "VAULT_TOKEN": token}
    command = [str(SECCONF), "--root", str(root), "apply", "--all", "--target", "vault", "--yes"]
    start = time.perf_counter()
    done = subprocess.run(
        command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"secconf apply exited {done.returncode}: {done.stderr[-500:]}")
    return seconds


# --------------------------------------------------------------------------- measuring


@dataclasses.dataclass(frozen=True)
class Pass:
    """One timed pass: wall and CPU time of this process, and what the server saw."""

    wall: float
    cpu: float  # this process, every thread
    counts: Counts  # requests by kind, and the server's CPU time

    @property
    def requests(self) -> dict[str, int]:
        """The request counts alone (without the server's CPU time)."""
        return {k: v for k, v in self.counts.items() if k != "server_cpu_us"}


@dataclasses.dataclass(frozen=True)
class Phase:
    """The passes of one phase."""

    label: str
    passes: tuple[Pass, ...]

    @property
    def median(self) -> float:
        """The median wall time."""
        return statistics.median(p.wall for p in self.passes)

    @property
    def best(self) -> float:
        """The fastest wall time."""
        return min(p.wall for p in self.passes)

    @property
    def cpu(self) -> float:
        """The median CPU time of this process."""
        return statistics.median(p.cpu for p in self.passes)

    @property
    def server_cpu(self) -> float:
        """The median CPU time of the server process, in seconds."""
        return statistics.median(p.counts["server_cpu_us"] for p in self.passes) / 1e6

    @property
    def counts(self) -> Counts:
        """The requests of the first pass."""
        return self.passes[0].requests

    @property
    def repeatable(self) -> bool:
        """Every pass sent exactly the same requests."""
        return all(p.requests == self.counts for p in self.passes)


def measured(vault: VaultProcess, action: Callable[[], Any]) -> tuple[Pass, Any]:
    """Run `action` once between a reset and a count of the server's requests."""
    vault.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Pass(wall, cpu, vault.counts()), result


def apply_pass(vault: VaultProcess, root: Path, size: int, status: str, parallel: int) -> Pass:
    """One measured secconf apply; its outcomes are checked, then dropped (they hold the
    hvac clients and their open connections)."""
    one, outcomes = measured(vault, lambda: secconf_apply(root, parallel))
    check_outcomes(outcomes, size, status)
    return one


@dataclasses.dataclass(frozen=True)
class Measurement:
    """Everything one run measured."""

    size: int
    first: Phase
    unchanged: Phase
    naive: Phase
    sequential: Pass  # one unchanged re-apply with --parallel 1
    prepare_only: float  # Project.open + prepare() of every environment: no Vault at all
    cli: float | None  # one `secconf apply --all --target vault --yes` process, unchanged
    latency_unchanged: Pass  # the unchanged re-apply with LATENCY_SECONDS per request
    latency_naive: Pass  # the naive loop likewise
    profile: str | None


def measure(size: int, passes: int, *, with_cli: bool, force_profile: bool) -> Measurement:
    """Start the server process and a temp repo; measure every phase against them."""
    vapid_private, vapid_public = vapid_pair()
    # from_env values come from this process's environment, as in CI.
    os.environ[ENV_JWT] = secrets.token_urlsafe(64)
    os.environ[ENV_VAPID] = vapid_private
    os.environ[ENV_TURNSTILE] = "0x4AAAAAAA" + secrets.token_hex(16)
    for name in ("VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_SKIP_VERIFY"):
        os.environ.pop(name, None)
    with vault_process() as vault, tempfile.TemporaryDirectory(prefix="secconf-deploy-") as tmp:
        os.environ["VAULT_ADDR"], os.environ["VAULT_TOKEN"] = vault.url, vault.token
        root = make_config_repo(Path(tmp), size, vapid_public)
        payloads = naive_payloads(root)

        first_pass = apply_pass(vault, root, size, "applied", CLI_PARALLEL)
        first = Phase("first apply (secconf)", (first_pass,))
        check_live(vault.url, vault.token, payloads)
        unchanged: list[Pass] = []
        naive: list[Pass] = []
        for _ in range(passes):  # interleaved, so that drift affects both alike
            unchanged.append(apply_pass(vault, root, size, "unchanged", CLI_PARALLEL))
            naive.append(measured(vault, lambda: naive_loop(vault.url, vault.token, payloads))[0])
        reapply = Phase("unchanged re-apply (secconf)", tuple(unchanged))
        naive_phase = Phase("naive sequential hvac loop", tuple(naive))

        sequential = apply_pass(vault, root, size, "unchanged", 1)
        start = time.perf_counter()
        prepare_all(root)
        prepare_only = time.perf_counter() - start
        cli = run_cli(root, vault.url, vault.token) if with_cli else None

        vault.delay(size, LATENCY_SECONDS)  # one read per environment
        latency_unchanged = apply_pass(vault, root, size, "unchanged", CLI_PARALLEL)
        vault.delay(2 * size, LATENCY_SECONDS)  # a read and a write per environment
        latency_naive = measured(vault, lambda: naive_loop(vault.url, vault.token, payloads))[0]

        missed = naive_phase.median / reapply.median < RATIO_TARGET
        profile = profile_reapply(root) if missed or force_profile else None
    return Measurement(
        size,
        first,
        reapply,
        naive_phase,
        sequential,
        prepare_only,
        cli,
        latency_unchanged,
        latency_naive,
        profile,
    )


# --------------------------------------------------------------------------- profile


def profile_group(filename: str, function: str) -> str:
    """The package (or kind of built-in) a profiled function belongs to."""
    if filename == "~":
        if any(word in function for word in ("socket", "select", "poll")):
            return "socket calls (C): waiting for the server"
        if "lock" in function:
            return "lock waits (C)"
        return "other C built-ins"
    if filename.startswith("<frozen "):
        return "stdlib " + filename[len("<frozen ") : -1].split(".")[0]
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    if "secconf" in parts:
        inner = parts[len(parts) - parts[::-1].index("secconf") :]
        return "secconf." + (inner[0].removesuffix(".py") if inner else "")
    if path.is_relative_to(STDLIB):
        return "stdlib " + path.relative_to(STDLIB).parts[0].removesuffix(".py")
    if path.name == Path(__file__).name:
        return "the benchmark"
    return "other"


def profile_reapply(root: Path) -> str:
    """cProfile of one unchanged re-apply with --parallel 1 (cProfile sees only the thread
    it runs in, so the pool's work would be invisible): own time by package, the top
    functions by own time, and secconf's functions by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    outcomes = secconf_apply(root, parallel=1)
    profiler.disable()
    check_outcomes(outcomes, len(outcomes), "unchanged")
    del outcomes
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    raw = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in raw.values())
    groups: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, _) in raw.items():
        group = profile_group(filename, function)
        groups[group] = groups.get(group, 0.0) + own

    def where(key: tuple[str, int, str]) -> str:
        filename, line, function = key
        return function if filename == "~" else f"{Path(filename).name}:{line}({function})"

    def rows(items: Sequence[tuple[tuple[str, int, str], tuple[Any, ...]]]) -> list[str]:
        out = [f"    {'calls':>7} {'own':>10} {'cumulative':>10}  function"]
        for key, (_, calls, own, cumulative, _) in items:
            out.append(f"    {calls:>7} {ms(own):>10} {ms(cumulative):>10}  {where(key)}")
        return out

    lines = [f"  total {ms(total)} under the profiler (which slows Python code more than C)"]
    lines.append(f"  own time by package (top {PROFILE_GROUPS}):")
    for group, own in sorted(groups.items(), key=lambda kv: kv[1], reverse=True)[:PROFILE_GROUPS]:
        lines.append(f"    {group:<44} {ms(own):>10} {100 * own / total:5.1f}%")
    lines.append(f"  functions by own time (top {PROFILE_TOP}):")
    lines += rows(sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:PROFILE_TOP])
    ours = [kv for kv in raw.items() if profile_group(kv[0][0], kv[0][2]).startswith("secconf")]
    lines.append(f"  secconf's functions by cumulative time (top {PROFILE_TOP}):")
    lines += rows(sorted(ours, key=lambda kv: kv[1][3], reverse=True)[:PROFILE_TOP])
    return "\n".join(lines)


# --------------------------------------------------------------------------- report


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return f"{1000 * seconds:.1f} ms"


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What a phase should send per environment."""

    read: int
    data_write: int
    metadata_write: int

    def problems(self, counts: Counts, size: int) -> list[str]:
        """Every count that differs from `size` environments times the expectation."""
        wanted = {
            "read": self.read * size,
            "data_write": self.data_write * size,
            "metadata_write": self.metadata_write * size,
            "other": 0,
            "failed": 0,
        }
        return [f"{k} {counts[k]} (expected {v})" for k, v in wanted.items() if counts[k] != v]


EXPECTED = {
    "first apply (secconf)": Expectation(read=1, data_write=1, metadata_write=1),
    "unchanged re-apply (secconf)": Expectation(read=1, data_write=0, metadata_write=0),
    "naive sequential hvac loop": Expectation(read=1, data_write=1, metadata_write=0),
}


def as_promised(phase: Phase, size: int) -> list[str]:
    """What is wrong with a phase's requests (nothing, when as promised)."""
    problems = EXPECTED[phase.label].problems(phase.counts, size)
    if not phase.repeatable:
        problems.append("the passes did not all send the same requests")
    return problems


def print_requests(m: Measurement) -> None:
    """Section 1: requests per phase, per kind, against what is promised."""
    print(f"== Requests the server received ({m.size} environments, per pass)")
    heads = ("total", "reads", "(404)", "data wr", "meta wr", "other", "KV writes")
    print(f"  {'phase':<30}" + "".join(f"{h:>10}" for h in heads) + "  as promised")
    keys = ("total", "read", "read_404", "data_write", "metadata_write", "other")
    for phase in (m.first, m.unchanged, m.naive):
        c = phase.counts
        row = "".join(f"{c[k]:>10}" for k in keys) + f"{c['server_kv_writes']:>10}"
        problems = as_promised(phase, m.size)
        promised = "yes" if not problems else "NO: " + "; ".join(problems)
        print(f"  {phase.label:<30}{row}  {promised}")
    print(
        "  reads: GETs of a KV v2 secret, (404) while it does not exist yet; data wr: a new\n"
        "  version (secconf's with cas = the version read); meta wr: custom-metadata PATCH;\n"
        "  KV writes: the server's own count of writes. Every pass of a phase sent the same."
        if all(p.repeatable for p in (m.first, m.unchanged, m.naive))
        else "  (some passes sent different requests: see above)"
    )


def print_times(m: Measurement) -> float:
    """Section 2: wall and CPU times; returns the ratio naive / unchanged re-apply."""
    passes = len(m.unchanged.passes)
    print(
        f"\n== Wall time ({m.size} environments; secconf with --parallel {CLI_PARALLEL}, the CLI's "
        f"default;\n   median of {passes} interleaved passes, best in brackets; CPU: medians, "
        "this process / the server's)"
    )
    for phase in (m.first, m.unchanged, m.naive):
        per_env = 1000 * phase.median / m.size
        once = "  (one pass)" if len(phase.passes) == 1 else ""
        print(
            f"  {phase.label:<30} {phase.median:6.3f} s [{phase.best:.3f}] {per_env:5.2f} ms/env"
            f"   CPU {phase.cpu:5.3f} s / {phase.server_cpu:5.3f} s{once}"
=======
        if code != 0:
            raise harness.Broken(f"secconf render exited {code}: {err.strip()[-600:]}")
        for index in range(1, self.size + 1):
            name = harness.environment_name(index)
            payload = json.loads((self.root / "out" / f"{name}.vault.json").read_text())
            if index in harness.samples_of(self.size) and payload != workload.values(index):
                raise harness.Broken(f"out/{name}.vault.json does not hold {name}'s values")
            self.payloads.append((f"{name}/app", payload))


def measure(bench: Bench, runs: int, with_process: bool) -> dict[str, float | Samples]:
    """Every phase, in order: first apply, then per setting the interleaved passes."""
    warm = harness.call_main(["--root", bench.root, "plan", "--all", "--target", "vault"])
    if warm[0] != 0:  # untimed: imports of the deploy path and hvac
        raise harness.Broken(f"secconf plan exited {warm[0]}: {warm[2].strip()[-600:]}")
    unchanged, naive = bench.expect(0, 0, 0), bench.expect(0, 1, 0)
    result: dict[str, float | Samples] = {
        "first": bench.measured(
            "first",
            functools.partial(bench.apply, check_status="applied"),
            bench.expect(1, 1, 1),
            0,
>>>>>>> bench
        )
    }
    for delay, label in ((LATENCY, "2ms"), (0.0, "bare")):
        apply = functools.partial(bench.measured, "reapply", bench.apply, unchanged, delay)
        loop = functools.partial(bench.measured, "naive", bench.naive, naive, delay)
        passes = harness.interleave({"reapply": apply, "naive": loop}, runs)
        result[f"reapply {label}"], result[f"naive {label}"] = passes["reapply"], passes["naive"]
    if with_process:  # for reference: what a user's run pays on top (start-up, imports)
        result["process"] = bench.measured("process", bench.apply_process, unchanged, LATENCY)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print; exit 0 unless the benchmark itself broke."""
    argv = sys.argv[1:] if argv is None else argv
    if list(argv) == [SERVE_FLAG]:
        return serve_vault(sys.stdin, sys.stdout)
    args = harness.parse_args(__doc__, argv, runs=(5, 1))
    size = SIZES["quick" if args.quick else "full"]
    report = Report(
        "secconf apply --all --target vault --yes",
        args,
        f"{size} environments; loopback Vault in its own process; secconf --parallel 4 (default)",
    )
    workload = Workload.new()
    vault = VaultProcess()
    try:
        with harness.workspace("secconf-bench-deploy-") as tmp:
            vault_env = {"VAULT_ADDR": vault.url, "VAULT_TOKEN": vault.token}
            # Only the reference process (full mode) needs a compiled install.
            base = harness.child_env() if args.quick else harness.Installs(tmp).make(compiled=True)
            env = {**base, **workload.environ, **vault_env}
            root = harness.Repos(tmp, env, workload, in_process=True).make(size)
            bench = Bench(vault, root, size, env)
            with harness.environ({**workload.environ, **vault_env}):
                bench.load_payloads(workload)
                m = measure(bench, args.runs, with_process=not args.quick)
                profile = []
                if args.profile:
                    label = "secconf apply --all --target vault --yes --parallel 1 (bare)"
                    profile = harness.profile_main(bench.apply_argv("--parallel", "1"), label)
    finally:
        vault.stop()
    report_figures(report, m, bench.counts, size, profile)
    return 0


def report_figures(
    report: Report,
    m: Mapping[str, float | Samples],
    counts: Mapping[str, Mapping[str, int]],
    size: int,
    profile: Sequence[str],
) -> None:
    """The notes and the table."""

    def median(key: str) -> float:
        value = m[key]
        return value.median if isinstance(value, Samples) else value

    def sent(phase: str) -> str:
        c = counts[phase]
        writes = f"{c['data_write']} data + {c['metadata_write']} metadata writes"
        return f"{c['read']} reads ({c['read_404']} answered 404), {writes}"

    report.note("requests per pass, counted by the server (as promised, or it would have stopped):")
    for phase, label in (("first", "first apply"), ("reapply", "re-apply"), ("naive", "naive")):
        report.note(f"  {label:<12} {sent(phase)}")
    for line in profile:
        report.note(line)
    sent_reapply = counts["reapply"]
    writes = sum(sent_reapply[k] for k in ("data_write", "metadata_write", "other"))
    report.add("unchanged re-apply: requests other than reads", writes, "", Target("<=", 0))
    report.add(f"first apply, {size} environments (bare)", median("first"), "s")
    for label, setting in (("2ms", "2 ms per request"), ("bare", "bare loopback")):
        reapply, naive = median(f"reapply {label}"), median(f"naive {label}")
        target = RATIO if label == "2ms" and size == SIZES["full"] else None
        report.add(f"unchanged re-apply, {setting}", reapply, "s")
        report.add(f"naive sequential hvac loop, {setting}", naive, "s")
        report.add(f"ratio naive / re-apply, {setting}", naive / reapply, "x", target)
    if "process" in m:
        report.add("unchanged re-apply as one process, 2 ms per request", median("process"), "s")
    report.print()


if __name__ == "__main__":
    sys.exit(main())
