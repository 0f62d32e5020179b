"""Formats for validation findings: text, json, github annotations, SARIF 2.1.0."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from secconf import __version__
from secconf.operations.validate import EnvironmentReport
from secconf.validate.context import RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _count(reports: list[EnvironmentReport], severity: str) -> int:
    return sum(1 for r in reports for f in r.findings if f.severity == severity)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def render_text(reports: list[EnvironmentReport]) -> str:
    """For people: per environment, one line per finding with its hint, then a summary."""
    color = _use_color()
    colors = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
    lines: list[str] = []
    for report in reports:
        errors = sum(1 for f in report.findings if f.severity == "error")
        warnings = sum(1 for f in report.findings if f.severity == "warning")
        status = "ok" if not errors else _plural(errors, "error")
        if warnings:
            status += f", {_plural(warnings, 'warning')}"
        lines.append(f"{report.name}: {status}")
        for f in report.findings:
            where = f"{f.file}:{f.line}" if f.line else (f.file or "")
            severity = f"{colors[f.severity]}{f.severity}\033[0m" if color else f.severity
            lines.append(f"  {where}: {severity} {f.code} {f.message}")
            if f.hint:
                lines.append(f"      hint: {f.hint}")
    errors, warnings = _count(reports, "error"), _count(reports, "warning")
    lines.append(
        f"{_plural(len(reports), 'environment')} checked: "
        f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    )
    return "\n".join(lines) + "\n"


def render_json(reports: list[EnvironmentReport]) -> str:
    """For scripts: `{"environments": [{"name", "findings"}], "summary": {errors, warnings}}`."""
    import json

    document = {
        "environments": [
            {"name": r.name, "findings": [f.to_dict() for f in r.findings]} for r in reports
        ],
        "summary": {
            "errors": _count(reports, "error"),
            "warnings": _count(reports, "warning"),
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(reports: list[EnvironmentReport]) -> str:
    """GitHub Actions workflow commands: one `::error file=..,line=..::` per finding."""
    level = {"error": "error", "warning": "warning", "info": "notice"}
    lines = []
    for report in reports:
        for f in report.findings:
            props = []
            if f.file:
                props.append(f"file={_escape_property(f.file)}")
            if f.line:
                props.append(f"line={f.line}")
            title = f"{f.code} {report.name}" + (f" {f.variable}" if f.variable else "")
            props.append(f"title={_escape_property(title)}")
            message = f.message + (f" (hint: {f.hint})" if f.hint else "")
            lines.append(f"::{level[f.severity]} {','.join(props)}::{_escape_data(message)}")
    return "".join(line + "\n" for line in lines)


def render_sarif(reports: list[EnvironmentReport]) -> str:
    """SARIF 2.1.0, as GitHub code scanning and other SAST dashboards take it."""
    codes = list(RULES)
    level = {"error": "error", "warning": "warning", "info": "note"}
    results = []
    for report in reports:
        for f in report.findings:
            result: dict[str, object] = {
                "ruleId": f.code,
                "ruleIndex": codes.index(f.code),
                "level": level[f.severity],
                "message": {"text": f.message + (f" Hint: {f.hint}" if f.hint else "")},
                "properties": {"environment": report.name, "variable": f.variable},
            }
            if f.file:
                location: dict[str, object] = {
                    "artifactLocation": {"uri": f.file, "uriBaseId": "%SRCROOT%"}
                }
                if f.line:
                    location["region"] = {"startLine": f.line}
                result["locations"] = [{"physicalLocation": location}]
            results.append(result)
    rules: list[dict[str, object]] = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
        }
        for rule in RULES.values()
    ]
    return sarif_document(rules, results)


def sarif_document(rules: list[dict[str, object]], results: list[dict[str, object]]) -> str:
    """A SARIF 2.1.0 log of one run of secconf: its rules and its results."""
    import json

    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "secconf", "version": __version__, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


REPORTERS: dict[str, Callable[[list[EnvironmentReport]], str]] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "sarif": render_sarif,
}
