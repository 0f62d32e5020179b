"""The line-by-line reader (`yamlio.read_simple`, which parse_document tries first)
against the full YAML parser (`yamlio.parse_full_document`): on every store secconf
writes, and on environment files in the usual layout, it gives the same document (data,
key lines, raw texts), and on any edit of one (each line removed, duplicated, reindented,
requoted, commented, or random characters changed) it gives the same document as YAML or
declines, so that the full parser decides. The integrity tag is still verified on what
it read.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.ages import GENERATED, age_repo, person, ssh_person
from tests.support.repo import make_repo, run

from secconf.core.errors import InputError, StoreError
from secconf.core.secret import Secret
from secconf.core.yamlio import Document, parse_full_document, read_simple
from secconf.store import format as fmt
from secconf.store.base import Entry, Version

DATA = Path(__file__).parent / "data"
# Names YAML would read as something else unquoted, and names of odd characters.
ODD_NAMES = ["yes", "NO", "on", "Off", "null", "True", "y", "n", "_", "a.b-c", "x1.5", "e3"]
ODD_NAMES += ["inf", "nan", "Null", "A-1", "z_9.8.7", "TRUE", "false", "_1", "o"]
# Environment names as files name them: some look like numbers, dates or booleans.
ENVIRONMENTS = ["dev", "123", "0x1f", "1_0", "yes", "on", "null", "2024-01-01", "1e3", "0"]
ENVIRONMENTS += ["007", "a-b_c", "12345678901234567890"]
DATES = ["2026-12-02T16:09:28Z", "2001-01-01T00:00:00Z"]


def full(text: str) -> Document | None:
    """What the full parser reads, or None where it refuses the text."""
    try:
        return parse_full_document(text, "store")
    except InputError:
        return None


def parse_dumped(text: str) -> dict[str, Any] | None:
    """The data the line reader reads, or None where it declines."""
    doc = read_simple(text, "store")
    return None if doc is None else doc.data


def same_or_declined(text: str) -> None:
    """The line reader gives what YAML gives, or nothing (and YAML then decides)."""
    fast = read_simple(text, "store")
    if fast is not None:
        assert identical(fast, full(text))


def identical(one: Document | None, other: Document | None) -> bool:
    """The same documents: data equal, in the same order and of the same types (1 ==
    True, but not as JSON), the same key lines and raw texts."""
    assert one is not None and other is not None
    return (json.dumps(one.data), one.lines, one.raw) == (
        json.dumps(other.data),
        other.lines,
        other.raw,
    )


def generated_store(rng: random.Random, environment: str) -> str:
    """A store file as secconf writes it, of a random shape: entries, versions, retired
    dates, a master-key or an age-like header, with or without a generation."""
    key = fmt.DataKey(os.urandom(32))
    sealer = fmt.Sealer(key, environment)
    if rng.random() < 0.5:
        encryption, header = "master-key", {"key_check": rng.choice(["03b49269", "12345678"])}
    else:
        recipients = [{"recipient": "age1" + "q" * 58, "group": "ops"}]
        recipients.append({"recipient": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA+/="})
        removed = rng.choice([[], [{"recipient": "age1" + "z" * 58, "removed_at": DATES[0]}]])
        data_key = base64.b64encode(os.urandom(rng.randrange(1, 300))).decode()
        encryption = "age"
        header = {"recipients": recipients, "data_key": data_key, "removed": removed}
    store = fmt.new_file(environment, encryption, header)
    store.generation = rng.choice([None, 0, 1, 7, 12345])
    for name in rng.sample(ODD_NAMES, rng.randrange(0, 6)):
        count = rng.randrange(1, 5)
        versions = [
            Version(Secret(os.urandom(rng.randrange(0, 80)).hex()), n, rng.choice(DATES), None)
            for n in range(1, count + 1)
        ]
        previous = tuple(Version(v.value, v.version, v.created_at, DATES[1]) for v in versions[:-1])
        store.entries[name] = fmt.entry_doc(sealer, Entry(name, versions[-1], previous), None)
    comment = "# secconf encrypted store: a test.\n# Safe to commit.\n"
    return fmt.dump(store, sealer, comment).decode()


def test_every_generated_store_reads_as_yaml_reads_it() -> None:
    rng = random.Random(90210)
    for round in range(300):
        text = generated_store(rng, ENVIRONMENTS[round % len(ENVIRONMENTS)])
        fast = read_simple(text, "store")
        assert fast is not None, text  # secconf's own layout: never left to the full parser
        assert identical(fast, full(text))


def stores_made_by_secconf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Store files written by `secconf keys` (master key, rotated; age, with an SSH
    recipient) and the checked-in ones written by older versions."""
    root = make_repo(tmp_path / "mk", {"dev": GENERATED})
    assert run(root, "keys", "ensure", "--all").code == 0
    for _ in range(2):
        assert run(root, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    yield (root / "secrets" / "dev.enc.yaml").read_text()
    alice, bob = person(), ssh_person()
    aged = age_repo(tmp_path / "age", {"ops": [alice, bob]}, ["ops"])
    monkeypatch.setenv("SECCONF_AGE_IDENTITY", alice.identity)
    assert run(aged, "keys", "ensure", "--env", "dev").code == 0
    yield (aged / "secrets" / "dev.enc.yaml").read_text()
    for name in ("dev.enc.yaml", "dev-before-generations.enc.yaml"):
        yield (DATA / name).read_text()


def test_stores_secconf_wrote_read_as_yaml_reads_them_and_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = list(stores_made_by_secconf(tmp_path, monkeypatch))
    assert any("recipients:" in t and "ssh-ed25519 " in t for t in texts)
    assert any("previous:" in t for t in texts)
    for text in texts:
        fast = read_simple(text, "store")
        assert fast is not None and identical(fast, full(text))


ENVIRONMENT = """\
# An environment as people write one.
description: Generated environment 1
production: false
values:
  JWT_SECRET_KEY: {from_env: BENCH_JWT_SECRET_KEY}
  JWT_ALGORITHM: "HS384"
  ACCESS_TOKEN_EXPIRE_HOURS: 2

  VAPID_PUBLIC_KEY: "BHYyfkFMKDVEMe9-Z7x-1ZEE9ID1XvS76RfRRdTY2SOjxMB54egQbtWy5VWitCKZ1Lxf="
  VAPID_PRIVATE_KEY: {generate: true, length: 32}
  VAPID_SUBJECT: "mailto:push-1@acme-shop.io"
  TURNSTILE_ENABLED: yes
  TURNSTILE_SITE_KEY: "0x4AAAAAAAB00000001"
    # an indented comment
  ADMIN_CONTACT_URL: 'https://acme-shop.io/support/1'
  PORT: 0
targets:
  dotenv: {path: .env}
  kubernetes:
    namespace: app-dev
    labels: {team: "shop", tier: web}
    hosts:
    - a.example
    - 8080
    - {name: b, port: 443}
"""


def environment_texts() -> list[str]:
    """Environment files: the repo's examples and one of every form the reader reads."""
    root = Path(__file__).resolve().parents[2] / "environments"
    return [ENVIRONMENT, *(p.read_text() for p in sorted(root.glob("*.yaml")))]


def test_environment_files_read_as_yaml_reads_them() -> None:
    for text in environment_texts():  # the examples have comments after values: declined
        same_or_declined(text)
    fast = read_simple(ENVIRONMENT, "store")
    assert fast is not None and identical(fast, full(ENVIRONMENT))
    assert fast is not None and fast.raw[("values", "TURNSTILE_ENABLED")] == "yes"
    assert fast.line("values", "VAPID_PRIVATE_KEY", "length") == 10


def mutations(text: str) -> Iterator[str]:
    """Every line removed, duplicated, reindented, requoted, commented, broken."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        body = line.rstrip("\n")
        stripped = body.lstrip(" ")
        indent = body[: len(body) - len(stripped)]
        key, colon, value = stripped.partition(": ")
        changed = [
            "",
            line + line,
            " " + line,
            line[1:] if line.startswith(" ") else "  " + line,
            "   " + line,
            "\t" + line,
            body + " \n",
            body + "\r\n",
            body + "  # a comment\n",
            body + " #\n",
            "# a comment\n" + line,
            "\n" + line,
            indent + "# " + stripped + "\n",
            body,  # no line feed
            body.replace(": ", ":", 1) + "\n",
            body.replace(": ", " : ", 1) + "\n",
            body.replace(":", "::", 1) + "\n",
            body.replace("- ", "-", 1) + "\n",
            body.replace("- ", "- - ", 1) + "\n",
            body + ":\n",
            body + " x\n",
            indent + "---\n" + line,
            "...\n" + line,
        ]
        if colon and value:
            plain = value.strip("'")
            changed += [
                f"{indent}{key}: '{plain}'\n",
                f'{indent}{key}: "{plain}"\n',
                f"{indent}{key}: {plain}\n",
                f"{indent}{key}: '{plain}''x'\n",
                f"{indent}{key}: !!str {plain}\n",
                f"{indent}{key}: !!binary {plain}\n",
                f"{indent}{key}: &a {plain}\n",
                f"{indent}{key}: *a\n",
                f"{indent}{key}: [{plain}]\n",
                f"{indent}{key}: {{a: {plain}}}\n",
                f"{indent}{key}: |\n{indent}  {plain}\n",
                f"{indent}{key}: >\n{indent}  {plain}\n",
                f"{indent}{key}:\n{indent}  {plain}\n",
                f"{indent}{key}: {plain}\n{indent}  more\n",
                f"{indent}{key}: {plain}\n{indent} more\n",
                f"{indent}'{key}': {value}\n",
                f'{indent}"{key}": {value}\n',
                f"{indent}? {key}\n{indent}: {value}\n",
                f"{indent}<<: {value}\n",
                f"{indent}{key}: \n",
                f"{indent}{key}: ~\n",
                f"{indent}{key}: 0x10\n",
                f"{indent}{key}: 010\n",
                f"{indent}{key}: 1_000\n",
                f"{indent}{key}: 1.5\n",
                f"{indent}{key}: yes\n",
                f"{indent}{key}: 2026-01-01\n",
                f"{indent}{key}: =\n",
                f"{indent}{key}: {plain}é\n",
                f'{indent}{key}: "{plain}\\tx"\n',
                f'{indent}{key}: "{plain}\\"x"\n',
                f'{indent}{key}: "{plain}" # c\n',
                f"{indent}{key}: {{a: {plain}, a: {plain}}}\n",
                f"{indent}{key}: {{a: {plain},b: x}}\n",
                f"{indent}{key}: {{a: [{plain}]}}\n",
                f"{indent}{key}: {{a: {plain}\n",
            ]
        if "{" in body:
            changed += [
                body.replace(", ", ",", 1) + "\n",
                body.replace("{", "{ ", 1) + "\n",
                body.replace("}", ", }", 1) + "\n",
                body.replace("}", ",}", 1) + "\n",
                body.replace(": ", ":", 2) + "\n",
                body.replace("{", "{{", 1) + "\n",
                body.replace("}", "}}", 1) + "\n",
                body.replace("}", "}\n" + indent + "  x: y", 1) + "\n",
            ]
        for new in changed:
            yield "".join(lines[:i]) + new + "".join(lines[i + 1 :])
        if i + 1 < len(lines):
            yield "".join(lines[:i]) + lines[i + 1] + line + "".join(lines[i + 2 :])


def test_every_edit_of_a_store_reads_as_yaml_reads_it_or_is_declined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(4242)
    bases = list(stores_made_by_secconf(tmp_path, monkeypatch))[:2]
    bases += [generated_store(rng, "yes"), generated_store(rng, "123"), *environment_texts()]
    edits = accepted = 0
    for base in bases:
        for text in mutations(base):
            edits += 1
            same_or_declined(text)
            accepted += parse_dumped(text) is not None
    assert edits > 2000
    assert 0 < accepted < edits  # both paths were taken


def test_random_character_edits_read_as_yaml_reads_them_or_are_declined() -> None:
    rng = random.Random(7)
    for base in [generated_store(rng, "dev"), ENVIRONMENT]:
        accepted = random_edits(rng, base)
        assert 0 < accepted < 3000  # both paths were taken


def random_edits(rng: random.Random, base: str) -> int:
    """3000 random edits of `base`, each read as YAML reads it or declined; how many the
    line reader read."""
    accepted = 0
    alphabet = " \t\n\r'\"#:-{}[],!&*|>%@?~=.+/0aZ_\\é\x00\x85"
    for _ in range(3000):
        chars = list(base)
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(chars))
            action = rng.randrange(3)
            if action == 0:
                del chars[at]
            elif action == 1:
                chars.insert(at, rng.choice(alphabet))
            else:
                chars[at] = rng.choice(alphabet)
        text = "".join(chars)
        same_or_declined(text)
        accepted += read_simple(text, "store") is not None
    return accepted


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "a: 1",  # no final line feed
        "a:\n",  # null
        "a: b\nb:\n  c:\n" + "  " * 17 + "d: e\n",
        "a: b\na: c\n",  # a duplicate, which YAML names
        "a:\n- b\n  - c\n",
        "a: [b]\n",
        "a: 'it''s'\n",
        "a: b  c\n",
        "a: b\n" * 2,
    ],
)
def test_text_outside_the_layout_is_left_to_yaml(text: str) -> None:
    assert parse_dumped(text) is None


def test_deep_nesting_is_declined_without_recursing_far() -> None:
    text = "".join("  " * depth + f"k{depth}:\n" for depth in range(5000)) + "  " * 5000 + "v: 1\n"
    assert parse_dumped(text) is None


def test_an_edit_the_line_reader_reads_still_fails_the_integrity_tag() -> None:
    key = fmt.DataKey(os.urandom(32))
    sealer = fmt.Sealer(key, "dev")
    store = fmt.new_file("dev", "master-key", {"key_check": "03b49269"})
    value = Version(Secret("s3cret"), 1, DATES[0], None)
    store.entries["A"] = fmt.entry_doc(sealer, Entry("A", value, ()), None)
    store.entries["B"] = fmt.entry_doc(sealer, Entry("B", value, ()), None)
    text = fmt.dump(store, sealer, "").decode()
    edits = [
        text.replace("created_at: '2026-12-02T16:09:28Z'", "created_at: '2026-12-02T16:09:29Z'", 1),
        text.replace("generation: 0", "generation: 1"),
        text.replace("key_check: 03b49269", "key_check: 03b49268"),
        text.replace("  A:\n", "  C:\n"),
    ]
    for edited in edits:
        assert edited != text and parse_dumped(edited) is not None
        read = fmt.parse(edited, "store")
        with pytest.raises(StoreError, match="integrity tag does not match"):
            sealer.verify(read.body(), read.mac)
    read = fmt.parse(text, "store")
    sealer.verify(read.body(), read.mac)
    assert fmt.open_entries(read, sealer)["A"].current.value.reveal() == "s3cret"
