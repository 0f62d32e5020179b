"""The auditor's page: one self-contained HTML file from the inventory's JSON form.

No script, no request: a Content-Security-Policy of `default-src 'none'` (inline style
only), nothing loaded from anywhere. Each cell says its state in words as well as by
colour. Every text (names, descriptions, paths: they come from files a pull request can
change) is stripped of control characters and HTML-escaped. The page is driven by the
JSON form (`Inventory.to_dict()`), so fields added to it (`exposed`, recipients) show
without a change here.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from secconf.audit import provenance_text
from secconf.core.redact import printable

# state -> (label, background, text colour); the first that applies wins a cell.
STATES: dict[str, tuple[str, str, str]] = {
    "exposed": ("EXPOSED", "#7f1d1d", "#ffffff"),
    "plaintext": ("PLAINTEXT", "#dc2626", "#ffffff"),
    "missing": ("MISSING", "#f97316", "#000000"),
    "overdue": ("OVERDUE", "#facc15", "#000000"),
    "unread": ("NOT READ", "#cbd5e1", "#000000"),
    "set": ("set", "#bbf7d0", "#000000"),
    "unset": ("not set", "#e5e7eb", "#000000"),
    "absent": ("not in this environment", "#ffffff", "#6b7280"),
}
_FLAGS = ("exposed", "plaintext", "missing", "overdue")

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #111827; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #9ca3af; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.cell { min-width: 9em; }
.state { font-weight: 600; }
small { color: inherit; opacity: 0.85; }
""" + "".join(
    f"td.state-{name} {{ background: {bg}; color: {fg}; }}\n"
    for name, (_, bg, fg) in STATES.items()
)


def _text(value: object) -> str:
    """Any value as HTML text: control characters removed, then escaped."""
    return html.escape(printable(str(value)), quote=True)


def _has(variable: Mapping[str, Any], flag: str) -> bool:
    # exposure is the list of removed recipients that could read the current version
    return bool(variable.get("exposed_to") if flag == "exposed" else variable.get(flag))


def state_of(variable: Mapping[str, Any]) -> str:
    """The one state a cell shows first."""
    for flag in _FLAGS:
        if _has(variable, flag):
            return flag
    if variable.get("provenance", {}).get("store_read") is False:
        return "unread"
    return "set" if variable.get("set") else "unset"


def _flags(variable: Mapping[str, Any]) -> list[str]:
    """Every state that applies (a value can be both set and overdue)."""
    out = [STATES[f][0] for f in _FLAGS if _has(variable, f)]
    if variable.get("set"):
        out.append(STATES["set"][0])
    return out or [STATES[state_of(variable)][0]]


def destination_text(destination: Mapping[str, Any]) -> str:
    """One destination as `target: field=value, ...`."""
    fields = ", ".join(f"{k}={v}" for k, v in destination.items() if k != "target")
    return f"{destination.get('target')}: {fields}"


def _age(variable: Mapping[str, Any]) -> str:
    age = variable.get("age_days")
    if age is None:
        return ""
    limit = variable.get("rotate_after_days")
    return f"{age} days old" + (f" (rotate after {limit})" if limit is not None else "")


def _cell(variable: Mapping[str, Any] | None) -> str:
    if variable is None:
        label = STATES["absent"][0]
        return f'<td class="cell state-absent"><span class="state">{label}</span></td>'
    state = state_of(variable)
    places = [destination_text(d) for d in variable.get("destinations", [])]
    title = "\n".join([f"provenance: {provenance_text(variable.get('provenance', {}))}", *places])
    age = _age(variable)
    parts = [f'<span class="state">{_text(" · ".join(_flags(variable)))}</span>']
    if age:
        parts.append(f"<br><small>{_text(age)}</small>")
    return f'<td class="cell state-{state}" title="{_text(title)}">{"".join(parts)}</td>'


def _matrix(environments: Sequence[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for env in environments:
        names.update((v["name"], None) for v in env.get("variables", []))
    by_env = [{v["name"]: v for v in env.get("variables", [])} for env in environments]
    head = "".join(f'<th scope="col">{_text(env["name"])}</th>' for env in environments)
    rows = [
        '<table id="matrix">',
        f'<thead><tr><th scope="col">variable</th>{head}</tr></thead><tbody>',
    ]
    for name in names:
        cells = "".join(_cell(variables.get(name)) for variables in by_env)
        rows.append(f'<tr><th scope="row">{_text(name)}</th>{cells}</tr>')
    return [*rows, "</tbody></table>"]


def _legend() -> list[str]:
    items = "".join(
        f'<td class="state-{name}"><span class="state">{_text(label)}</span></td>'
        for name, (label, _, _) in STATES.items()
    )
    return ['<table id="legend"><tr><th>legend</th>', items, "</tr></table>"]


def access_lines(name: str, access: Mapping[str, Any]) -> list[str]:
    """Who can decrypt an environment's store, in words, from its audit `access` block."""
    if access.get("encryption") == "age":
        return [
            f"{r.get('recipient')} (group {r['group']})"
            if r.get("group")
            else str(r.get("recipient"))
            for r in access.get("recipients", [])
        ] or ["no recipient: nobody can decrypt it"]
    if access.get("encryption") == "master-key":
        from secconf.store.masterkey import ENV_VAR, env_var_for

        return [
            f"whoever holds the master key: the key file {access.get('key_file')}, or the "
            f"variable {env_var_for(name)} or {ENV_VAR} where it is set (CI)"
        ]
    if access.get("backend") == "vault":
        return [
            f"every Vault token whose policy may read {access.get('mount')}/data/"
            f"{access.get('path')} ({access.get('governed_by')})"
        ]
    if access:
        return [f"governed by {access.get('governed_by', access.get('backend'))}"]
    return []


def _details(env: Mapping[str, Any]) -> list[str]:
    out = [f'<h2 id="env-{_text(env["name"])}">{_text(env["name"])}</h2>']
    who = access_lines(str(env["name"]), env.get("access") or {})
    out.append("<p>Who can decrypt its stored values:</p><ul>")
    out += [f"<li>{_text(line)}</li>" for line in who] or ["<li>(nothing is stored)</li>"]
    out.append("</ul>")
    out.append(
        "<table><thead><tr><th>variable</th><th>state</th><th>section</th>"
        "<th>description</th><th>provenance</th><th>destinations</th><th>fingerprint</th>"
        "<th>age</th></tr></thead><tbody>"
    )
    for v in env.get("variables", []):
        places = "<br>".join(_text(destination_text(d)) for d in v.get("destinations", []))
        cells = [
            _text(v["name"]),
            _text(" · ".join(_flags(v))),
            _text(v.get("section", "")),
            _text(v.get("description", "")),
            _text(provenance_text(v.get("provenance", {}))),
            places,
            _text(v.get("fingerprint") or ""),
            _text(_age(v)),
        ]
        state = state_of(v)
        row = "".join(
            f'<td class="state-{state}">{c}</td>' if i == 1 else f"<td>{c}</td>"
            for i, c in enumerate(cells)
        )
        out.append(f"<tr>{row}</tr>")
    return [*out, "</tbody></table>"]


def render_html(document: Mapping[str, Any], *, generated_at: str) -> str:
    """The page for `document` (the inventory's JSON form, each environment's `access`
    block saying who can decrypt its store)."""
    environments = list(document.get("environments", []))
    summary = document.get("summary", {})
    counts = "".join(f"<tr><th>{_text(k)}</th><td>{_text(v)}</td></tr>" for k, v in summary.items())
    body = [
        "<h1>Sensitive configuration: audit</h1>",
        f"<p>Generated by secconf at {_text(generated_at)}. No value is shown: a "
        "fingerprint at most.</p>",
        f'<table id="summary">{counts}</table>',
        "<h2>Environments &times; sensitive variables</h2>",
        "<p>Hover a cell for the value's provenance and destinations; each environment's "
        "section below lists them all.</p>",
        *_matrix(environments),
        *_legend(),
    ]
    for env in environments:
        body += _details(env)
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="referrer" content="no-referrer">',
        "<title>secconf audit</title>",
        f"<style>{_STYLE}</style></head><body>",
    ]
    return "\n".join([*head, *body, "</body></html>"]) + "\n"
