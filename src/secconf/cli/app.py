"""The `secconf` command group: global options, lazy subcommands, error-to-exit-code mapping.

Subcommands are imported only when run, so `secconf validate` never pays for the
Kubernetes, Vault or Jinja2 imports that other commands need.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from secconf import __version__
from secconf.core import redact
from secconf.core.errors import ExitCode, SecconfError

GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections while a command runs
# Commands that run with no cyclic garbage collection at all in the `secconf` program
# (console_main), until it exits: `render` pauses collection for the whole of its work
# anyway (workers.collection_paused), and turning it back on for the little it prints
# afterwards cost one collection that scanned all it had read, to free nothing: 50-90 ms
# of the 1.1 s of `render --all` of 1,000 environments here.
UNCOLLECTED = frozenset({"render"})

# name -> (module, attribute, one-line help shown by `secconf --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("secconf.cli.init", "init", "Start a config repo from the bundled example."),
    "import": ("secconf.cli.importing", "import_", "Adopt an existing .env file."),
    "validate": ("secconf.cli.validate", "validate", "Check environments against the schema."),
    "docs": ("secconf.cli.docs", "docs", "Write Markdown documentation of the schema."),
    "schema": ("secconf.cli.schema", "schema", "Show the schema or export it as JSON Schema."),
    "codegen": ("secconf.cli.codegen", "codegen", "Write a typed settings module for the app."),
    "render": (
        "secconf.cli.render",
        "render",
        "Write .env files, Kubernetes manifests, Vault payloads.",
    ),
    "plan": ("secconf.cli.deploy", "plan", "Show what apply would change in Vault or Kubernetes."),
    "apply": ("secconf.cli.deploy", "apply", "Deliver environments to Vault or Kubernetes."),
    "check": ("secconf.cli.deploy", "check", "Detect drift between live and intended (exit 1)."),
    "audit": (
        "secconf.cli.audit",
        "audit",
        "Inventory of sensitive variables, never their values.",
    ),
    "diff": ("secconf.cli.diff", "diff", "Compare two environments, secrets by fingerprint."),
    "keys": ("secconf.cli.keys", "keys", "Generate keys once; status, rotate, roll back."),
    "store": ("secconf.cli.store", "store", "The file store: master key, cipher, age recipients."),
    "run": ("secconf.cli.run", "run", "Run a command with an environment's settings, no file."),
    "scan": ("secconf.cli.scan", "scan", "Find the environments' sensitive values in files, git."),
    "krm": ("secconf.cli.krm", "krm", "Run as a KRM function for kpt and kustomize."),
}


@dataclass
class Options:
    """Global options every subcommand can read from the click context."""

    root: Path | None = None
    debug: bool = False


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module = importlib.import_module(spec[0])
        command: click.Command = getattr(module, spec[1])
        if not gc.isenabled():
            # Start-up is over (see secconf.cli.console_main): what exists now lives
            # until exit, so it is frozen out of every later collection.
            gc.freeze()
            if cmd_name in UNCOLLECTED:
                return command  # collected by nobody: the process ends after it
            # A command keeps what it reads (every environment's records, stores and
            # outputs) until it exits: at Python's default (a young collection every 700
            # allocations) `render --all` of 1,000 environments ran 393 young, 36 middle
            # and 3 full collections, 0.25 s of its 2 s; at 10,000, 31 and 3 (0.12 s).
            gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
            gc.enable()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, spec[2]) for name, spec in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SECCONF_ROOT",
    help="The config repo (a directory with schema/ and environments/). "
    "Default: found from the working directory upward.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=3600),
    default=30.0,
    show_default=True,
    envvar="SECCONF_TIMEOUT",
    metavar="SECONDS",
    help="Total time one request to Vault or Kubernetes may take, connect and retries "
    "included (env SECCONF_TIMEOUT).",
)
@click.version_option(__version__, prog_name="secconf")
@click.pass_context
def cli(ctx: click.Context, root: Path | None, debug: bool, timeout: float) -> None:
    """secconf: configuration as code for settings and secrets.

    A typed schema (schema/*.yaml) and per-environment values (environments/*.yaml)
    are validated, and delivered as .env files, Kubernetes Secrets/ConfigMaps and
    Vault KV v2 writes. Secret values are never printed: at most a fingerprint.

    Exit codes: 0 ok, 1 findings or drift, 2 bad usage or input, 3 internal error.
    """
    from secconf.core import net

    net.set_timeout(timeout)  # the one place the network deadline lives for this run
    ctx.obj = Options(root=root, debug=debug)


def run(argv: Sequence[str] | None) -> int:
    """Run the CLI and turn every outcome into an exit code, never a stray traceback.

    Everything printed during the run, `--debug` tracebacks included, goes through the
    redacting streams of `secconf.core.redact`.
    """
    redact.register_environment(os.environ)
    with redact.redacted_output():
        return _run(list(sys.argv[1:] if argv is None else argv))


def _run(args: list[str]) -> int:
    debug = "--debug" in args
    try:
        return _dispatch(args, debug)
    finally:
        from secconf.core import net

        net.set_timeout(None)  # a library caller after an in-process run gets the default


def _dispatch(args: list[str], debug: bool) -> int:
    try:
        result = cli.main(args=args, prog_name="secconf", standalone_mode=False)
    except SecconfError as exc:
        _print_error(exc)
        return int(exc.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.BAD_INPUT)
    except click.exceptions.Abort:
        click.echo("secconf: aborted", err=True)
        return int(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        click.echo("secconf: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return int(ExitCode.OK)
    except OSError as exc:  # a full disk, a read-only file system, a file where a dir was
        return _os_error(exc)
    except Exception as exc:  # a bug: say so briefly; the traceback only on request
        return _internal_error(exc, debug)
    return int(result) if isinstance(result, int) else int(ExitCode.OK)


def _print_error(exc: SecconfError) -> None:
    from secconf.cli.common import print_error

    print_error(exc)


# What to do about the file system errors a user can fix.
_OS_HINTS = {
    "ENOSPC": "the disk is full: free some space and run again",
    "EDQUOT": "the disk quota is used up: free some space and run again",
    "EROFS": "the file system is read-only: run where secconf may write",
    "EACCES": "check the permissions of the file and its directory",
    "EPERM": "check the permissions of the file and its directory",
    "ENOTDIR": "a part of the path is a file, not a directory: check the path",
    "EISDIR": "the path names a directory, not a file: check the path",
    "EEXIST": "something is in the way at that path: check the path",
}


def _os_error(exc: OSError) -> int:
    """An operating system error as one line naming the path and the reason, exit 2."""
    import errno

    paths = [str(p) for p in (exc.filename, exc.filename2, getattr(exc, "lock_file", None)) if p]
    reason = exc.strerror or ("timed out" if isinstance(exc, TimeoutError) else type(exc).__name__)
    where = f"{' -> '.join(paths)}: " if paths else ""
    click.echo(f"secconf: error: {where}{reason}", err=True)
    hint = _OS_HINTS.get(errno.errorcode.get(exc.errno or 0, ""))
    if hint:
        click.echo(f"  hint: {hint}", err=True)
    return int(ExitCode.BAD_INPUT)


def _internal_error(exc: Exception, debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exc()
    # The exception's own text may quote data it was handed; only its type is shown.
    click.echo(
        f"secconf: internal error ({type(exc).__name__}); this is a bug in secconf. "
        "Run again with --debug for the traceback.",
        err=True,
    )
    return int(ExitCode.INTERNAL)
