"""`audit --format html`: the auditor's page. Read back by Python's HTML parser and by a
real browser (Debian's chromium, headless: its DOM and a screenshot); never a value, no
script, nothing loaded, hostile text shown as text."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests.support.repo import make_repo, run

from secconf.operations.project import Project

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> " \' & \u202e'
CI = {"PROD_TURNSTILE_SECRET_KEY": "0x4AAAAAAAhtml-audit-secret"}
PLAINTEXT = "plaintext-turnstile-secret-value"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_repo(tmp_path / "repo")
    jwt = root / "schema" / "10-jwt.yaml"
    jwt.write_text(
        jwt.read_text().replace(
            "description: JWT signing key. Auto-generated if not set. Set a stable value in "
            "production.",
            "description: " + json.dumps(HOSTILE),
        )
    )
    staging = (root / "environments" / "staging.yaml").read_text()
    staging = staging.replace(
        "TURNSTILE_SECRET_KEY: {from_env: STAGING_TURNSTILE_SECRET_KEY}",
        f"TURNSTILE_SECRET_KEY: {PLAINTEXT}",
    ).replace("path: out/staging.env", "path: 'out/<b>\"x</b>.env'")
    (root / "environments" / "staging.yaml").write_text(staging)
    for name, value in CI.items():
        monkeypatch.setenv(name, value)
    assert run(root, "keys", "ensure", "--all").code == 0
    return root


def page(root: Path, days_later: int = 0) -> str:
    from secconf.audit.html import render_html
    from secconf.operations.audit import audit_environments

    later = datetime.now(UTC) + timedelta(days=days_later)
    inventory = audit_environments(Project.open(root), [], all_=True, offline=False, now=later)
    return render_html(inventory.to_dict(), generated_at="2026-12-02T00:00:00Z")


def secrets(root: Path) -> list[str]:
    project = Project.open(root)
    out = [*CI.values(), PLAINTEXT]
    for name in project.environments.names():
        store = project.open_store(project.environments.get(name))
        out += [
            e.current.value.reveal() for n, e in store.read().items() if n != "VAPID_PUBLIC_KEY"
        ]
    return out


class Elements(HTMLParser):
    """Every start tag and attribute, and the text, as Python's own parser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(text: str) -> Elements:
    parser = Elements()
    parser.feed(text)
    parser.close()
    return parser


def test_the_page_has_every_cell_and_never_a_value(repo: Path) -> None:
    text = page(repo, days_later=400)
    for value in secrets(repo):
        assert value not in text
    elements = parsed(text)
    tags = {tag for tag, _ in elements.tags}
    assert not tags & {"script", "img", "iframe", "link", "object", "embed", "a", "form"}
    for _, attrs in elements.tags:
        assert not {"src", "href", "action"} & set(attrs)
        assert not [a for a in attrs if a.startswith("on")]
    cells = [a for t, a in elements.tags if t == "td" and "cell" in (a.get("class") or "")]
    assert len(cells) == 3 * 3  # environments x sensitive variables
    words = " ".join(elements.text)
    for label in ("PLAINTEXT", "OVERDUE", "set", "not set"):
        assert label in words, label
    assert HOSTILE.replace("\u202e", "") in words and "\u202e" not in text  # bidi: removed
    assert "key file .secconf/master.key" in words
    assert "SECCONF_MASTER_KEY_STAGING" in words  # staging: master key; production: age
    assert "(group ops)" in words and "(group ci-production)" in words
    titles = " ".join(a.get("title") or "" for _, a in elements.tags)
    assert "provenance: plaintext literal at environments/staging.yaml" in titles
    assert "kubernetes: namespace=app-prod" in titles
    assert 'dotenv: path=out/<b>"x</b>.env' in titles  # an attribute's text, not markup


def test_fields_the_inventory_gains_show_without_a_change() -> None:
    from secconf.audit.html import render_html

    document = {
        "environments": [
            {
                "name": "prod",
                "access": {
                    "backend": "file",
                    "encryption": "age",
                    "recipients": [{"recipient": "age1alice", "group": "ops"}],
                },
                "variables": [
                    {
                        "name": "K",
                        "set": True,
                        "exposed_to": [
                            {"recipient": "age1bob", "group": "ops", "removed_at": "2026-12-01"}
                        ],
                        "provenance": {},
                        "destinations": [],
                    }
                ],
            }
        ],
        "summary": {"sensitive": 1, "exposed": 1},
    }
    words = " ".join(parsed(render_html(document, generated_at="now")).text)
    assert "EXPOSED" in words and "age1alice (group ops)" in words and "exposed" in words


def test_cli_writes_the_page_with_out(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.html"
    result = run(repo, "audit", "--all", "--format", "html", "--out", str(out))
    assert result.code == 0, result.err
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert run(repo, "audit", "--format", "html", "--out", str(tmp_path)).code == 2
    assert run(repo, "audit", "--env", "development", "--format", "html").out.startswith(
        "<!DOCTYPE html>"
    )


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


def chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--user-data-dir=" + str(Path(args[-1][7:]).parent / "profile"),
    ]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, timeout=90, check=False)


@needs_chromium
def test_a_real_browser_shows_the_states_and_runs_nothing(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "audit.html"
    path.write_text(page(repo, days_later=400), encoding="utf-8")
    dom = chromium("--dump-dom", f"file://{path}")
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout.decode()
    elements = parsed(text)
    assert "script" not in {tag for tag, _ in elements.tags}  # the hostile one stayed text
    words = " ".join(elements.text)
    assert "PLAINTEXT" in words and "OVERDUE" in words and "MISSING" not in words.split("legend")[0]
    assert HOSTILE.replace("\u202e", "") in words
    for value in secrets(repo):
        assert value not in text
    shot = tmp_path / "audit.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1400,1000", f"file://{path}")
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
