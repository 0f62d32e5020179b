"""A store file put back from before a rotation is detected: every write raises the
store's generation (covered by its integrity tag); secconf remembers the highest it saw
on this machine, and Vault metadata keeps the one last delivered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from tests.support.deploy import MOUNT, Deployment, make_deployment
from tests.support.repo import make_repo, run

DEV = "values:\n  JWT_SECRET_KEY: {generate: true}\n"


def store_file(root: Path, env: str = "dev") -> Path:
    return root / "secrets" / f"{env}.enc.yaml"


def generation(root: Path, env: str = "dev") -> int:
    return int(yaml.safe_load(store_file(root, env).read_text()).get("generation", 0))


def rotate(root: Path) -> None:
    result = run(root, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes")
    assert result.code == 0, result.err


def test_every_write_raises_the_generation_and_the_record_follows(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    first = generation(root)
    rotate(root)
    assert generation(root) == first + 1
    record = root / ".secconf" / "state" / "generations.json"
    assert json.loads(record.read_text())["stores"]["dev"]["secrets/dev.enc.yaml"] == first + 1
    assert record.stat().st_mode & 0o777 == 0o600
    assert run(root, "keys", "ensure", "--env", "dev").code == 0  # nothing to write
    assert generation(root) == first + 1


def test_the_generation_is_covered_by_the_integrity_tag(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    path = store_file(root)
    text = path.read_text()
    path.write_text(text.replace(f"generation: {generation(root)}\n", "generation: 99\n"))
    result = run(root, "keys", "status", "--env", "dev")
    assert result.code == 2 and "integrity check failed" in result.err


def test_a_store_written_before_generations_reads_as_generation_zero(tmp_path: Path) -> None:
    """Stores written by an older secconf have no generation field; the format name is
    unchanged and they read as they are, then count on from 1."""
    from secconf.core.yamlio import dump_yaml
    from secconf.operations.project import Project
    from secconf.store import format as fmt
    from secconf.store.masterkey import find_master_key

    root = make_repo(tmp_path / "repo", {"dev": DEV})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    data = yaml.safe_load(store_file(root).read_text())
    body = {k: v for k, v in data.items() if k not in ("generation", "mac")}
    project = Project.open(root)
    key = find_master_key("dev", root / ".secconf" / "master.key")
    assert key is not None
    store_file(root).write_text(dump_yaml({**body, "mac": fmt.Sealer(fmt.DataKey(key.material), "dev").tag(body)}))
    shutil.rmtree(root / ".secconf" / "state")  # as on a machine that never saw it
    assert run(root, "keys", "status", "--env", "dev").code == 0
    rotate(root)
    assert generation(root) == 1 and project.root == root


def test_a_store_put_back_from_before_a_rotation_is_found_by_validate(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    rotate(root)
    copy = store_file(root).read_bytes()  # after the first rotation
    rotate(root)
    store_file(root).write_bytes(copy)  # a whole, valid, older file
    result = run(root, "validate", "--env", "dev", "--format", "json")
    found = [f for f in json.loads(result.out)["environments"][0]["findings"]]
    replayed = [f for f in found if f["code"] == "SC021"]
    assert len(replayed) == 1 and replayed[0]["severity"] == "warning", found
    assert replayed[0]["file"] == "secrets/dev.enc.yaml"
    assert "lower than generation" in replayed[0]["message"]
    # Other commands say so on stderr; validate --offline does not read the store.
    status = run(root, "keys", "status", "--env", "dev")
    assert status.code == 0 and "replayed store" in status.err
    assert "SC021" not in run(root, "validate", "--env", "dev", "--offline").out


# --------------------------------------------------------------------------- Vault


@pytest.fixture
def deployment(vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployment:  # type: ignore[no-untyped-def]
    return make_deployment(tmp_path, monkeypatch, unique)


def test_vault_metadata_catches_a_replayed_store_on_a_fresh_machine(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    apply = ("apply", "--env", "dev", "--target", "vault", "--yes")
    assert d.run(*apply).code == 0
    rotate(d.root)
    copy = store_file(d.root).read_bytes()
    rotate(d.root)
    assert d.run(*apply).code == 0
    delivered = vault.kv_custom_metadata(MOUNT, d.vault_path("dev"))["secconf-store-generation"]
    assert int(delivered) == generation(d.root)
    before = vault.kv_versions(MOUNT, d.vault_path("dev"))

    store_file(d.root).write_bytes(copy)
    shutil.rmtree(d.root / ".secconf" / "state")  # a fresh CI machine: no local record
    plan = d.run("plan", "--env", "dev", "--target", "vault")
    assert plan.code == 0, plan.both
    assert "! warning: the store secrets/dev.enc.yaml is at generation" in plan.out
    assert f"lower than generation {delivered} last delivered to Vault" in plan.out

    refused = d.run(*apply)
    assert refused.code == 2 and "--allow-older-store" in refused.err, refused.both
    assert vault.kv_versions(MOUNT, d.vault_path("dev")) == before  # nothing delivered

    allowed = d.run(*apply, "--allow-older-store")
    assert allowed.code == 0, allowed.both
    assert vault.kv_versions(MOUNT, d.vault_path("dev")) == before + 1
