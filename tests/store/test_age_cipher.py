"""The age cipher: a data key per store, age-encrypted to its recipients; the `age` tool
and SSH keys as oracles, tamper detection, and the refusals (exit 2, nothing written)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.support.ages import age_repo, identity_file, person, ssh_person
from tests.support.repo import Result, run

from secconf.operations.project import Project
from secconf.store.file import FileStore


def one_line(result: Result) -> str:
    """Exit 2, one error line (and at most a hint), no traceback: the error line."""
    assert result.code == 2, result.both
    assert "Traceback" not in result.both
    lines = [ln for ln in result.err.splitlines() if ln.strip()]
    assert len(lines) in (1, 2) and lines[0].startswith("secconf: error:"), result.err
    assert all(ln.startswith("  hint: ") for ln in lines[1:]), result.err
    return lines[0]


def store_file(root: Path) -> Path:
    return root / "secrets" / "dev.enc.yaml"


def header(root: Path) -> dict:
    return dict(yaml.safe_load(store_file(root).read_text()))


def opened_key(root: Path) -> bytes:
    """The data key, as secconf opens it with the identity in the environment."""
    project = Project.open(root)
    store = project.open_store(project.environments.get("dev"))
    assert isinstance(store, FileStore)
    return store.keyring.open(header(root), "dev").material


def test_the_age_tool_decrypts_the_data_key_with_a_recipients_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("age") is None:
        pytest.skip("the `age` command-line tool is not installed (Debian package `age`)")
    alice, bob = person(), person()
    root = age_repo(tmp_path / "repo", {"ops": [alice, bob]}, ["ops"])
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    data = header(root)
    assert data["encryption"] == "age"
    assert data["recipients"] == [
        {"recipient": alice.public, "group": "ops"},
        {"recipient": bob.public, "group": "ops"},
    ]
    sealed = tmp_path / "data_key.age"
    sealed.write_bytes(base64.b64decode(data["data_key"]))
    for who in (alice, bob):
        ident = identity_file(tmp_path / f"{who.public[:10]}.txt", who)
        out = subprocess.run(
            ["age", "-d", "-i", str(ident), str(sealed)], capture_output=True, check=True
        ).stdout
        assert len(out) == 32 and out == opened_key(root)
    stranger = identity_file(tmp_path / "stranger.txt", person())
    refused = subprocess.run(["age", "-d", "-i", str(stranger), str(sealed)], capture_output=True)
    assert refused.returncode != 0


def test_a_store_sealed_to_an_ssh_ed25519_key_opens_with_the_ssh_private_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = ssh_person()
    root = age_repo(tmp_path / "repo", {}, [alice.public])
    key_file = identity_file(tmp_path / "id_ed25519", alice)
    monkeypatch.setenv("SECCONF_AGE_IDENTITY_FILE", str(key_file))
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    # The header names the key without its comment.
    assert header(root)["recipients"] == [{"recipient": alice.public.rsplit(" ", 1)[0]}]
    status = run(root, "keys", "status", "--env", "dev")
    assert status.code == 0 and "JWT_SECRET_KEY" in status.out and "missing" not in status.out
    if shutil.which("age"):
        sealed = tmp_path / "data_key.age"
        sealed.write_bytes(base64.b64decode(header(root)["data_key"]))
        out = subprocess.run(
            ["age", "-d", "-i", str(key_file), str(sealed)], capture_output=True, check=True
        ).stdout
        assert out == opened_key(root)


def test_identities_are_found_in_order_and_in_the_home_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    alice, bob = person(), person()
    root = age_repo(tmp_path / "repo", {"ops": [alice]}, ["ops"])
    home_file = identity_file(isolated_home / ".config/secconf/age/identities.txt", bob, alice)
    assert run(root, "keys", "ensure", "--env", "dev").code == 0  # the home file, 2nd identity
    home_file.chmod(0o644)
    assert "can be read by other users" in one_line(run(root, "keys", "status", "--env", "dev"))
    home_file.chmod(0o600)
    monkeypatch.setenv("SECCONF_AGE_IDENTITY_FILE", str(identity_file(tmp_path / "b", bob)))
    assert run(root, "keys", "status", "--env", "dev").code == 2  # bob's file comes first
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    assert run(root, "keys", "status", "--env", "dev").code == 0  # the variable comes first


def test_no_identity_or_a_wrong_one_is_one_line_naming_recipients_and_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = person()
    root = age_repo(tmp_path / "repo", {"ops": [alice]}, ["ops"])
    line = one_line(run(root, "keys", "ensure", "--env", "dev"))
    assert "you are not a recipient of dev's store; its recipients are: " in line
    assert f"{alice.public} (ops)" in line
    assert "$SECCONF_AGE_IDENTITY, $SECCONF_AGE_IDENTITY_FILE" in line
    assert "~/.config/secconf/age/identities.txt" in line
    assert not (root / "secrets").exists() and not (root / ".secconf").exists()
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    before = store_file(root).read_bytes()
    wrong = person()
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", wrong.identity)
    for argv in (("keys", "status"), ("keys", "ensure"), ("render",)):
        result = run(root, *argv, "--env", "dev")
        line = one_line(result)
        assert "you are not a recipient of dev's store" in line
        assert "the identities from $SECCONF_AGE_IDENTITY are not among them" in line
        assert wrong.identity.strip() not in result.both
    assert store_file(root).read_bytes() == before


@pytest.mark.parametrize(
    ("recipients", "groups", "expected"),
    [
        (["age1notakey"], "", "is not an age recipient"),
        (["ops"], "groups: {ops: [nope]}\n", "group ops holds 'nope', which is not"),
        (["devs"], "groups: {ops: []}\n", "recipient group 'devs' is not defined in"),
        (["ops"], "- a list\n", "recipients.yaml:1: the top level must be a mapping"),
        (["ops"], "teams: {}\n", "recipients.yaml must be a mapping with one key"),
        (
            ["age1" + "q" * 58],
            "",
            "is not a public key age accepts",
        ),
    ],
)
def test_a_malformed_recipient_or_unknown_group_is_one_line_and_writes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recipients: list[str],
    groups: str,
    expected: str,
) -> None:
    alice = person()
    root = age_repo(tmp_path / "repo", {}, recipients)
    (root / "recipients.yaml").write_text(groups)
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    assert expected in one_line(run(root, "keys", "ensure", "--env", "dev"))
    assert not (root / "secrets").exists()


# ---- tamper detection --------------------------------------------------------------------


@pytest.fixture
def sealed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    alice, bob = person(), person()
    root = age_repo(tmp_path / "repo", {"ops": [alice, bob]}, ["ops"])
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    return root


def opened_after(root: Path, original: str, text: str) -> str:
    """The error line of `keys status` once the store file holds `text`, a hand edit of
    `original` (an edit that changed nothing would prove nothing: refused here)."""
    assert text != original, "the edit did not change the store file"
    store_file(root).write_text(text)
    return one_line(run(root, "keys", "status", "--env", "dev"))


def test_an_edited_header_fails_the_integrity_check(sealed: Path) -> None:
    text = store_file(sealed).read_text()
    regrouped = text.replace("group: ops", "group: opz", 1)
    assert "integrity tag does not match" in opened_after(sealed, text, regrouped)
    removed = "removed:\n- recipient: age1" + "q" * 58 + "\n  removed_at: '2026-01-01T00:00:00Z'\n"
    forged = text.replace("removed: []\n", removed)
    assert "integrity tag does not match" in opened_after(sealed, text, forged)


def test_a_recipient_or_stanza_removed_or_added_by_hand_is_refused(sealed: Path) -> None:
    text = store_file(sealed).read_text()
    data = yaml.safe_load(text)
    mismatch = "not encrypted to exactly the recipients it names"
    # A recipient dropped from the list: it no longer matches the stanzas.
    first = f"- recipient: {data['recipients'][0]['recipient']}\n  group: ops\n"
    assert mismatch in opened_after(sealed, text, text.replace(first, ""))
    # A recipient added by hand, without a stanza.
    extra = f"- recipient: {person().public}\n"
    added = text.replace("data_key:", extra + "data_key:")
    assert mismatch in opened_after(sealed, text, added)
    # A stanza removed from the age header (the list left alone).
    raw = base64.b64decode(data["data_key"])
    head, rest = raw.split(b"\n--- ", 1)
    lines = head.split(b"\n")
    x25519 = [i for i, ln in enumerate(lines) if ln.startswith(b"-> X25519 ")]
    assert len(x25519) == 2  # alice and bob
    stripped = lines[: x25519[0]] + lines[x25519[0] + 2 :]
    short = base64.b64encode(b"\n".join(stripped) + b"\n--- " + rest).decode()
    assert mismatch in opened_after(sealed, text, text.replace(data["data_key"], short))
    # A stanza added (a copy of one): the counts match, the header's MAC does not.
    doubled = lines[: x25519[0] + 2] + lines[x25519[0] :]
    long = base64.b64encode(b"\n".join(doubled) + b"\n--- " + rest).decode()
    grown = text.replace(data["data_key"], long).replace("data_key:", extra + "data_key:")
    assert "its data key does not decrypt" in opened_after(sealed, text, grown)


def test_swapped_entries_fail_to_decrypt(sealed: Path) -> None:
    text = store_file(sealed).read_text()
    data = yaml.safe_load(text)
    jwt, vapid = (
        data["entries"]["JWT_SECRET_KEY"]["value"],
        data["entries"]["VAPID_PRIVATE_KEY"]["value"],
    )
    swapped = text.replace(jwt, "@@").replace(vapid, jwt).replace("@@", vapid)
    assert "integrity check failed" in opened_after(sealed, text, swapped)


def test_validate_on_a_master_key_config_does_not_import_pyrage(tmp_path: Path) -> None:
    import sys

    from tests.support.repo import make_repo

    root = make_repo(tmp_path / "repo")
    code = (
        "import sys\nfrom secconf.cli import main\n"
        f"rc = main(['--root', {str(root)!r}, 'validate', '--all', '--offline'])\n"
        "assert 'pyrage' not in sys.modules, 'pyrage imported'\nsys.exit(rc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode in (0, 1), result.stderr
    assert "pyrage imported" not in result.stderr


def test_identities_read_are_registered_with_the_redaction(tmp_path: Path) -> None:
    from secconf.core import redact
    from secconf.store.ciphers.age import find_identities

    alice, bob = person(), ssh_person()
    path = identity_file(tmp_path / "ids", alice)
    path.write_text(alice.identity + bob.identity)
    found = find_identities({"SECCONF_AGE_IDENTITY_FILE": str(path), "HOME": str(tmp_path)})
    assert len(found.found) == 2 and found.source == "$SECCONF_AGE_IDENTITY_FILE"
    secret = alice.identity.strip()
    assert secret not in redact.redact(f"oops: {secret} leaked")
    ssh_line = bob.identity.splitlines()[1]
    assert ssh_line not in redact.redact(f"key line {ssh_line}")
