"""`secconf plan|apply|check`: deliver to Vault and Kubernetes, Terraform-style."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from secconf.cli.common import (
    confirm,
    environment_options,
    notice,
    open_project,
    print_error,
    selected,
)
from secconf.core.errors import ExitCode, SecconfError
from secconf.deploy.base import DeployTarget, Plan
from secconf.operations.deploy import Outcome, deployable

SYMBOLS = {"add": "+", "change": "~", "remove": "-", "unchanged": "="}


@dataclass(frozen=True)
class DeployArgs:
    """The options plan, apply and check share, as one value."""

    target: str
    prune: bool
    parallel: int
    processes: int | None
    context: str | None
    tls_skip_verify: bool
    fmt: str
    envs: tuple[str, ...]
    all_: bool


_SHARED = (
    "target",
    "prune",
    "parallel",
    "processes",
    "context",
    "tls_skip_verify",
    "fmt",
    "envs",
    "all_",
)


def deploy_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared options; the command receives them as `args: DeployArgs`."""

    @functools.wraps(func)
    def wrapper(*pos: Any, **kwargs: Any) -> Any:
        shared = {name: kwargs.pop(name) for name in _SHARED}
        timeout = kwargs.pop("timeout")
        if timeout is not None:
            from secconf.core import net

            net.set_timeout(timeout)  # the same setting as `secconf --timeout`
        return func(*pos, args=DeployArgs(**shared), **kwargs)

    from secconf.render.registry import targets

    names = deployable()
    options = [
        click.option(
            "--target",
            "-t",
            type=click.Choice(names),
            required=True,
            help="Where to deliver what `render --target` writes: "
            + "; ".join(f"{n}, {targets()[n].summary}" for n in names)
            + ".",
        ),
        click.option(
            "--prune",
            is_flag=True,
            help="Also remove live keys the schema does not know (by default they are "
            "reported and left alone).",
        ),
        click.option(
            "--parallel",
            type=click.IntRange(1, 64),
            default=4,
            show_default=True,
            help="Environments handled at once (per process).",
        ),
        click.option(
            "--processes",
            type=click.IntRange(1, 16),
            help="Processes that plan the environments (Linux; Vault): each reads its "
            "share, and only plans in sync come back, the rest are planned again in the "
            "main process. Default: one per CPU, at most 4, each with 25 environments or "
            "more; 1: the main process only.",
        ),
        click.option(
            "--context", metavar="NAME", help="Kubernetes context (default: the kubeconfig's)."
        ),
        click.option(
            "--tls-skip-verify",
            is_flag=True,
            help="Do not verify Vault's TLS certificate (insecure; prefer VAULT_CACERT).",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1, max=3600),
            metavar="SECONDS",
            help="Total time one request to Vault or Kubernetes may take, connect and "
            "retries included (default 30, or `secconf --timeout`, or SECCONF_TIMEOUT).",
        ),
        environment_options,
    ]
    decorated: Callable[..., Any] = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def _target(args: DeployArgs) -> DeployTarget:
    from secconf.deploy.base import DeployOptions
    from secconf.operations.deploy import deploy_target

    def on_retry(exc: BaseException, attempt: int, delay: float) -> None:
        status = getattr(exc, "status", None) or type(exc).__name__
        notice(f"transient failure ({status}); retry {attempt} in {delay:.1f} s")

    options = DeployOptions(
        context=args.context,
        skip_tls_verify=args.tls_skip_verify,
        on_retry=on_retry,
        notify=notice,
    )
    return deploy_target(args.target, options)


def _plans(
    ctx: click.Context, args: DeployArgs, *, generate: bool
) -> tuple[DeployTarget, list[Outcome]]:
    from secconf.operations.deploy import plan_environments, plan_processes

    project = open_project(ctx, writing=generate)
    environments = selected(project, args.envs, args.all_)
    target = _target(args)
    with _Progress(len(environments), "planning") as progress:
        outcomes = plan_environments(
            project,
            environments,
            target,
            prune=args.prune,
            generate=generate,
            parallel=args.parallel,
            notify=notice,
            done=progress.advance,
            processes=plan_processes(len(environments), args.processes, target),
        )
    return target, outcomes


def _print_plan(plan: Plan) -> None:
    click.echo(f"{plan.environment} -> {plan.target} {plan.location}")
    unchanged = 0
    for change in plan.changes:
        if change.action == "unchanged":
            unchanged += 1
            continue
        where = f"{change.where}/" if change.where else ""
        fps = {
            "add": f"new {change.new}",
            "change": f"{change.old} -> {change.new}",
            "remove": f"was {change.old}",
        }[change.action]
        click.echo(f"  {SYMBOLS[change.action]} {change.action:<7} {where}{change.key}  ({fps})")
    if unchanged:
        click.echo(f"  = {unchanged} unchanged")
    for key in plan.unmanaged:
        click.echo(f"  ! {key}: not in the schema; left alone (--prune removes it)")
    for note in plan.notes:
        click.echo(f"  * {note}")
    if plan.store_replay:
        click.echo(f"  ! warning: {plan.store_replay}; apply refuses it (--allow-older-store)")
    if plan.in_sync:
        click.echo("  in sync: nothing to do")


def _print_error(outcome: Outcome) -> None:
    assert outcome.error is not None
    print_error(outcome.error, prefix=f"{outcome.environment}: failed: ")


def _json(outcomes: list[Outcome]) -> None:
    rows = []
    for o in outcomes:
        row: dict[str, Any] = {"environment": o.environment}
        if o.plan is not None:
            row["plan"] = o.plan.to_dict()
        if o.result is not None:
            row["result"] = {"status": o.result.status, "writes": o.result.writes}
        if o.error is not None:
            row["error"] = {"message": o.error.message, "hint": o.error.hint}
        rows.append(row)
    click.echo(json.dumps({"environments": rows}, indent=2))


@click.command()
@deploy_options
@click.pass_context
def plan(ctx: click.Context, args: DeployArgs) -> int:
    """Show what apply would change, per environment and key, by fingerprint. Writes nothing.

    Exit 0, or 2 when an environment could not be planned.
    """
    _, outcomes = _plans(ctx, args, generate=False)
    return _report_plans(outcomes, args.fmt)


def _report_plans(outcomes: list[Outcome], fmt: str) -> int:
    if fmt == "json":
        _json(outcomes)
    for outcome in outcomes:
        if outcome.error is not None:
            _print_error(outcome)
        elif fmt == "text" and outcome.plan is not None:
            _print_plan(outcome.plan)
    return int(ExitCode.BAD_INPUT if any(o.error for o in outcomes) else ExitCode.OK)


@click.command()
@deploy_options
@click.option("--yes", is_flag=True, help="Apply without asking (required off a terminal).")
@click.option(
    "--allow-older-store",
    is_flag=True,
    help="Deliver even a file store older than one seen before (put back on purpose).",
)
@click.pass_context
def apply(ctx: click.Context, args: DeployArgs, yes: bool, allow_older_store: bool) -> int:
    """Perform exactly the writes the plan shows; none when nothing changed.

    Without --yes, on a terminal the plan is shown and confirmed; off a terminal
    apply refuses. Environments are applied concurrently; one failing environment
    does not stop the others, and the exit code is 2 when any failed. Running it again
    after a failure converges.
    """
    from secconf.operations.deploy import apply_plans

    if not yes and not sys.stdin.isatty():
        # Show what would change, generating nothing, then refuse: no one can confirm.
        _report_plans(_plans(ctx, args, generate=False)[1], args.fmt)
        raise SecconfError(
            "refusing to apply without confirmation: not on a terminal",
            hint="pass --yes to apply",
        )
    deploy_target, outcomes = _plans(ctx, args, generate=True)
    pending = [o for o in outcomes if o.plan is not None and not o.plan.in_sync]
    if pending and not yes:
        for outcome in pending:
            assert outcome.plan is not None
            _print_plan(outcome.plan)
        confirm(f"Apply these changes to {len(pending)} environment(s)?", yes)
    with _Progress(len(outcomes), "applying") as progress:
        outcomes = apply_plans(
            outcomes,
            deploy_target,
            parallel=args.parallel,
            done=progress.advance,
            allow_older_store=allow_older_store,
        )
    if args.fmt == "json":
        _json(outcomes)
    for outcome in outcomes:
        if outcome.error is not None:
            _print_error(outcome)
        elif args.fmt == "text" and outcome.result is not None:
            r = outcome.result
            writes = f" ({r.writes} write{'s' if r.writes != 1 else ''})" if r.writes else ""
            click.echo(f"{r.environment}: {r.status}{writes}")
    failed = [o.environment for o in outcomes if o.error is not None]
    applied = sum(1 for o in outcomes if o.result and o.result.status == "applied")
    unchanged = sum(1 for o in outcomes if o.result and o.result.status == "unchanged")
    click.echo(
        f"{applied} applied, {unchanged} unchanged, {len(failed)} failed"
        + (f" ({', '.join(failed)})" if failed else ""),
        err=True,
    )
    return int(ExitCode.BAD_INPUT if failed else ExitCode.OK)


@click.command()
@deploy_options
@click.pass_context
def check(ctx: click.Context, args: DeployArgs) -> int:
    """Detect drift: exit 1 when what is live differs from what secconf would deliver.

    Exit 0 when every environment matches, 1 on drift (a hand-edited or deleted key),
    2 when an environment could not be checked. For CI and monitoring.
    """
    _, outcomes = _plans(ctx, args, generate=False)
    code = _report_plans(outcomes, args.fmt)
    drifted = [o.environment for o in outcomes if o.plan is not None and not o.plan.in_sync]
    failed = [o.environment for o in outcomes if o.error is not None]
    parts = [f"drift in {', '.join(drifted)}"] if drifted else []
    if failed:
        parts.append(f"could not check {', '.join(failed)}")
    in_sync = len(outcomes) - len(drifted) - len(failed)
    if in_sync:
        parts.append(f"{in_sync} environment(s) match" if parts else "no drift")
    click.echo("; ".join(parts), err=True)
    if code:
        return code
    return int(ExitCode.FINDINGS if drifted else ExitCode.OK)


class _Progress:
    """A rich progress bar on a terminal; nothing otherwise (results are printed after)."""

    def __init__(self, total: int, label: str) -> None:
        self.total = total
        self.label = label
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty() and self.total > 1:
            from rich.console import Console
            from rich.progress import Progress

            from secconf.core.redact import raw_stderr

            # Past the redacting stream, which would strip its cursor movements: it
            # shows a label and counts, never a value.
            # Counts only, on the raw stream; and no redirect of stdout/stderr through
            # rich's console, which would print other output past the redaction.
            self.bar = Progress(
                console=Console(file=raw_stderr()),
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
                # Redrawn at each advance, by no thread of its own: planning forks worker
                # processes, and a thread writing to stderr at the fork would leave them
                # its lock held.
                auto_refresh=False,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total)
        return self

    def advance(self, outcome: Outcome) -> None:
        """One environment is done."""
        if self.bar is not None:
            self.bar.advance(self.task)
            self.bar.refresh()
        elif self.total > 1:
            state = "failed" if outcome.error else "done"
            click.echo(f"{outcome.environment}: {self.label} {state}", err=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
