"""Exposure: after an age recipient is removed, audit lists exactly the values it could
read, `--strict` exits 1 until they are rotated; and audit says who can decrypt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.ages import age_repo, person, write_groups
from tests.support.repo import run


def test_a_removed_recipient_exposes_what_it_could_read_until_rotated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = person(), person()
    root = age_repo(tmp_path / "repo", {"ops": [alice, bob]}, ["ops"])
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    clean = run(root, "audit", "--env", "dev", "--format", "json", "--strict")
    assert clean.code == 0, clean.both
    env = json.loads(clean.out)["environments"][0]
    assert env["access"] == {
        "backend": "file",
        "encryption": "age",
        "recipients": [
            {"recipient": alice.public, "group": "ops"},
            {"recipient": bob.public, "group": "ops"},
        ],
    }
    write_groups(root, {"ops": [alice]})
    assert run(root, "store", "recipients", "sync", "--env", "dev").code == 0
    exposed = run(root, "audit", "--env", "dev", "--format", "json", "--strict")
    assert exposed.code == 1
    document = json.loads(exposed.out)
    variables = {v["name"]: v for v in document["environments"][0]["variables"]}
    listed = sorted(n for n, v in variables.items() if v["exposed_to"])
    assert listed == ["JWT_SECRET_KEY", "VAPID_PRIVATE_KEY"]  # the generated sensitive ones
    [record] = variables["JWT_SECRET_KEY"]["exposed_to"]
    assert record["recipient"] == bob.public and record["group"] == "ops"
    assert record["removed_at"].endswith("Z")
    assert "secconf keys rotate JWT_SECRET_KEY --env dev" in variables["JWT_SECRET_KEY"]["hint"]
    assert document["summary"]["exposed"] == 2
    table = run(root, "audit", "--env", "dev")
    assert "dev: age, 1 recipients, 2 exposed values" in table.out
    # Offline, too: the header and the dates are readable without any key.
    monkeypatch.delenv("SECCONF_AGE_IDENTITY")
    offline = run(root, "audit", "--env", "dev", "--offline", "--format", "json", "--strict")
    assert offline.code == 1 and json.loads(offline.out)["summary"]["exposed"] == 2
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    import time

    time.sleep(1.1)  # a rotation in a later second than the removal
    assert run(root, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    after = json.loads(run(root, "audit", "--env", "dev", "--format", "json").out)
    still = sorted(v["name"] for v in after["environments"][0]["variables"] if v["exposed_to"])
    assert still == ["VAPID_PRIVATE_KEY"]
    assert run(root, "keys", "rotate", "VAPID_PRIVATE_KEY", "--env", "dev", "--yes").code == 0
    assert run(root, "audit", "--env", "dev", "--strict").code == 0


def test_a_master_key_store_names_its_key_file(tmp_path: Path) -> None:
    from tests.support.repo import make_repo

    root = make_repo(tmp_path / "repo", {"dev": "values: {}\n"})
    document = json.loads(run(root, "audit", "--env", "dev", "--format", "json").out)
    assert document["environments"][0]["access"] == {
        "backend": "file",
        "encryption": "master-key",
        "key_file": ".secconf/master.key",
    }
