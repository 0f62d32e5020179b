"""The encrypted file store: integrity, wrong keys, stable bytes, rotation, re-keying."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tests.support.repo import ensure_concurrently, make_repo, run

from secconf.operations.project import Project
from secconf.store import ENVIRONMENT_KEY
from secconf.store.masterkey import MasterKey

DEV = """
values:
  JWT_SECRET_KEY: {generate: true}
  VAPID_PRIVATE_KEY: {generate: true}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo", {"dev": DEV, "other": DEV})
    assert run(root, "keys", "ensure", "--all").code == 0
    return root


def store_path(root: Path, env: str = "dev") -> Path:
    return root / "secrets" / f"{env}.enc.yaml"


def read_values(root: Path, env: str = "dev") -> dict[str, str]:
    project = Project.open(root)
    store = project.open_store(project.environments.get(env))
    return {
        name: entry.current.value.reveal()
        for name, entry in store.read().items()
        if name != ENVIRONMENT_KEY
    }


def status(root: Path, env: str = "dev") -> tuple[int, str]:
    result = run(root, "keys", "status", "--env", env)
    return result.code, result.err


def test_store_file_and_key_file_are_private(repo: Path) -> None:
    assert store_path(repo).stat().st_mode & 0o777 == 0o600
    assert (repo / ".secconf" / "master.key").stat().st_mode & 0o777 == 0o600
    assert "*" in (repo / ".secconf" / ".gitignore").read_text()
    assert len(base64.b64decode((repo / ".secconf" / "master.key").read_text())) == 32


def test_names_are_readable_values_are_not(repo: Path) -> None:
    text = store_path(repo).read_text()
    values = read_values(repo)
    assert set(values) == {"JWT_SECRET_KEY", "VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"}
    for name, value in values.items():
        assert name in text
        assert value not in text
        assert value[:12] not in text


def test_an_unchanged_store_is_not_rewritten(repo: Path) -> None:
    before = store_path(repo).read_bytes()
    mtime = store_path(repo).stat().st_mtime_ns
    assert run(repo, "keys", "ensure", "--all").code == 0
    assert store_path(repo).read_bytes() == before
    assert store_path(repo).stat().st_mtime_ns == mtime


def test_rotation_reencrypts_only_the_rotated_group(repo: Path) -> None:
    before = yaml.safe_load(store_path(repo).read_text())["entries"]
    old = read_values(repo)
    result = run(repo, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes")
    assert result.code == 0, result.both
    assert "every signed-in user is logged out" in result.err  # says what it breaks first
    after = yaml.safe_load(store_path(repo).read_text())["entries"]
    for name in ("VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"):
        assert after[name] == before[name]  # ciphertext byte for byte
    assert after["JWT_SECRET_KEY"]["version"] == 2
    assert after["JWT_SECRET_KEY"]["previous"][0]["value"] == before["JWT_SECRET_KEY"]["value"]
    new = read_values(repo)
    assert new["JWT_SECRET_KEY"] != old["JWT_SECRET_KEY"]
    assert run(repo, "keys", "rollback", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    back = read_values(repo)
    assert back["JWT_SECRET_KEY"] == old["JWT_SECRET_KEY"]
    assert yaml.safe_load(store_path(repo).read_text())["entries"]["JWT_SECRET_KEY"]["version"] == 3


def test_vapid_pair_rotates_together(repo: Path) -> None:
    old = read_values(repo)
    result = run(repo, "keys", "rotate", "VAPID_PUBLIC_KEY", "--env", "dev", "--yes")
    assert result.code == 0
    assert "push subscription" in result.err
    new = read_values(repo)
    assert new["VAPID_PUBLIC_KEY"] != old["VAPID_PUBLIC_KEY"]
    assert new["VAPID_PRIVATE_KEY"] != old["VAPID_PRIVATE_KEY"]
    assert new["JWT_SECRET_KEY"] == old["JWT_SECRET_KEY"]
    assert run(repo, "validate", "--env", "dev").code == 0  # the new pair matches


def test_rotate_refuses_without_yes_off_a_terminal(repo: Path) -> None:
    before = store_path(repo).read_bytes()
    result = run(repo, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev")
    assert result.code == 2 and "--yes" in result.err
    assert store_path(repo).read_bytes() == before


def test_rollback_without_history(repo: Path) -> None:
    result = run(repo, "keys", "rollback", "JWT_SECRET_KEY", "--env", "dev", "--yes")
    assert result.code == 2 and "no previous version" in result.err


def _tamper(root: Path, change) -> None:  # type: ignore[no-untyped-def]
    path = store_path(root)
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _flip(blob: str) -> str:
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


TAMPERS = {
    "ciphertext bit flipped": lambda d: d["entries"]["JWT_SECRET_KEY"].update(
        value=_flip(d["entries"]["JWT_SECRET_KEY"]["value"])
    ),
    "entry removed": lambda d: d["entries"].pop("VAPID_PUBLIC_KEY"),
    "entry added": lambda d: d["entries"].update(EXTRA=dict(d["entries"]["JWT_SECRET_KEY"])),
    "entries reordered": lambda d: d.update(entries=dict(reversed(list(d["entries"].items())))),
    "version changed": lambda d: d["entries"]["JWT_SECRET_KEY"].update(version=2),
    "date changed": lambda d: d["entries"]["JWT_SECRET_KEY"].update(
        created_at="2020-01-01T00:00:00Z"
    ),
    "values swapped": lambda d: d["entries"]["VAPID_PUBLIC_KEY"].update(
        value=d["entries"]["JWT_SECRET_KEY"]["value"]
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tampering_is_detected(repo: Path, case: str) -> None:
    _tamper(repo, TAMPERS[case])
    before = store_path(repo).read_bytes()
    code, err = status(repo)
    assert code == 2
    assert "integrity check failed" in err
    assert "Traceback" not in err
    assert run(repo, "keys", "ensure", "--env", "dev").code == 2  # nothing written over it
    assert store_path(repo).read_bytes() == before


def test_an_entry_replayed_from_another_environment_is_detected(repo: Path) -> None:
    other = yaml.safe_load(store_path(repo, "other").read_text())
    mine = yaml.safe_load(store_path(repo).read_text())
    mine["entries"]["JWT_SECRET_KEY"] = other["entries"]["JWT_SECRET_KEY"]
    store_path(repo).write_text(yaml.safe_dump(mine, sort_keys=False))
    assert "integrity check failed" in status(repo)[1]


def test_an_old_version_replayed_is_detected(repo: Path) -> None:
    old_text = store_path(repo).read_text()
    old_entry = yaml.safe_load(old_text)["entries"]["JWT_SECRET_KEY"]
    assert run(repo, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    data = yaml.safe_load(store_path(repo).read_text())
    data["entries"]["JWT_SECRET_KEY"] = old_entry
    store_path(repo).write_text(yaml.safe_dump(data, sort_keys=False))
    assert "integrity check failed" in status(repo)[1]


def test_truncated_file(repo: Path) -> None:
    text = store_path(repo).read_text()
    for cut in (len(text) // 3, len(text) // 2, len(text) - 20):
        store_path(repo).write_text(text[:cut])
        code, err = status(repo)
        assert code == 2 and "integrity check failed" in err, err


def test_wrong_master_key(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECCONF_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    code, err = status(repo)
    assert code == 2
    assert "cannot decrypt" in err and "wrong master key?" in err


def test_missing_master_key(repo: Path) -> None:
    (repo / ".secconf" / "master.key").unlink()
    code, err = status(repo)
    assert code == 2 and "no master key for environment dev" in err
    result = run(repo, "validate", "--env", "dev")
    assert result.code == 2 and "no master key" in result.err
    assert run(repo, "validate", "--env", "dev", "--offline").code == 0


def test_bad_master_key_text(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECCONF_MASTER_KEY", "not base64!")
    assert "is not valid base64" in status(repo)[1]
    monkeypatch.setenv("SECCONF_MASTER_KEY", base64.b64encode(b"short").decode())
    assert "is 5 bytes, not 32" in status(repo)[1]


def test_environment_variable_keys_take_precedence(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = (repo / ".secconf" / "master.key").read_text().strip()
    (repo / ".secconf" / "master.key").unlink()
    monkeypatch.setenv("SECCONF_MASTER_KEY_DEV", key)
    monkeypatch.setenv("SECCONF_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    assert status(repo)[0] == 0  # the per-environment variable wins
    assert "wrong master key?" in status(repo, "other")[1]  # the general one is wrong for it


def test_production_never_creates_a_master_key_silently(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"prod": "production: true\n" + DEV})
    result = run(root, "keys", "ensure", "--env", "prod")
    assert result.code == 2
    assert (
        "never creates one silently" in result.err and "secconf store init --env prod" in result.err
    )
    assert not (root / ".secconf" / "master.key").exists()
    assert not store_path(root, "prod").exists()
    init = run(root, "store", "init", "--env", "prod")
    assert init.code == 0 and "created the master key .secconf/master.key" in init.out
    assert run(root, "keys", "ensure", "--env", "prod").code == 0
    again = run(root, "store", "init", "--env", "prod")
    assert again.code == 0 and "already has a master key" in again.out


def test_first_use_outside_production_creates_the_key_with_a_message(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"dev": DEV})
    result = run(root, "keys", "ensure", "--env", "dev")
    assert result.code == 0
    assert "created the master key .secconf/master.key (mode 0600, git-ignored)" in result.err


def test_rekey(repo: Path) -> None:
    old_values = {env: read_values(repo, env) for env in ("dev", "other")}
    old_key = (repo / ".secconf" / "master.key").read_text()
    result = run(repo, "store", "rekey", "--env", "dev", "--yes")
    assert result.code == 0, result.both
    assert (
        "dev: re-encrypted 4 entries" in result.out
        and "other: re-encrypted 4 entries" in result.out
    )
    assert (repo / ".secconf" / "master.key").read_text() != old_key
    assert not (repo / ".secconf" / "master.key.new").exists()
    assert {env: read_values(repo, env) for env in ("dev", "other")} == old_values


def test_rekey_resumes_after_an_interruption(repo: Path) -> None:
    from secconf.operations.store import rekey_stores
    from secconf.store.admin import _file_store
    from secconf.store.masterkey import create_key_file, find_master_key

    values = read_values(repo)
    project = Project.open(repo)
    pending, _ = create_key_file(repo / ".secconf" / "master.key.new")
    # The crash happened after "dev" was re-keyed, before the key file was replaced.
    dev = project.environments.get("dev")
    _file_store(project.store_context(dev), dev, _old_key(repo)).rekey(pending)
    # A reader says what happened and how to finish, not just "wrong key".
    err = status(repo)[1]
    assert "encrypted with the new master key in master.key.new" in err, err
    assert "`secconf store rekey --env dev` again" in err
    rekey_stores(project, "dev")
    assert read_values(repo) == values
    assert (
        find_master_key("dev", repo / ".secconf" / "master.key").key_check() == pending.key_check()
    )  # type: ignore[union-attr]


def _old_key(root: Path) -> MasterKey:
    from secconf.store.masterkey import parse_key

    return parse_key((root / ".secconf" / "master.key").read_text(), "old")


def test_concurrent_ensure_creates_exactly_one_value(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"dev": DEV})
    reports = ensure_concurrently(root, "dev")
    statuses = [sorted((k["variable"], k["status"]) for k in r) for r in reports]
    created = [s for s in statuses if ("JWT_SECRET_KEY", "created") in s]
    assert len(created) == 1  # one process generated, fifteen kept
    fingerprints = {tuple(sorted((k["variable"], k["fingerprint"]) for k in r)) for r in reports}
    assert len(fingerprints) == 1  # every process reports the same keys
    data = yaml.safe_load(store_path(root).read_text())
    assert [e["version"] for e in data["entries"].values()] == [1, 1, 1, 1]  # 3 keys + checksum key


def test_a_killed_write_leaves_the_store_before_or_after(repo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
    seen_versions = set()
    for i in range(8):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "secconf",
                "--root",
                str(repo),
                "keys",
                "rotate",
                "JWT_SECRET_KEY",
                "--env",
                "dev",
                "--yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        time.sleep(0.15 + 0.03 * i)  # somewhere in start-up, generation or the write
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        code, err = status(repo)
        assert code == 0, err  # whole and readable, whatever the moment of the kill
        seen_versions.add(
            yaml.safe_load(store_path(repo).read_text())["entries"]["JWT_SECRET_KEY"]["version"]
        )
    assert seen_versions  # at least one state observed
    # the next write clears any temp file a killed writer left behind
    assert run(repo, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    assert not [p for p in store_path(repo).parent.iterdir() if p.name.endswith(".tmp")]


def test_no_secret_value_in_any_keys_or_store_output(repo: Path) -> None:
    outputs = []
    for args in (
        ("keys", "ensure", "--all"),
        ("keys", "status", "--all"),
        ("keys", "status", "--all", "--format", "json"),
        ("keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes"),
        ("keys", "rotate", "VAPID_PRIVATE_KEY", "--env", "dev", "--yes", "--format", "json"),
        ("keys", "rollback", "JWT_SECRET_KEY", "--env", "dev", "--yes"),
        ("store", "init", "--env", "dev"),
        ("validate", "--all", "--format", "json"),
    ):
        outputs.append(run(repo, *args).both)
    values = list(read_values(repo).values()) + list(read_values(repo, "other").values())
    project = Project.open(repo)
    for env in ("dev", "other"):
        store = project.open_store(project.environments.get(env))
        values += [v.value.reveal() for e in store.read().values() for v in e.previous]
    master = (repo / ".secconf" / "master.key").read_text().strip()
    outputs.append(run(repo, "store", "rekey", "--env", "dev", "--yes").both)
    text = "\n".join(outputs)
    for value in [*values, master]:
        assert value not in text
        assert value.rstrip("=")[:16] not in text
    assert re.search(r"fp [0-9a-f]{8}", text)


def test_a_store_file_with_yaml_aliases_is_refused_fast(repo: Path) -> None:
    """A store arrives by pull request: an alias chain must not expand to gigabytes."""
    chain = ["b0: &b0 [x, x, x, x, x, x, x, x, x]"] + [
        f"b{i}: &b{i} [{', '.join(['*b' + str(i - 1)] * 9)}]" for i in range(1, 9)
    ]  # 9**9 = 387 million items once expanded
    text = store_path(repo).read_text()
    store_path(repo).write_text(text.replace("entries:", "\n".join(chain) + "\nentries:", 1))
    code, err = status(repo)
    assert code == 2 and "integrity check failed" in err


def test_an_unquoted_date_reads_as_the_text_it_was_not_a_crash(repo: Path) -> None:
    """YAML reads an unquoted date as the text written (secconf.core.yamlio), so the store's
    content, and its integrity tag, are what they were."""
    text = store_path(repo).read_text()
    store_path(repo).write_text(
        text.replace("created_at: '", "created_at: ", 1).replace("Z'\n", "Z\n", 1)
    )
    code, err = status(repo)
    assert code == 0, err


def test_a_key_file_outside_secconf_dir_ignores_only_itself(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"dev": DEV + "store:\n  file: {key_file: master.key}\n"})
    (root / ".gitignore").write_text("node_modules/\n")
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    lines = (root / ".gitignore").read_text().splitlines()
    assert lines[0] == "node_modules/" and "master.key" in lines and "*" not in lines
    assert (root / ".secconf" / "locks" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert not (root / "secrets" / ".gitignore").exists()  # the store stays committable


def test_a_key_file_is_read_once_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thousand stores sharing a key file read it once; a key file replaced or
    rewritten in place (the same size) is read again, never served from before."""
    from secconf.store import masterkey

    key_file = tmp_path / "master.key"
    first = base64.b64encode(os.urandom(32)).decode()
    key_file.write_text(first + "\n")
    reads: list[Path] = []
    real = masterkey._read_key_file

    def counted(path: Path) -> str | None:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(masterkey, "_read_key_file", counted)
    keys = [masterkey.find_master_key(f"env{i}", key_file, {}) for i in range(50)]
    assert len(reads) == 1
    assert {k.material for k in keys if k is not None} == {base64.b64decode(first)}
    second = base64.b64encode(os.urandom(32)).decode()
    replacement = tmp_path / "master.key.new"
    replacement.write_text(second + "\n")
    os.replace(replacement, key_file)  # as `store rekey` puts a new key in place
    assert masterkey.find_master_key("env0", key_file, {}).material == base64.b64decode(second)  # type: ignore[union-attr]
    third = base64.b64encode(os.urandom(32)).decode()
    was = os.stat(key_file).st_mtime_ns
    key_file.write_text(third + "\n")  # rewritten in place: same inode, same size
    os.utime(key_file, ns=(was, was))  # and its modification time set back
    assert masterkey.find_master_key("env0", key_file, {}).material == base64.b64decode(third)  # type: ignore[union-attr]
    key_file.unlink()
    assert masterkey.find_master_key("env0", key_file, {}) is None
    assert len(reads) == 4
