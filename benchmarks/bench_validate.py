"""Benchmark `secconf validate`: cold start, scale with the number of environments, imports.

Run from the repository root with the project's virtual environment:

    .venv/bin/python benchmarks/bench_validate.py [--quick]

Three figures, all measured in the same run:

1. Cold start: a fresh `secconf validate --all` process on the bundled configuration,
   against the floor `python -c "import pydantic, yaml"`, interleaved run by run; once
   with secconf's bytecode compiled first, as a wheel install leaves it, and once with
   secconf compiled from source at every start, as this editable checkout runs it when
   no bytecode is cached (e.g. PYTHONDONTWRITEBYTECODE=1).
2. Scale: 10, 100 and 1,000 generated environments loaded, resolved and validated in
   one process (a fresh `Project` per size).
3. Import profile: the largest cumulative entries of `python -X importtime`.

The script reports whether each target is met; it never exits non-zero because of a
figure. It raises only when the benchmark itself is broken (e.g. a generated
environment has an error finding, so the real validation path was not measured).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECCONF = BIN / "secconf"

COLD_RATIO_TARGET = 2.5
SCALE_TARGET_SECONDS = 2.0
SCALE_SIZES = (10, 100, 1000)
IMPORT_TOP = 12

# How secconf's own modules are loaded in a cold-start measurement. A wheel install
# compiles bytecode at install time (pip does); an editable install with no cached
# bytecode (PYTHONDONTWRITEBYTECODE=1, as on this machine) compiles every module from
# source at every start. Both figures are reported; the first is what users run.
FROM_BYTECODE = "bytecode compiled first (compileall), as a wheel install leaves it"
FROM_SOURCE = "compiled from source at every start (no cached bytecode)"

FLOOR_CODE = "import pydantic, yaml"
PROFILE_CODE = "from secconf.cli import main; main(['validate','--all'])"

# The sensitive variables of the bundled schema come from the process environment
# (`from_env`), as they would in CI: a literal would be an SC014 finding.
ENV_JWT = "BENCH_JWT_SECRET_KEY"
ENV_VAPID = "BENCH_VAPID_PRIVATE_KEY"
ENV_TURNSTILE = "BENCH_TURNSTILE_SECRET_KEY"


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall times of repeated runs, in seconds."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median sample."""
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        """The fastest sample."""
        return min(self.samples)


@dataclasses.dataclass(frozen=True)
class ColdStart:
    """The cold-start figures: secconf, the floor, and their ratio of medians."""

    label: str  # how secconf's modules were loaded: from bytecode, or compiled from source
    secconf: Timing
    floor: Timing

    @property
    def ratio(self) -> float:
        """secconf's median over the floor's median."""
        return self.secconf.median / self.floor.median


@dataclasses.dataclass(frozen=True)
class ScaleResult:
    """Validating `size` environments in one process."""

    size: int
    seconds: float  # the fastest of `passes` timed passes
    findings: int
    passes: int = 1

    @property
    def per_env_ms(self) -> float:
        """Milliseconds per environment."""
        return 1000 * self.seconds / self.size


@dataclasses.dataclass(frozen=True)
class ImportEntry:
    """One module in the `-X importtime` output (self and cumulative, in milliseconds)."""

    name: str
    self_ms: float
    cumulative_ms: float


# --------------------------------------------------------------------------- cold start


def child_environment() -> dict[str, str]:
    """The environment of measured processes: they never write bytecode themselves.

    Otherwise the first run from source would cache secconf's bytecode and every later
    run would measure something else; bytecode comes only from `compile_package`.
    """
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def _run_once(command: Sequence[str]) -> float:
    """Wall time of one process run, in seconds; raises if it exits 2 or worse."""
    start = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=REPO,
        env=child_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: findings; anything else is a broken setup
        stderr = done.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {stderr}")
    return elapsed


def measure_cold_start(label: str, runs: int, warmup: int) -> ColdStart:
    """Interleave secconf and the floor run by run, alternating which goes first."""
    secconf_cmd = [str(SECCONF), "validate", "--all"]
    floor_cmd = [sys.executable, "-c", FLOOR_CODE]
    for _ in range(warmup):
        _run_once(floor_cmd)
        _run_once(secconf_cmd)
    secconf_times: list[float] = []
    floor_times: list[float] = []
    for i in range(runs):
        if i % 2:
            secconf_times.append(_run_once(secconf_cmd))
            floor_times.append(_run_once(floor_cmd))
        else:
            floor_times.append(_run_once(floor_cmd))
            secconf_times.append(_run_once(secconf_cmd))
    return ColdStart(label, Timing(tuple(secconf_times)), Timing(tuple(floor_times)))


# --------------------------------------------------------------------------- scale


def vapid_pair() -> tuple[str, str]:
    """One valid VAPID pair: URL-safe base64 of the PKCS#8 DER key and of the public point."""
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
    return (
        base64.urlsafe_b64encode(der).decode("ascii"),
        base64.urlsafe_b64encode(point).decode("ascii"),
    )


def environment_yaml(index: int, vapid_public: str) -> str:
    """An environment file setting all 17 bundled variables; valid, so no finding at all."""
    algorithm = ("HS256", "HS384", "HS512")[index % 3]
    days = 7 + index % 24
    hours = 1 + index % (days * 24)
    return f"""\
description: Generated environment {index}
production: false
values:
  JWT_SECRET_KEY: {{from_env: {ENV_JWT}}}
  JWT_ALGORITHM: {algorithm}
  ACCESS_TOKEN_EXPIRE_HOURS: {hours}
  REFRESH_TOKEN_EXPIRE_DAYS: {days}
  VAPID_PUBLIC_KEY: "{vapid_public}"
  VAPID_PRIVATE_KEY: {{from_env: {ENV_VAPID}}}
  VAPID_SUBJECT: mailto:push-{index}@acme-shop.io
  TURNSTILE_ENABLED: true
  TURNSTILE_SITE_KEY: 0x4AAAAAAAB{index:08d}
  TURNSTILE_SECRET_KEY: {{from_env: {ENV_TURNSTILE}}}
  TURNSTILE_REQUIRE_ON_LOGIN: {"true" if index % 2 else "false"}
  TURNSTILE_REQUIRE_ON_REGISTER: true
  TURNSTILE_REQUIRE_ON_PASSWORD_CHANGE: true
  DEFAULT_USER_ROLE: user
  ENABLE_REGISTRATION: {"true" if index % 2 else "false"}
  ADMIN_CONTACT_EMAIL: support-{index}@acme-shop.io
  ADMIN_CONTACT_URL: https://acme-shop.io/support/{index}
"""


def make_config_repo(directory: Path, size: int, vapid_public: str) -> Path:
    """A config repo with the bundled schema and `size` generated environments."""
    shutil.copytree(REPO / "schema", directory / "schema")
    environments = directory / "environments"
    environments.mkdir()
    for index in range(1, size + 1):
        text = environment_yaml(index, vapid_public)
        (environments / f"env-{index:04d}.yaml").write_text(text, encoding="utf-8")
    return directory


def validate_repo(root: Path, environ: Mapping[str, str]) -> tuple[int, int, int]:
    """Load, resolve and validate every environment: (environments, findings, errors)."""
    from secconf.operations.project import Project
    from secconf.validate import validate

    project = Project.open(root)
    count = findings = errors = 0
    for name in project.environments.names():
        config = project.resolve(project.environments.get(name), environ=environ)
        result = validate(config)
        count += 1
        findings += len(result)
        errors += sum(1 for f in result if f.severity == "error")
    return count, findings, errors


def timed_validation(root: Path, size: int, environ: Mapping[str, str]) -> ScaleResult:
    """One timed pass over a repo (a fresh Project), with the sanity checks."""
    start = time.perf_counter()
    count, findings, errors = validate_repo(root, environ)
    seconds = time.perf_counter() - start
    if count != size:
        raise RuntimeError(f"validated {count} environments, expected {size}")
    if errors:
        raise RuntimeError(
            f"{errors} error findings in the generated environments: the benchmark would "
            "not measure the real validation path"
        )
    return ScaleResult(size, seconds, findings)


def passes_for(size: int, repeats: int) -> int:
    """Timed passes for a size: more for small sizes, whose few milliseconds are noisy."""
    return repeats * max(1, 100 // size)


def measure_scale(sizes: Sequence[int], repeats: int) -> list[ScaleResult]:
    """Per size: a fresh temp repo, one untimed warm-up pass, then the fastest timed pass."""
    vapid_private, vapid_public = vapid_pair()
    environ = {
        ENV_JWT: secrets.token_urlsafe(64),
        ENV_VAPID: vapid_private,
        ENV_TURNSTILE: "0x4AAAAAAA" + secrets.token_hex(16),
    }
    results: list[ScaleResult] = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix=f"secconf-bench-{size}-") as tmp:
            root = make_config_repo(Path(tmp), size, vapid_public)
            validate_repo(root, environ)  # warm-up: lazy imports, OS file cache
            count = passes_for(size, repeats)
            passes = [timed_validation(root, size, environ) for _ in range(count)]
        best = min(passes, key=lambda r: r.seconds)
        results.append(dataclasses.replace(best, passes=count))
    return results


# --------------------------------------------------------------------------- imports


def parse_importtime(stderr: str) -> list[ImportEntry]:
    """Entries of `-X importtime` output, one per module (self times summed)."""
    self_us: dict[str, int] = {}
    cumulative_us: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        name = fields[2].strip()
        self_us[name] = self_us.get(name, 0) + int(fields[0])
        cumulative_us[name] = max(cumulative_us.get(name, 0), int(fields[1]))
    return [ImportEntry(name, self_us[name] / 1000, cumulative_us[name] / 1000) for name in self_us]


def package_dir() -> Path:
    """The directory of the secconf package being measured, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("secconf")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"secconf is not installed for {sys.executable}")
    return Path(next(iter(spec.submodule_search_locations)))


def package_sources() -> list[Path]:
    """The source files of the secconf package being measured."""
    return sorted(package_dir().rglob("*.py"))


def cached_bytecode() -> list[Path]:
    """The bytecode files this Python has cached for secconf's sources."""
    import importlib.util

    caches = (Path(importlib.util.cache_from_source(str(p))) for p in package_sources())
    return [c for c in caches if c.exists()]


def compile_package() -> list[Path]:
    """Compile secconf's modules as `pip install` does for a wheel; the files it wrote."""
    before = set(cached_bytecode())
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package_dir())], check=True)
    return [c for c in cached_bytecode() if c not in before]


def remove_bytecode(written: Sequence[Path]) -> None:
    """Remove the bytecode `compile_package` wrote, and the cache directories it left empty."""
    for path in written:
        path.unlink(missing_ok=True)
    for directory in {path.parent for path in written}:
        with contextlib.suppress(OSError):  # not empty: it held bytecode before
            directory.rmdir()


def import_profile() -> list[ImportEntry]:
    """Run secconf once under `-X importtime` and parse what it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROFILE_CODE],
        cwd=REPO,
        env=child_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"import profile run exited {done.returncode}")
    return parse_importtime(done.stderr)


# --------------------------------------------------------------------------- report


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return f"{1000 * seconds:.1f} ms"


def verdict(met: bool) -> str:
    """The word for a target."""
    return "met" if met else "NOT met"


def print_cold_start(colds: Sequence[ColdStart], runs: int, skipped: str | None) -> None:
    """Section 1: one block per way secconf's modules were loaded."""
    print(f"== Cold start (median of {runs} interleaved runs, min in brackets)")
    for cold in colds:
        print(f"  secconf {cold.label}:")
        rows = (("secconf validate --all", cold.secconf), (f"python -c '{FLOOR_CODE}'", cold.floor))
        for label, timing in rows:
            print(f"    {label:<34} {ms(timing.median):>10}  [{ms(timing.best)}]")
        met = cold.ratio <= COLD_RATIO_TARGET
        print(f"    ratio {cold.ratio:.2f}  (target <= {COLD_RATIO_TARGET}: {verdict(met)})")
    if skipped:
        print(f"  secconf {FROM_SOURCE}: not measured ({skipped})")


def print_scale(results: Sequence[ScaleResult]) -> float:
    """Section 2; returns the per-environment growth (largest vs smallest size)."""
    print("\n== Scale (one process, a fresh Project per pass; fastest timed pass)")
    for r in results:
        print(
            f"  {r.size:>5} environments  {r.seconds:8.3f} s  {r.per_env_ms:7.3f} ms/env  "
            f"findings {r.findings}  (best of {r.passes})"
        )
    growth = results[-1].per_env_ms / results[0].per_env_ms
    largest = results[-1]
    met = largest.seconds <= SCALE_TARGET_SECONDS
    print(
        f"  per-env cost {largest.size} vs {results[0].size}: {growth:.2f}x (linear = 1); "
        f"{largest.size} envs target <= {SCALE_TARGET_SECONDS:.0f} s: {verdict(met)}"
    )
    return growth


def own_ms(entries: Sequence[ImportEntry]) -> float:
    """Milliseconds spent in secconf's own module bodies."""
    return sum(e.self_ms for e in entries if e.name.split(".")[0] == "secconf")


def print_imports(
    entries: Sequence[ImportEntry], from_source: Sequence[ImportEntry] | None
) -> None:
    """Section 3: the profile with bytecode, and what compiling from source adds."""
    total = sum(e.self_ms for e in entries)
    print(f"\n== Import profile (top {IMPORT_TOP} by cumulative time, one run, with bytecode)")
    print(f"  {'module':<44} {'cumulative':>11} {'self':>9}")
    for e in sorted(entries, key=lambda e: e.cumulative_ms, reverse=True)[:IMPORT_TOP]:
        print(f"  {e.name:<44} {e.cumulative_ms:8.1f} ms {e.self_ms:6.1f} ms")
    print(
        f"  {len(entries)} modules imported, {total:.1f} ms in all; "
        f"secconf's own module bodies: {own_ms(entries):.1f} ms"
    )
    if from_source is not None:
        print(
            f"  {FROM_SOURCE}: secconf's own module bodies {own_ms(from_source):.1f} ms "
            f"(one run), {sum(e.self_ms for e in from_source):.1f} ms of imports in all"
        )


def cold_rows(cold: ColdStart) -> list[tuple[str, str, str, str]]:
    """Summary rows of one cold-start block."""
    how = "bytecode" if cold.label == FROM_BYTECODE else "from source"
    return [
        (f"cold start ({how}): secconf", ms(cold.secconf.median), "", ""),
        (f"cold start ({how}): floor", ms(cold.floor.median), "", ""),
        (
            f"cold start ({how}): ratio",
            f"{cold.ratio:.2f}",
            f"<= {COLD_RATIO_TARGET}",
            verdict(cold.ratio <= COLD_RATIO_TARGET),
        ),
    ]


def print_table(rows: Sequence[tuple[str, str, str, str]], *, width: int) -> None:
    """The summary table every benchmark ends with: figure, value, target, result."""
    print("\n== Summary")
    print(f"  {'figure':<{width}} {'value':>10}  {'target':<8} result")
    for figure, value, target, result in rows:
        print(f"  {figure:<{width}} {value:>10}  {target:<8} {result}".rstrip())


def print_summary(
    colds: Sequence[ColdStart], results: Sequence[ScaleResult], growth: float
) -> None:
    """The compact table at the end."""
    largest = results[-1]
    rows = [
        *(row for cold in colds for row in cold_rows(cold)),
        *((f"validate {r.size} environments", f"{r.seconds:.3f} s", "", "") for r in results[:-1]),
        (
            f"validate {largest.size} environments",
            f"{largest.seconds:.3f} s",
            f"<= {SCALE_TARGET_SECONDS:.0f} s",
            verdict(largest.seconds <= SCALE_TARGET_SECONDS),
        ),
        (f"per-env growth {largest.size}/{results[0].size}", f"{growth:.2f}", "~1", ""),
    ]
    print_table(rows, width=38)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="Fewer runs: a quick look.")
    return parser.parse_args(argv)


def measure_both_ways(
    runs: int, warmup: int
) -> tuple[list[ColdStart], list[ImportEntry], list[ImportEntry] | None, str | None]:
    """Cold start and import profile from source (when no bytecode is cached), then with
    bytecode compiled; the bytecode this writes is removed again, leaving the checkout as
    it was. Returns (cold starts, profile, profile from source, why from source was skipped).
    """
    colds: list[ColdStart] = []
    source_profile = None
    skipped = None
    cached = cached_bytecode()
    if cached:
        skipped = f"{len(cached)} of secconf's modules already have cached bytecode"
    else:
        colds.append(measure_cold_start(FROM_SOURCE, runs, warmup))
        source_profile = import_profile()
    written = compile_package()
    try:
        colds.insert(0, measure_cold_start(FROM_BYTECODE, runs, warmup))
        profile = import_profile()
    finally:
        remove_bytecode(written)
    return colds, profile, source_profile, skipped


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three measurements and print them; 0 unless the benchmark itself broke."""
    args = parse_args(argv)
    if not SECCONF.exists():
        raise SystemExit(f"no secconf console script next to {sys.executable}; use the venv")
    runs, warmup, repeats = (5, 2, 1) if args.quick else (20, 3, 3)
    sys.dont_write_bytecode = True  # the scale section imports secconf here: leave no bytecode
    started = time.perf_counter()
    mode = "quick" if args.quick else "full"
    print(f"secconf benchmark ({mode}), Python {sys.version.split()[0]}, {SECCONF}\n")

    colds, profile, source_profile, skipped = measure_both_ways(runs, warmup)
    print_cold_start(colds, runs, skipped)
    results = measure_scale(SCALE_SIZES, repeats)
    growth = print_scale(results)
    print_imports(profile, source_profile)
    print_summary(colds, results, growth)
    print(f"\n(total benchmark time {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
