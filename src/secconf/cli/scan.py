"""`secconf scan`: find the environments' real sensitive values where they must not be."""

from __future__ import annotations

import json
from pathlib import Path

import click

from secconf.cli.common import complete_environment, open_project
from secconf.core.errors import ExitCode
from secconf.operations.scan import MIN_LENGTH, Occurrence, ScanResult

RULE_ID = "secconf-scan"


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--staged", is_flag=True, help="Search the staged changes (for a pre-commit hook).")
@click.option(
    "--history", is_flag=True, help="Search the lines every commit of the git history added."
)
@click.option(
    "--env",
    "-e",
    "envs",
    multiple=True,
    metavar="NAME",
    help="An environment whose values to look for; repeat for several (default: all).",
    shell_complete=complete_environment,
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="text for people; json for scripts; sarif for code scanning.",
)
@click.pass_context
def scan(
    ctx: click.Context,
    paths: tuple[Path, ...],
    staged: bool,
    history: bool,
    envs: tuple[str, ...],
    fmt: str,
) -> int:
    """Find where a sensitive value of the environments occurs: as it is, or in base64,
    base64url, URL-encoded or hex form.

    Looks in PATHs (default: the current directory; in a git work tree, the files git
    does not ignore), in the staged changes (--staged), or in what every commit added
    (--history). The values are the real ones (stored, generated, from_env when set,
    literals); values shorter than 8 characters are not searched (they occur by chance).
    Reports file, line, commit, variable, environment and encoding, never the value.
    Exit 1 when anything is found.

    \b
    Examples:
      secconf scan
      secconf scan --staged                # in a pre-commit hook
      secconf scan --history --format sarif > leaks.sarif
    """
    from secconf.operations.scan import scan as run_scan

    result = run_scan(open_project(ctx), paths, environments=envs, staged=staged, history=history)
    click.echo({"text": _text, "json": _json, "sarif": _sarif}[fmt](result), nl=False)
    return int(ExitCode.FINDINGS if result.found else ExitCode.OK)


def _where(o: Occurrence) -> str:
    return f"{o.commit[:12]} {o.path}:{o.line}" if o.commit else f"{o.path}:{o.line}"


def _text(result: ScanResult) -> str:
    lines = [
        f"{_where(o)}: {o.variable} of {o.environment}"
        + ("" if o.encoding == "plain" else f" ({o.encoding})")
        for o in result.occurrences
    ]
    lines += [f"not searched: {path}: {why}" for path, why in result.skipped]
    if result.short:
        listed = ", ".join(f"{v} ({e})" for e, v in result.short)
        lines.append(f"not searched, shorter than {MIN_LENGTH} characters: {listed}")
    found = len(result.occurrences)
    lines.append(
        f"{found} occurrence{'' if found == 1 else 's'} of {result.values} sensitive "
        f"value{'' if result.values == 1 else 's'} of {len(result.environments)} "
        f"environment{'' if len(result.environments) == 1 else 's'} in {result.files} "
        f"file{'' if result.files == 1 else 's'}"
    )
    return "\n".join(lines) + "\n"


def _json(result: ScanResult) -> str:
    document = {
        "occurrences": [o.to_dict() for o in result.occurrences],
        "not_searched": {
            "files": [{"file": path, "reason": why} for path, why in result.skipped],
            "shorter_than_minimum": [{"environment": e, "variable": v} for e, v in result.short],
        },
        "summary": {
            "occurrences": len(result.occurrences),
            "values": result.values,
            "environments": result.environments,
            "files": result.files,
            "minimum_length": MIN_LENGTH,
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _sarif(result: ScanResult) -> str:
    from secconf.cli.report import sarif_document

    rule: dict[str, object] = {
        "id": RULE_ID,
        "name": "sensitive-value-in-file",
        "shortDescription": {
            "text": "A sensitive value of an environment (or its base64, base64url, "
            "URL-encoded or hex form) is in a file."
        },
    }
    results: list[dict[str, object]] = []
    for o in result.occurrences:
        text = f"{o.variable} of environment {o.environment} ({o.encoding})" + (
            f", added by commit {o.commit}" if o.commit else ""
        )
        location = {
            "artifactLocation": {"uri": o.path, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": max(o.line, 1)},
        }
        results.append(
            {
                "ruleId": RULE_ID,
                "ruleIndex": 0,
                "level": "error",
                "message": {"text": f"{text}. Rotate the value and remove it from the file."},
                "locations": [{"physicalLocation": location}],
                "properties": {
                    "environment": o.environment,
                    "variable": o.variable,
                    "encoding": o.encoding,
                    "commit": o.commit,
                },
            }
        )
    return sarif_document([rule], results)
