"""What the three benchmarks share: options, timing, processes, generated repos, the report.

The benchmarks measure secconf through its stable interfaces only: the `secconf` console
script as a process, or `secconf.cli.main([...])` in-process where a process per run would
be too slow. secconf processes import a compiled copy of the package being measured (see
`Installs`), as a wheel install leaves it, never the checkout's own bytecode.

A benchmark never fails because of a figure: the report says met / NOT met. It raises
`Broken` only when the benchmark itself is broken (an output that does not parse back, a
wrong request count, a command that exits with an unexpected code).
"""

from __future__ import annotations

import argparse
import base64
import compileall
import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

sys.dont_write_bytecode = True  # in-process imports of secconf leave the checkout as it was

REPO = Path(__file__).resolve().parent.parent
SECCONF = Path(sys.executable).parent / "secconf"

# Settings that would make a measured process read a key or reach a server we did not set.
_INHERITED_OUT = ("SECCONF_MASTER_KEY", "VAULT_", "PYTHONPATH", "PYTHONSTARTUP")


class Broken(RuntimeError):
    """The benchmark itself is broken: its figures would not measure what they say."""


# --------------------------------------------------------------------------- options


def parse_args(
    doc: str | None,
    argv: Sequence[str] | None,
    *,
    runs: tuple[int, int],
) -> argparse.Namespace:
    """The flags every benchmark takes; `runs` is the (full, quick) default of --runs."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Small sizes, few runs.")
    parser.add_argument(
        "--runs", type=int, help=f"Timed runs per figure (default {runs[0]}; {runs[1]} quick)."
    )
    parser.add_argument("--profile", action="store_true", help="Also print a profile.")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = runs[1] if args.quick else runs[0]
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


# --------------------------------------------------------------------------- timing


@dataclasses.dataclass(frozen=True)
class Samples:
    """Wall times of repeated runs, in seconds."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        """The figure we report: robust to one slow run on a shared machine."""
        return statistics.median(self.values)

    @property
    def best(self) -> float:
        """The fastest run: what the code costs when nothing else interferes."""
        return min(self.values)


def timed(action: Callable[[], object]) -> float:
    """Wall time of one call, in seconds."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def interleave(
    actions: Mapping[str, Callable[[], float]], runs: int, warmup: int = 0
) -> dict[str, Samples]:
    """Run each action `runs` times, round-robin, rotating which goes first, so that a
    drift of the machine's load affects all alike. Each action returns its own wall time
    (so it can prepare and check outside the timed part)."""
    names = list(actions)
    for _ in range(warmup):
        for name in names:
            actions[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(runs):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(actions[name]())
    return {name: Samples(tuple(values)) for name, values in times.items()}


# --------------------------------------------------------------------------- processes


@dataclasses.dataclass(frozen=True)
class Completed:
    """One finished process."""

    seconds: float
    stdout: str
    stderr: str


def run(
    command: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path = REPO,
    ok: Sequence[int] = (0,),
) -> Completed:
    """Run a process to completion, output captured; raise Broken on an unexpected exit."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode not in ok:
        shown = " ".join([Path(command[0]).name, *map(str, command[1:])])
        raise Broken(f"`{shown}` exited {done.returncode}: {done.stderr.strip()[-600:]}")
    return Completed(seconds, done.stdout, done.stderr)


def secconf(*args: str | Path) -> list[str | Path]:
    """The command line of the `secconf` console script next to this Python."""
    return [SECCONF, *args]


def call_main(argv: Sequence[str | Path]) -> tuple[int, str, str]:
    """`secconf.cli.main(argv)` in this process: (exit code, stdout, stderr). For repeated
    runs where a process per run would measure start-up, not the command."""
    from secconf.cli import main  # the CLI's stable entry point

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """`values` set in this process's environment (for in-process runs), then restored;
    master keys and Vault settings of the caller's shell are hidden meanwhile."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({**child_env(), **values})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --------------------------------------------------------------------------- installs


def package_dir() -> Path:
    """The secconf package being measured, found without importing it."""
    spec = importlib.util.find_spec("secconf")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"secconf is not installed for {sys.executable}; use the venv")
    return Path(next(iter(spec.submodule_search_locations)))


class Installs:
    """Copies of the secconf package, each on its own PYTHONPATH, so a measured process
    loads secconf exactly as we choose, whatever bytecode the checkout has cached."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.source = package_dir()

    def make(self, *, compiled: bool) -> dict[str, str]:
        """The environment of a process importing a fresh copy of secconf: compiled
        first (compileall, as pip leaves a wheel) or left to compile at every start."""
        site = self.directory / ("site-compiled" if compiled else "site-source")
        shutil.copytree(self.source, site / "secconf", ignore=shutil.ignore_patterns("__pycache__"))
        if compiled and not compileall.compile_dir(site / "secconf", quiet=1):
            raise Broken("compileall failed on the copy of secconf")
        env = child_env({"PYTHONPATH": str(site)})
        where = run([sys.executable, "-c", "import secconf; print(secconf.__file__)"], env=env)
        if not where.stdout.strip().startswith(str(site)):
            raise Broken(f"processes import secconf from {where.stdout.strip()}, not the copy")
        return env


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without master keys or Vault settings, never writing
    bytecode (so a run cannot change what the next one measures), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_OUT)}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **(extra or {})}


@contextlib.contextmanager
def workspace(prefix: str) -> Iterator[Path]:
    """A temporary directory for repos and installs, removed at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


# --------------------------------------------------------------------------- workload

SENSITIVE = {
    "JWT_SECRET_KEY": "BENCH_JWT_SECRET_KEY",
    "VAPID_PRIVATE_KEY": "BENCH_VAPID_PRIVATE_KEY",
    "TURNSTILE_SECRET_KEY": "BENCH_TURNSTILE_SECRET_KEY",
}


def _vapid_pair() -> tuple[str, str]:
    """A valid VAPID pair, as the schema wants it: URL-safe base64 of the PKCS#8 DER key
    and of the uncompressed public point."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    private, public = (base64.urlsafe_b64encode(b).decode("ascii") for b in (der, point))
    return private, public


@dataclasses.dataclass(frozen=True)
class Workload:
    """Generated environments: all 17 bundled variables, valid (no finding at all); the
    three sensitive ones `from_env`, as in CI, their values in `environ`."""

    environ: dict[str, str]
    vapid_public: str

    @classmethod
    def new(cls) -> Workload:
        """Fresh random values for the sensitive variables."""
        import secrets

        private, public = _vapid_pair()
        values = {
            "JWT_SECRET_KEY": secrets.token_urlsafe(64),
            "VAPID_PRIVATE_KEY": private,
            "TURNSTILE_SECRET_KEY": "0x4AAAAAAA" + secrets.token_hex(16),
        }
        return cls({SENSITIVE[name]: value for name, value in values.items()}, public)

    def values(self, index: int) -> dict[str, str]:
        """The 17 values environment `index` delivers, as the application reads them."""
        days = 7 + index % 24
        flag = "true" if index % 2 else "false"
        return {
            "JWT_SECRET_KEY": self.environ[SENSITIVE["JWT_SECRET_KEY"]],
            "JWT_ALGORITHM": ("HS256", "HS384", "HS512")[index % 3],
            "ACCESS_TOKEN_EXPIRE_HOURS": str(1 + index % (days * 24)),
            "REFRESH_TOKEN_EXPIRE_DAYS": str(days),
            "VAPID_PUBLIC_KEY": self.vapid_public,
            "VAPID_PRIVATE_KEY": self.environ[SENSITIVE["VAPID_PRIVATE_KEY"]],
            "VAPID_SUBJECT": f"mailto:push-{index}@acme-shop.io",
            "TURNSTILE_ENABLED": "true",
            "TURNSTILE_SITE_KEY": f"0x4AAAAAAAB{index:08d}",  # YAML 1.1 would read a number
            "TURNSTILE_SECRET_KEY": self.environ[SENSITIVE["TURNSTILE_SECRET_KEY"]],
            "TURNSTILE_REQUIRE_ON_LOGIN": flag,
            "TURNSTILE_REQUIRE_ON_REGISTER": "true",
            "TURNSTILE_REQUIRE_ON_PASSWORD_CHANGE": "true",
            "DEFAULT_USER_ROLE": "user",
            "ENABLE_REGISTRATION": flag,
            "ADMIN_CONTACT_EMAIL": f"support-{index}@acme-shop.io",
            "ADMIN_CONTACT_URL": f"https://acme-shop.io/support/{index}",
        }

    def environment_yaml(self, index: int) -> str:
        """The environment file of `index`: literals quoted, sensitive ones from_env."""
        lines = [f"description: Generated environment {index}", "production: false", "values:"]
        for name, value in self.values(index).items():
            if name in SENSITIVE:
                value = f"{{from_env: {SENSITIVE[name]}}}"
            elif not (value.isdigit() or value in ("true", "false")):
                value = json.dumps(value)  # a YAML double-quoted string: stays text
            lines.append(f"  {name}: {value}")
        return "\n".join(lines) + "\n"


def environment_name(index: int) -> str:
    """The name of generated environment `index` (1-based), sorted as --all lists them."""
    return f"env-{index:04d}"


class Repos:
    """Config repos of generated environments: `secconf init` once (the bundled schema
    and templates), then one copy per size with the example environments replaced."""

    def __init__(
        self, directory: Path, env: Mapping[str, str], workload: Workload, *, in_process: bool
    ) -> None:
        self.directory = directory
        self.workload = workload
        self.template = directory / "init"
        if not in_process:
            run(secconf("init", self.template), env=env, cwd=directory)
        elif call_main(["init", self.template])[0] != 0:  # secconf is imported here anyway
            raise Broken("secconf init failed")
        for example in (self.template / "environments").glob("*.yaml"):
            example.unlink()

    def make(self, size: int) -> Path:
        """A new repo with `size` generated environments."""
        root = self.directory / f"repo-{size}"
        suffix = 0
        while root.exists():
            suffix += 1
            root = self.directory / f"repo-{size}-{suffix}"
        shutil.copytree(self.template, root, symlinks=True)
        for index in range(1, size + 1):
            path = root / "environments" / f"{environment_name(index)}.yaml"
            path.write_text(self.workload.environment_yaml(index), encoding="utf-8")
        return root


def samples_of(size: int) -> list[int]:
    """Which environments to check after a run: the first, the middle and the last."""
    return sorted({1, (size + 1) // 2, size})


# --------------------------------------------------------------------------- report


@dataclasses.dataclass(frozen=True)
class Target:
    """A bound a figure should meet, e.g. `<= 2.0`."""

    op: str  # "<=" or ">="
    bound: float

    def met(self, value: float) -> bool:
        """Whether `value` meets the bound."""
        return value <= self.bound if self.op == "<=" else value >= self.bound


@dataclasses.dataclass(frozen=True)
class Figure:
    """One line of the summary table."""

    name: str
    value: float
    unit: str  # "s", "ms", "x" or "" (a count)
    target: Target | None = None

    def cells(self) -> tuple[str, str, str, str]:
        """figure, value, target, met?"""
        value = _number(self.value, self.unit)
        if self.target is None:
            return self.name, value, "-", "-"
        bound = f"{self.target.op} {self.target.bound:g} {self.unit}".rstrip()
        return self.name, value, bound, "met" if self.target.met(self.value) else "NOT met"


def _number(value: float, unit: str) -> str:
    """A value with its unit, as precise as its unit needs."""
    digits = {"s": 3, "ms": 1, "x": 2}.get(unit)
    if digits is None:
        return f"{value:.0f}"
    return f"{value:.{digits}f} {unit}"


class Report:
    """A header, a few notes, and the `== Summary` table: figure / value / target / met?"""

    def __init__(self, title: str, args: argparse.Namespace, setting: str) -> None:
        self.started = time.perf_counter()
        self.figures: list[Figure] = []
        self.notes: list[str] = []
        mode = "quick" if args.quick else "full"
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"== {title} ({mode}; {args.runs} run(s) per figure, medians)")
        print(f"  Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load}")
        print(f"  {setting}")

    def add(self, name: str, value: float, unit: str, target: Target | None = None) -> None:
        """Add a figure to the summary."""
        self.figures.append(Figure(name, value, unit, target))

    def note(self, text: str) -> None:
        """A line printed above the summary: what a figure means, what was checked."""
        self.notes.append(text)

    def print(self) -> None:
        """Print the notes and the summary table; one screen."""
        for text in self.notes:
            print(f"  {text}")
        rows = [("figure", "value", "target", "met?"), *(f.cells() for f in self.figures)]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        print("\n== Summary")
        for name, value, target, met in rows:
            print(f"  {name:<{widths[0]}}  {value:>{widths[1]}}  {target:<{widths[2]}}  {met}")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n(benchmark took {time.perf_counter() - self.started:.1f} s; load average {load})")


def profile_main(argv: Sequence[str | Path], label: str, top: int = 15) -> list[str]:
    """cProfile of one in-process `secconf.cli.main(argv)`: the functions with the most
    own time (cProfile sees only this thread: give a command its sequential form)."""
    import cProfile
    import pstats

    call_main(argv)  # untimed: imports, caches; the profile shows the command itself
    profiler = cProfile.Profile()
    code, _, err = profiler.runcall(call_main, argv)
    if code != 0:
        raise Broken(f"the profiled `{label}` exited {code}: {err.strip()[-600:]}")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    return [f"cProfile of `{label}` in this process:", *lines[-top - 1 :]]
