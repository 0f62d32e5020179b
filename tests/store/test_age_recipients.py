"""Recipients of an age store: list, sync (adding re-wraps the header, removing rotates the
data key), validate's SC022, `store init --encryption age`, `store migrate --to age`, and
the store under SIGKILL and racing writers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tests.support.ages import (
    GENERATED,
    Person,
    age_env,
    age_repo,
    identity_file,
    person,
    write_groups,
)
from tests.support.repo import codes, ensure_concurrently, make_repo, run, write_env

from secconf.operations.project import Project
from secconf.operations.validate import validate_environments

ROOT = Path(__file__).resolve().parents[2]


def store_file(root: Path) -> Path:
    return root / "secrets" / "dev.enc.yaml"


def data(root: Path) -> dict:
    return dict(yaml.safe_load(store_file(root).read_text()))


def values_as(root: Path, who: Person, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple]:
    """Every stored value (version, date, value) as `who` reads it."""
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", who.identity)
    project = Project.open(root)
    entries = project.open_store(project.environments.get("dev")).read()
    return {
        n: tuple((v.version, v.created_at, v.value.reveal()) for v in (e.current, *e.previous))
        for n, e in entries.items()
    }


def can_open(root: Path, who: Person, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", who.identity)
    result = run(root, "keys", "status", "--env", "dev")
    assert result.code in (0, 2), result.both
    return result.code == 0


@pytest.fixture
def team() -> dict[str, Person]:
    return {"alice": person(), "bob": person(), "carol": person()}


@pytest.fixture
def repo(tmp_path: Path, team: dict[str, Person], monkeypatch: pytest.MonkeyPatch) -> Path:
    root = age_repo(tmp_path / "repo", {"ops": [team["alice"], team["bob"]]}, ["ops"])
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", team["alice"].identity)
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    return root


def test_adding_a_recipient_changes_only_the_header(
    repo: Path, team: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = data(repo)
    assert not can_open(repo, team["carol"], monkeypatch)
    write_groups(repo, {"ops": [team["alice"], team["bob"], team["carol"]]})
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", team["alice"].identity)
    result = run(repo, "store", "recipients", "sync", "--env", "dev")
    assert result.code == 0 and f"dev: added {team['carol'].public}" in result.out
    after = data(repo)
    assert after["entries"] == before["entries"]  # every ciphertext kept
    assert after["removed"] == [] and len(after["recipients"]) == 3
    assert can_open(repo, team["carol"], monkeypatch)
    again = run(repo, "store", "recipients", "sync", "--all")
    assert again.code == 0 and "already sealed to its recipients" in again.out


def test_a_removed_recipient_cannot_open_the_synced_store_and_a_readded_one_can(
    repo: Path, team: dict[str, Person], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    alice, bob = team["alice"], team["bob"]
    kept = values_as(repo, alice, monkeypatch)
    git_copy = store_file(repo).read_bytes()  # what bob could have kept
    write_groups(repo, {"ops": [alice]})
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    result = run(repo, "store", "recipients", "sync", "--all")
    assert result.code == 0, result.both
    assert f"dev: removed {bob.public}" in result.out and "4 entries re-encrypted" in result.out
    after = data(repo)
    assert after["recipients"] == [{"recipient": alice.public, "group": "ops"}]
    [record] = after["removed"]
    assert record["recipient"] == bob.public and record["group"] == "ops"
    assert values_as(repo, alice, monkeypatch) == kept  # every value, version and date
    assert not can_open(repo, bob, monkeypatch)
    # The copy from before the removal still opens with bob's identity: audit's exposure.
    old = tmp_path / "old"
    make_repo(old, {"dev": age_env(["ops"])})
    write_groups(old, {"ops": [alice, bob]})
    (old / "secrets").mkdir()
    store_file(old).write_bytes(git_copy)
    assert can_open(old, bob, monkeypatch)
    # Re-added: bob opens the store again (and the removal stays on record).
    write_groups(repo, {"ops": [alice, bob]})
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    assert run(repo, "store", "recipients", "sync", "--env", "dev").code == 0
    assert can_open(repo, bob, monkeypatch)
    assert len(data(repo)["removed"]) == 1


def test_a_deleted_removal_record_fails_the_integrity_check(
    repo: Path, team: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_groups(repo, {"ops": [team["alice"]]})
    assert run(repo, "store", "recipients", "sync", "--env", "dev").code == 0
    text = store_file(repo).read_text()
    start = text.index("removed:\n")
    end = text.index("generation:")
    store_file(repo).write_text(text[:start] + "removed: []\n" + text[end:])
    result = run(repo, "keys", "status", "--env", "dev")
    assert result.code == 2 and "integrity tag does not match" in result.err


def test_validate_reports_a_store_not_sealed_to_its_recipients(
    repo: Path, team: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project.open(repo)
    assert "SC022" not in str(validate_environments(project, ["dev"], all_=False, offline=True))
    write_groups(repo, {"ops": [team["alice"]]})
    monkeypatch.delenv("SECCONF_AGE_IDENTITY")  # the header is read without any identity
    result = validate_environments(Project.open(repo), ["dev"], all_=False, offline=True)
    [finding] = [f for r in result.reports for f in r.findings if f.code == "SC022"]
    assert (
        finding.severity == "error" and f"still sealed to {team['bob'].public}" in finding.message
    )
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", team["alice"].identity)
    assert run(repo, "store", "recipients", "sync", "--env", "dev").code == 0
    again = validate_environments(Project.open(repo), ["dev"], all_=False, offline=True)
    assert "SC022" not in {c for c, _, _ in codes(again.reports[0].findings)}


def test_recipients_list_resolves_groups_without_an_identity(
    repo: Path, team: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    carol = team["carol"]
    write_env(repo, "dev", age_env(["ops", carol.public]))
    monkeypatch.delenv("SECCONF_AGE_IDENTITY")
    result = run(repo, "store", "recipients", "list", "--env", "dev", "--format", "json")
    assert result.code == 0, result.both
    listed = json.loads(result.out)
    assert listed["in_sync"] is False
    assert listed["recipients"] == [
        {"recipient": team["alice"].public, "group": "ops", "sealed": True},
        {"recipient": team["bob"].public, "group": "ops", "sealed": True},
        {"recipient": carol.public, "sealed": False},
    ]
    text = run(repo, "store", "recipients", "list", "--env", "dev")
    assert f"{carol.public}  (not sealed yet: sync)" in text.out


def test_migrate_to_age_keeps_every_value_version_and_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = person()
    root = make_repo(tmp_path / "repo", {"dev": GENERATED})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    assert run(root, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    project = Project.open(root)
    master = project.open_store(project.environments.get("dev")).read()
    before = {
        n: [(v.version, v.created_at, v.value.reveal()) for v in (e.current, *e.previous)]
        for n, e in master.items()
    }
    refused = run(root, "store", "migrate", "--env", "dev", "--to", "age")
    assert refused.code == 2 and "say `encryption: master-key`, not age" in refused.err
    write_env(root, "dev", age_env([alice.public]))
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", person().identity)  # not a recipient
    refused = run(root, "store", "migrate", "--env", "dev", "--to", "age")
    assert refused.code == 2 and "you are not a recipient" in refused.err
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    result = run(root, "store", "migrate", "--env", "dev", "--to", "age")
    assert result.code == 0 and "moved 4 entries from master-key to age" in result.out
    assert data(root)["encryption"] == "age" and "key_check" not in data(root)
    after = values_as(root, alice, monkeypatch)
    assert {n: list(v) for n, v in after.items()} == before
    again = run(root, "store", "migrate", "--env", "dev", "--to", "age")
    assert again.code == 0 and "already encrypted with age" in again.out


def test_init_with_age_creates_an_identity_prints_only_its_public_key_and_the_store(
    tmp_path: Path, isolated_home: Path
) -> None:
    root = make_repo(tmp_path / "repo", {"dev": GENERATED})
    result = run(root, "store", "init", "--env", "dev", "--encryption", "age")
    assert result.code == 0, result.both
    identities = isolated_home / ".config/secconf/age/identities.txt"
    assert identities.stat().st_mode & 0o777 == 0o600
    secret = [ln for ln in identities.read_text().splitlines() if ln.startswith("AGE-SECRET")]
    assert secret and secret[0] not in result.both and "AGE-SECRET" not in result.both
    public = result.out.split("your public key: ")[1].split()[0]
    assert public.startswith("age1")
    assert f'recipients: ["{public}"]' in (root / "environments/dev.yaml").read_text()
    assert data(root)["recipients"] == [{"recipient": public}]
    assert run(root, "keys", "ensure", "--env", "dev").code == 0  # with that identity
    again = run(root, "store", "init", "--env", "dev", "--encryption", "age")
    assert again.code == 0 and "created your age identity" not in again.out
    assert "already exists" in again.out


def test_twelve_processes_racing_keys_ensure_on_an_age_store_create_one_value(
    tmp_path: Path, isolated_home: Path
) -> None:
    alice = person()
    root = age_repo(tmp_path / "repo", {"ops": [alice]}, ["ops"])
    identity_file(isolated_home / ".config/secconf/age/identities.txt", alice)
    reports = ensure_concurrently(root, "dev", processes=12)
    statuses = [sorted((k["variable"], k["status"]) for k in r) for r in reports]
    assert len([s for s in statuses if ("JWT_SECRET_KEY", "created") in s]) == 1
    fingerprints = {tuple(sorted((k["variable"], k["fingerprint"]) for k in r)) for r in reports}
    assert len(fingerprints) == 1  # every process reports the one stored value
    assert [e["version"] for e in data(root)["entries"].values()] == [1, 1, 1, 1]


SYNC = r"""
import os, sys
from secconf.cli import main
os._exit(main(["--root", sys.argv[1], "store", "recipients", "sync", "--env", "dev"]))
"""


def test_sigkill_during_sync_leaves_a_store_that_opens_with_the_old_or_new_recipients(
    repo: Path, team: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = team["alice"], team["bob"]
    kept = values_as(repo, alice, monkeypatch)
    environ = {**os.environ, "SECCONF_AGE_IDENTITY": alice.identity}
    sets = ([alice], [alice, bob])  # removing bob re-encrypts everything; re-adding him not
    killed = 0
    for round_ in range(8):
        write_groups(repo, {"ops": sets[round_ % 2]})
        before = data(repo)["recipients"]
        proc = subprocess.Popen(
            [sys.executable, "-c", SYNC, str(repo)],
            cwd=ROOT,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(random.uniform(0.2, 0.9))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        after = data(repo)["recipients"]
        wanted = [{"recipient": p.public, "group": "ops"} for p in sets[round_ % 2]]
        assert after in (before, wanted)
        assert values_as(repo, alice, monkeypatch) == kept
        assert can_open(repo, bob, monkeypatch) == (
            (after == wanted and round_ % 2 == 1) or (after == before and round_ % 2 == 0)
        )
        monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
        assert run(repo, "store", "recipients", "sync", "--env", "dev").code == 0  # finish it
