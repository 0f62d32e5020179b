"""Hostile values through a real environment, read back by readers we did not write.

Each value is delivered three ways (from_env into the Secret, from_env into the
ConfigMap, a literal in the environment YAML) and rendered with `secconf render` for
every target; python-dotenv, bash, PyYAML (+ base64), json, kubectl and
kubernetes-validate then say what was delivered.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from tests.support.hostile import PEM, HostileRepo, hostile_repo, isolated_environ
from tests.support.oracles import (
    bash_read,
    dotenv_read,
    kubectl_create,
    kubernetes_validate,
    load_manifests,
    needs_bash,
    needs_kubectl,
    secret_values,
)
from tests.support.repo import run

# Every class of value the `.env` quoting accepts (see _dotenv_quote.py), each on its
# own variable. Keys become variable names.
HOSTILE: dict[str, str] = {
    "SPACES": "with  spaces inside",
    "EDGE_SPACES": "  leading and trailing  ",
    "HASH": "#starts-with-hash",
    "HASH_MID": "a #not-a-comment # x",
    "DOLLAR": "$",
    "DOLLAR_HOME": "$HOME",
    "DOLLAR_MIX": "a$b $1 $$ $PATH:x price: 5$",
    "SUBSHELL": "$(id) `id` ; echo pwned; #",
    "SINGLE_QUOTE": "it's",
    "DOUBLE_QUOTE": 'say "hi"',
    "BOTH_QUOTES": "'\"mixed\"' and \"'mixed'\"",
    "BACKSLASH": "a\\b",
    "BACKSLASH_PAIR": "a\\\\b",
    "BACKSLASH_INNER": "C:\\dir\\file",
    "BACKSLASH_ESCAPES": "\\n \\t \\0 \\u00e9 \\$ \\`",
    "EQUALS": "a=b==c=",
    "TABS": "\tTAB\tseparated\t",
    "UNICODE": "é ü ß Ω שלום 中文 \u202eRTL",
    "EMOJI": "emoji 😀🔑 👨‍👩‍👧",
    "INVISIBLE": "\ufeffbom zero\u200bwidth",
    "CONTROL": "\x01\x0b\x0c\x1b\x1f",
    "LINE_SEPARATORS": "a\u2028b\u2029c",
    "MULTI_LINE": "line1\nline2\n\nline4",
    "NEWLINES_ONLY": "\n\n",
    "TRAILING_NEWLINE": "ends with newline\n",
    "PEM": PEM,
    "PEM_WITH_QUOTE": "it's\n" + PEM,
    "EMPTY": "",
    # 4 KiB each: one the quoting writes in single quotes, one in double quotes.
    "LONG_SINGLE": ('ab$HOME #=\t\n\\x é😀"q" ' * 200)[:4096],
    "LONG_DOUBLE": ('it\'s \\\\ "q" \\n\t\né😀 #=' * 200)[:4096],
    # Scalars YAML would read as something else, or as structure, when written plain.
    "Y_BOOL": "yes",
    "Y_NULL": "null",
    "Y_TILDE": "~",
    "Y_HEX": "0x1F",
    "Y_FLOAT": "1e3",
    "Y_DATE": "2024-01-01",
    "Y_DASH": "- item",
    "Y_QUESTION": "? key",
    "Y_COLON": "a: b",
    "Y_COLON_LEAD": ": x",
    "Y_FLOW_MAP": "{a: 1}",
    "Y_FLOW_SEQ": "[1, 2]",
    "Y_ANCHOR": "&anchor x",
    "Y_ALIAS": "*alias",
    "Y_TAG": "!!python/object/apply:os.system ['id']",
    "Y_DIRECTIVE": "%TAG ! tag:x,2000:",
    "Y_AT": "@x",
    "Y_DOC_START": "---",
    "Y_DOC_END": "...",
    "Y_BLOCK": "|",
    "Y_FOLDED": ">",
}

# Literals that YAML can carry in an environment file (PyYAML writes them; secconf reads).
LITERAL_KEYS = [
    k for k, v in HOSTILE.items() if not any(c in v for c in "\u2028\u2029\x01\x0b\x0c\x1b\x1f")
]

# A PEM written the way people write it in YAML: a literal block scalar.
PEM_BLOCK_YAML = "  L_PEM_BLOCK: |\n" + "".join(f"    {line}\n" for line in PEM.splitlines())


def _hostile(root: Path, monkeypatch: pytest.MonkeyPatch) -> HostileRepo:
    repo = hostile_repo(root, monkeypatch, HOSTILE, literal={k: HOSTILE[k] for k in LITERAL_KEYS})
    # The block scalar goes into the environment file by hand, under `values:`.
    path = root / "environments" / f"{repo.env}.yaml"
    text = path.read_text(encoding="utf-8").replace("values:\n", "values:\n" + PEM_BLOCK_YAML, 1)
    path.write_text(text, encoding="utf-8")
    schema = root / "schema" / "90-hostile.yaml"
    data = yaml.safe_load(schema.read_text(encoding="utf-8"))
    data["variables"].append({"name": "L_PEM_BLOCK", "description": "PEM as a block scalar"})
    schema.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    repo.expected["L_PEM_BLOCK"] = PEM
    return repo


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> HostileRepo:
    """The hostile repo, rendered once for dotenv, kubernetes and vault (default paths).

    Tests only read the files, so one render serves them all."""
    with isolated_environ(tmp_path_factory) as patch:
        repo = _hostile(tmp_path_factory.mktemp("hostile") / "repo", patch)
        for target in ("dotenv", "kubernetes", "vault"):
            result = run(repo.root, "render", "--env", repo.env, "--target", target)
            assert result.code == 0, result.both
    return repo


def _hostile_part(values: dict[str, str | None], repo: HostileRepo) -> dict[str, str | None]:
    return {k: v for k, v in values.items() if k in repo.expected}


def test_test_values_cover_the_issue_list() -> None:
    """Guard the value list: the classes the issue names are all there, and accepted."""
    from secconf.render._dotenv_quote import quote_dotenv_value

    joined = "".join(HOSTILE.values())
    for needle in (" ", "#", "$", "$HOME", "'", '"', "\\", "=", "\t", "é", "😀", "\n"):
        assert needle in joined
    assert "" in HOSTILE.values()
    assert len(HOSTILE["LONG_SINGLE"]) == len(HOSTILE["LONG_DOUBLE"]) == 4096
    assert quote_dotenv_value("X", HOSTILE["LONG_SINGLE"]).startswith("'")
    assert quote_dotenv_value("X", HOSTILE["LONG_DOUBLE"]).startswith('"')


def test_python_dotenv_reads_back_every_value(hostile: HostileRepo) -> None:
    """python-dotenv gives back exactly each value (interpolation on, its default, or off)."""
    path = hostile.out("env")
    assert _hostile_part(dotenv_read(path), hostile) == hostile.expected
    import dotenv

    plain = dict(dotenv.dotenv_values(path, interpolate=False))
    assert _hostile_part(plain, hostile) == hostile.expected


@needs_bash
def test_bash_reads_back_every_value(hostile: HostileRepo) -> None:
    """`env -i bash -c 'set -a; . ./file'` exports exactly each value to a child process."""
    environ = bash_read(hostile.out("env"))
    assert _hostile_part(dict(environ), hostile) == hostile.expected


@needs_bash
def test_bash_and_python_dotenv_agree_on_the_whole_file(hostile: HostileRepo) -> None:
    """Both readers see the same variables, no more (bundled defaults included)."""
    assert bash_read(hostile.out("env")) == dotenv_read(hostile.out("env"))


def test_env_file_is_utf8_lf_without_bom(hostile: HostileRepo) -> None:
    """LF line endings, UTF-8 without BOM: what every reader expects."""
    data = hostile.out("env").read_bytes()
    assert b"\r" not in data
    assert not data.startswith(b"\xef\xbb\xbf")
    data.decode("utf-8")  # strict


def test_manifests_give_back_every_value(hostile: HostileRepo) -> None:
    """PyYAML + base64: the Secret holds the sensitive values, the ConfigMap the others."""
    secret, configmap = load_manifests(hostile.out("k8s.yaml"))
    assert (secret["kind"], configmap["kind"]) == ("Secret", "ConfigMap")
    assert secret["type"] == "Opaque"
    decoded = secret_values(secret)
    plain = configmap["data"]
    assert all(isinstance(v, str) for v in plain.values())
    assert _hostile_part(dict(decoded), hostile) == {
        k: v for k, v in hostile.expected.items() if k in hostile.sensitive
    }
    assert _hostile_part(plain, hostile) == {
        k: v for k, v in hostile.expected.items() if k not in hostile.sensitive
    }
    assert not set(decoded) & set(plain)


def test_vault_payload_is_the_exact_object(hostile: HostileRepo) -> None:
    """The JSON is a flat object of strings holding exactly each value, in schema order."""
    payload = json.loads(hostile.out("vault.json").read_text(encoding="utf-8"))
    assert all(isinstance(v, str) for v in payload.values())
    assert _hostile_part(payload, hostile) == hostile.expected
    hostile_order = [k for k in payload if k in hostile.expected]
    schema = yaml.safe_load((hostile.root / "schema" / "90-hostile.yaml").read_text())
    assert hostile_order == [v["name"] for v in schema["variables"]]


@needs_bash
def test_the_three_targets_deliver_the_same_values(hostile: HostileRepo) -> None:
    """Bundled variables too: .env (bash), Secret + ConfigMap and Vault agree on everything."""
    secret, configmap = load_manifests(hostile.out("k8s.yaml"))
    manifests = {**secret_values(secret), **configmap["data"]}
    payload = json.loads(hostile.out("vault.json").read_text(encoding="utf-8"))
    assert bash_read(hostile.out("env")) == manifests == payload


def test_manifests_pass_kubernetes_validate(hostile: HostileRepo) -> None:
    """Both objects pass the published OpenAPI schemas of the newest bundled release."""
    import kubernetes_validate as kv

    newest = ".".join(kv.latest_version().split(".")[:2])
    documents = load_manifests(hostile.out("k8s.yaml"))
    assert [kubernetes_validate(d) for d in documents] == [newest, newest]


@needs_kubectl
def test_secret_and_configmap_data_match_kubectl(hostile: HostileRepo, tmp_path: Path) -> None:
    """`kubectl create secret generic|configmap ... --dry-run=client` gives the same data."""
    secret, configmap = load_manifests(hostile.out("k8s.yaml"))
    wanted_secret = {k: v for k, v in hostile.expected.items() if k in hostile.sensitive}
    kube_secret = kubectl_create("Secret", "x", wanted_secret, tmp_path / "s")
    mine = {k: v for k, v in secret["data"].items() if k in wanted_secret}
    assert mine == kube_secret["data"]
    wanted_plain = {k: v for k, v in hostile.expected.items() if k.startswith("P_")}
    kube_configmap = kubectl_create("ConfigMap", "x", wanted_plain, tmp_path / "c")
    assert {k: configmap["data"][k] for k in wanted_plain} == kube_configmap["data"]


# (label, value): values no quoting carries exactly for all three .env readers. Each
# holds MARKER so that a message quoting any part of the value would be caught.
MARKER = "Zq7-REFUSED-VALUE"
REFUSED = [
    ("cr", f"{MARKER}\rx"),
    ("crlf", f"{MARKER}\r\n"),
    ("brace", f"{MARKER}${{HOME}}"),
    ("brace-default", f"${{X:-{MARKER}}}"),
    ("quote-and-dollar", f"it's {MARKER} $5"),
    ("quote-and-backquote", f"it's `{MARKER}`"),
    ("backslashes-and-dollar", f"{MARKER}\\\\$"),
]


@pytest.mark.parametrize("value", [v for _, v in REFUSED], ids=[label for label, _ in REFUSED])
def test_refused_value_exits_2_names_the_variable_and_writes_nothing(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value the .env cannot carry: exit 2, the variable named, the value never, no write."""
    repo = hostile_repo(tmp_path / "repo", monkeypatch, {"OK": "fine", "BAD": "fine too"})
    custom = tmp_path / "custom.env"
    assert run(repo.root, "render", "--env", repo.env).code == 0
    assert run(repo.root, "render", "--env", repo.env, "--out", str(custom)).code == 0
    before = {
        p: (p.read_bytes(), os.stat(p).st_mtime_ns, os.stat(p).st_ino)
        for p in (repo.out("env"), custom)
    }
    monkeypatch.setenv("HOSTILE_S_BAD", value)
    for args in ([], ["--out", str(custom)], ["--out", "-"]):
        result = run(repo.root, "render", "--env", repo.env, *args)
        assert result.code == 2, result.both
        assert "S_BAD" in result.err
        assert "Traceback" not in result.err
        assert value not in result.both and MARKER not in result.both
        assert result.out == ""
    after = {p: (p.read_bytes(), os.stat(p).st_mtime_ns, os.stat(p).st_ino) for p in before}
    assert after == before
    assert sorted(p.name for p in repo.out("env").parent.iterdir()) == ["hostile.env"]


def test_values_only_the_env_file_refuses_reach_manifests_and_vault_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CR, `${...}` and the rest are a .env limit only: the other targets carry them."""
    values = {label.upper().replace("-", "_"): value for label, value in REFUSED}
    repo = hostile_repo(tmp_path / "repo", monkeypatch, values)
    for target in ("kubernetes", "vault"):
        result = run(repo.root, "render", "--env", repo.env, "--target", target)
        assert result.code == 0, result.both
    secret, configmap = load_manifests(repo.out("k8s.yaml"))
    delivered = {**secret_values(secret), **configmap["data"]}
    assert _hostile_part(delivered, repo) == repo.expected
    payload = json.loads(repo.out("vault.json").read_text(encoding="utf-8"))
    assert _hostile_part(payload, repo) == repo.expected


# Values the .env file carries exactly (see test_dotenv_quote) that are ordinary text
# for Kubernetes: a ConfigMap value may be any UTF-8 string.
CONFIGMAP_TEXT = [
    ("nel", "next\x85line"),
    ("del", "del\x7fchar"),
    ("c1-control", "c1\x80x"),
    ("nbsp-leading", "\u00a0indented"),
    ("ideographic-space-trailing", "全角\u3000"),
    ("em-space-leading", "\u2003x"),
]


@pytest.mark.parametrize(
    "value", [v for _, v in CONFIGMAP_TEXT], ids=[label for label, _ in CONFIGMAP_TEXT]
)
def test_configmap_carries_text_the_env_file_carries(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-sensitive value the .env accepts also renders into the ConfigMap, exactly."""
    repo = hostile_repo(tmp_path / "repo", monkeypatch, {"TEXT": value})
    assert run(repo.root, "render", "--env", repo.env).code == 0
    assert dotenv_read(repo.out("env"))["P_TEXT"] == value
    result = run(repo.root, "render", "--env", repo.env, "--target", "kubernetes")
    assert result.code == 0, result.err
    _, configmap = load_manifests(repo.out("k8s.yaml"))
    assert configmap["data"]["P_TEXT"] == value


@pytest.mark.parametrize("target", ["dotenv", "kubernetes", "vault"])
def test_undecodable_from_env_value_is_bad_input_not_a_crash(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An env var holding bytes that are not UTF-8: exit 2 naming the variable, for every target."""
    repo = hostile_repo(tmp_path / "repo", monkeypatch, {"BYTES": "fine"})
    # os.environ maps undecodable bytes to lone surrogates (surrogateescape).
    monkeypatch.setenv("HOSTILE_S_BYTES", "ok\udcff")
    result = run(repo.root, "render", "--env", repo.env, "--target", target)
    assert result.code == 2, result.err
    assert "S_BYTES" in result.err
    assert "internal error" not in result.err
    assert not (repo.root / "out").exists()
