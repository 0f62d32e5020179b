"""`secconf audit`: the inventory of sensitive variables, for auditors. Never a value."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from secconf.audit import Inventory, SensitiveItem, provenance_text
from secconf.cli.common import (
    OUTPUT_PATH,
    check_selection,
    environment_options,
    open_project,
    write_output,
)
from secconf.core.errors import ExitCode
from secconf.core.redact import printable

COLUMNS = (
    "environment",
    "name",
    "section",
    "set",
    "provenance",
    "fingerprint",
    "age_days",
    "destinations",
)


def _provenance_text(item: SensitiveItem) -> str:
    text = provenance_text(item.provenance, located=False)  # a narrow column
    if item.provenance["kind"] == "literal":  # what an auditor must not miss, in capitals
        return "PLAINTEXT" + text.removeprefix("plaintext")
    return text


def _destinations_text(item: SensitiveItem) -> str:
    return "; ".join(item.destination_texts)


def _row(item: SensitiveItem) -> list[str]:
    age = "" if item.age_days is None else str(item.age_days)
    if item.overdue:
        age += f" (> {item.rotate_after_days}: rotate)"
    cells = [
        item.environment,
        item.name,
        item.section,
        "yes" if item.is_set else ("MISSING" if item.missing else "no"),
        _provenance_text(item),
        item.fingerprint or "",
        age,
        _destinations_text(item),
    ]
    # Paths and names come from environment files: stripped of terminal controls here
    # as well as by the output stream, so that table columns line up.
    return [printable(cell) for cell in cells]


def _summary_line(inventory: Inventory) -> str:
    s = inventory.summary()
    return (
        f"{s['sensitive']} sensitive values: {s['missing']} missing, "
        f"{s['plaintext']} in plaintext, {s['overdue']} past their rotation age, "
        f"{s['exposed']} exposed to removed recipients"
    )


def _table(inventory: Inventory) -> str:
    rows = [list(COLUMNS)] + [_row(i) for i in inventory.items()]
    widths = [max(len(r[c]) for r in rows) for c in range(len(COLUMNS) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
    return "\n".join([*lines, "", *_access_lines(inventory), _summary_line(inventory)]) + "\n"


def _access_lines(inventory: Inventory) -> list[str]:
    """Per environment: who can decrypt its store, and how many values a removed
    recipient could read."""
    lines = []
    for name, access in inventory.access.items():
        exposed = sum(bool(i.exposed_to) for i in inventory.environments.get(name, []))
        if "recipients" in access:
            who = f"age, {len(access['recipients'])} recipients"
        elif "key_file" in access:
            who = f"{access['encryption']}, key file {access['key_file']}"
        else:
            who = str(access.get("governed_by", access["backend"]))
        lines.append(printable(f"{name}: {who}, {exposed} exposed values"))
    return [*lines, ""] if lines else []


def _csv(inventory: Inventory) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(i) for i in inventory.items())
    return buffer.getvalue()


def _markdown(inventory: Inventory) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "# Sensitive configuration inventory",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(cell(c) for c in _row(i)) + " |" for i in inventory.items()]
    return "\n".join([*lines, "", _summary_line(inventory), ""])


def _json(inventory: Inventory) -> str:
    return json.dumps(inventory.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _html(inventory: Inventory) -> str:
    from datetime import UTC, datetime

    from secconf.audit.html import render_html
    from secconf.core.redact import redact

    moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    page = render_html(inventory.to_dict(), generated_at=moment)
    return redact(page)  # a file is not printed: the second line of defence, here


FORMATS = {"table": _table, "csv": _csv, "markdown": _markdown, "json": _json, "html": _html}


@click.command()
@environment_options
@click.option(
    "--format", "fmt", type=click.Choice(list(FORMATS)), default="table", show_default=True
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 when a sensitive value is missing, in plaintext, past its rotation age, "
    "or readable by a removed age recipient.",
)
@click.option(
    "--offline", is_flag=True, help="Do not read the secret stores (generated keys show as unread)."
)
@click.option("--out", type=OUTPUT_PATH, help="Write to this file instead of stdout.")
@click.pass_context
def audit(
    ctx: click.Context,
    envs: tuple[str, ...],
    all_: bool,
    fmt: str,
    strict: bool,
    offline: bool,
    out: Path | None,
) -> int:
    """List every sensitive variable per environment, without showing any value.

    For each: section and description; whether it is set; its provenance (generated,
    with backend, version and creation date; from_env NAME; a plaintext literal at
    file:line; or the schema default); where it is delivered (.env path, Kubernetes
    Secret, Vault path); its fingerprint; and the age of generated keys. Nothing is
    generated or written, but for --out.

    --format html is one self-contained page for auditors (no script, nothing loaded):
    a matrix of environments x sensitive variables, each cell's state by colour and in
    words, and per environment who can decrypt its store.
    """
    from secconf.operations.audit import audit_environments, failing

    check_selection(envs, all_)
    inventory = audit_environments(open_project(ctx), envs, all_=all_, offline=offline)
    write_output(FORMATS[fmt](inventory), out)
    return int(ExitCode.FINDINGS if strict and failing(inventory) else ExitCode.OK)
