"""The redaction layer: every registered value, in every form, is unprintable."""

from __future__ import annotations

import base64
import io
import json
import sys
import time
from urllib.parse import quote, quote_plus

import pytest

from secconf.core import redact
from secconf.core.secret import Secret

CANARY = "cAnArY-s3cret/with+odd=chars é"


def encodings(value: str) -> dict[str, str]:
    """Every form a leak could take, by name (the names go into assert messages)."""
    data = value.encode()
    forms = {
        "raw": value,
        "json": json.dumps(value)[1:-1],
        "repr": repr(value)[1:-1],
        "b64": base64.b64encode(data).decode(),
        "b64-nopad": base64.b64encode(data).decode().rstrip("="),
        "b64url": base64.urlsafe_b64encode(data).decode(),
        "b64url-nopad": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "hex": data.hex(),
        "HEX": data.hex().upper(),
        "url": quote(value, safe=""),
        "url-plus": quote_plus(value),
    }
    return forms


def test_every_form_of_a_registered_value_is_redacted() -> None:
    redact.register(CANARY)
    for name, form in encodings(CANARY).items():
        text = f"before {form} after"
        assert redact.redact(text) == "before [redacted] after", name


def test_a_secret_registers_itself() -> None:
    Secret(CANARY)
    assert CANARY not in redact.redact(f"x{CANARY}x")


def test_forms_inside_words_and_at_every_offset_are_found() -> None:
    # Every alignment against the sampled grams: the form at offsets 0..5 of the text.
    value = "abcdefgh1234"
    redact.register(value)
    for offset in range(7):
        text = "z" * offset + value + "z" * offset
        assert value not in redact.redact(text), offset
    redact.register("six666")  # the shortest redacted length
    assert redact.redact("a six666 b") == "a [redacted] b"


def test_short_values_are_not_redacted_but_are_known() -> None:
    redact.register("abc12")
    assert redact.redact("abc12 and abc123") == "abc12 and abc123"
    assert redact.is_known("abc12")
    assert not redact.is_known("abc13")


def test_lines_of_a_multi_line_value_are_redacted_one_by_one() -> None:
    pem = (
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\nAwEHBG0wawIBAQQg\n-----END"
    )
    redact.register(pem)
    text = "line: MIGHAgEAMBMGByqGSM49AgEGCCqGSM49 and AwEHBG0wawIBAQQg"
    assert redact.redact(text) == "line: [redacted] and [redacted]"


def test_overlapping_values_leave_no_tail() -> None:
    redact.register("AAAABBBBCCCC")
    redact.register("CCCCDDDDEEEE")
    assert redact.redact("xAAAABBBBCCCCDDDDEEEEx") == "x[redacted]x"


def test_credentials_are_known_apart() -> None:
    redact.register("ordinary-secret")
    redact.register_credential("the-vault-token")
    assert redact.is_credential("the-vault-token")
    assert redact.is_credential("Bearer the-vault-token")
    assert not redact.is_credential("ordinary-secret")
    assert redact.is_known("ordinary-secret")
    assert redact.redact("the-vault-token") == "[redacted]"


def test_credential_bytes_are_redacted_as_base64_and_hex() -> None:
    material = bytes(range(32))
    redact.register_credential(material)
    for form in (base64.b64encode(material).decode(), material.hex()):
        assert redact.redact(form) == "[redacted]"


def test_environment_registers_credentials_and_secret_looking_names_only() -> None:
    redact.register_environment(
        {
            "SECCONF_MASTER_KEY_PROD": "master-key-text",
            "VAULT_TOKEN": "hvs.vault-token",
            "GITHUB_TOKEN": "ghp_githubtoken",
            "AWS_SECRET_ACCESS_KEY": "aws-secret-key",
            "DEPLOY_KEY": "deploy-key-value",
            "VAULT_ADDR": "https://vault.example:8200",
            "SECCONF_ROOT": "/home/someone/repo",
            "HOME": "/home/someone",
        }
    )
    assert redact.is_credential("master-key-text")
    assert redact.is_credential("hvs.vault-token")
    assert not redact.is_credential("ghp_githubtoken")
    for value in ("ghp_githubtoken", "aws-secret-key", "deploy-key-value"):
        assert redact.redact(value) == "[redacted]", value
    for value in ("https://vault.example:8200", "/home/someone/repo"):
        assert redact.redact(value) == value, value


def test_control_characters_are_stripped_colours_kept() -> None:
    text = "a\x1b[2J\x1b]0;title\x07b\x1b[31mred\x1b[0m\tc\rd\x07e\x9bf\x7fg\u202eh\n"
    assert redact.printable(text) == "ab\x1b[31mred\x1b[0m\tcdefgh\n"


def test_many_registered_values_scan_fast() -> None:
    import secrets

    values = [secrets.token_urlsafe(32) for _ in range(3000)]
    for value in values:
        redact.register(value)
    line = "production: wrote out/production.env (dotenv) fingerprint abcdef12\n"
    redact.redact(line)  # computes the forms once
    started = time.perf_counter()
    for _ in range(3000):
        redact.redact(line)
    elapsed = time.perf_counter() - started
    assert redact.redact(f"{line}{values[1234]}") == f"{line}[redacted]"
    assert elapsed < 2.0  # ~0.05 s here; a loop over every form would take minutes


class TestStream:
    def test_a_value_split_across_writes_is_redacted(self) -> None:
        redact.register(CANARY)
        raw = io.StringIO()
        stream = redact.RedactingStream(raw)
        stream.write("x " + CANARY[:5])
        stream.write(CANARY[5:] + " y\nnext")
        assert raw.getvalue() == "x [redacted] y\n"
        stream.flush()  # the rest of the line, for prompts
        assert raw.getvalue() == "x [redacted] y\nnext"

    def test_it_strips_controls_and_never_fails_on_encoding(self) -> None:
        buffer = io.BytesIO()
        raw = io.TextIOWrapper(buffer, encoding="ascii", errors="strict")
        stream = redact.RedactingStream(raw)  # type: ignore[arg-type]
        stream.write("é \x1b]8;;http://x\x07link \udcff\n")
        stream.flush()
        assert buffer.getvalue() == b"\\xe9 link \\udcff\n"

    def test_bytes_through_its_buffer_are_redacted_too(self) -> None:
        redact.register(CANARY)
        raw = io.StringIO()
        stream = redact.RedactingStream(raw)
        data = f"a {CANARY}\n".encode()
        stream.buffer.write(data[:4])
        stream.buffer.write(data[4:])
        assert raw.getvalue() == "a [redacted]\n"
        with pytest.raises(TypeError):
            stream.write(b"bytes")  # type: ignore[arg-type]

    def test_delivery_is_the_one_way_past_it(
        self, capsysbinary: pytest.CaptureFixture[bytes]
    ) -> None:
        redact.register(CANARY)
        with redact.redacted_output():
            print(f"message {CANARY}")
            redact.deliver_stdout(f"KEY={CANARY}\n".encode())
            print("done")
        out = capsysbinary.readouterr().out.decode()
        assert out == f"message [redacted]\nKEY={CANARY}\ndone\n"

    def test_streams_are_restored(self) -> None:
        before = sys.stdout, sys.stderr
        with redact.redacted_output():
            assert isinstance(sys.stdout, redact.RedactingStream)
            with redact.redacted_output():  # nested: the same streams
                inner = sys.stdout
            assert sys.stdout is inner
        assert (sys.stdout, sys.stderr) == before


def test_what_python_prints_itself_is_redacted_in_the_console_program() -> None:
    """An exception no handler caught, printed by the interpreter as the process ends."""
    import subprocess

    code = (
        "from secconf.core import redact\n"
        "redact.protect_process()\n"
        f"redact.register({CANARY!r})\n"
        f"raise RuntimeError('escaped ' + {CANARY!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 1
    assert "RuntimeError: escaped [redacted]" in result.stderr
    assert CANARY not in result.stderr
