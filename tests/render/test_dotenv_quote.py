"""Round-trip tests for `.env` quoting, against readers we did not write.

Every accepted value is written with `dotenv_line` and read back by python-dotenv
(`dotenv_values`, interpolation on as apps use it) and by bash `set -a; . ./file`
(read from a child process's environment, which is what `set -a` is for). All values
go into one file per test so each oracle runs once.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import dotenv
import pytest

from secconf.core.errors import RenderError
from secconf.render._dotenv_quote import dotenv_line, quote_dotenv_value

SECRET = "s3cr3t-PAYLOAD"  # marker inside refused values: must never reach a message

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
    "-----END PRIVATE KEY-----\n"
)

HOSTILE_VALUES: list[str] = [
    "",
    "plain",
    "with spaces inside",
    "  leading and trailing  ",
    "\tTAB\tseparated\t",
    "#starts-with-hash",
    "a #not-a-comment",
    "a # x",
    " #x",
    "$",
    "$HOME",
    "a$b",
    "$$",
    "price: 5$",
    "it's",
    "'",
    "''",
    'say "hi"',
    '"',
    '""',
    "'\"mixed\"' and \"'mixed'\"",
    "a\\b",
    "a\\\\b",
    "\\'",
    '\\"',
    "C:\\dir\\x",
    "=",
    "a=b=c",
    "==",
    "é ü ß",
    "emoji 😀🔑",
    "RTL שלום עולם \u202eevil",
    "\ufeffbom-in-value",
    "zero\u200bwidth",
    "line1\nline2",
    "\n",
    "\n\n",
    "ends with newline\n",
    PEM,
    "it's\nmulti\nline",
    "`x`",
    "`id`",
    "$(id)",
    "a\\nb",
    "\\n",
    "\\t\\r\\0",
    "it's a\\nb",
    "{}",
    "$}",
    "{$",
    "!x !! !$",
    "it's !x",
    "*?[a-z]~",
    "; echo pwned; #",
    "a|b&c<d>e(f)",
    "\x0b\x0c\x1b\x7f",
    "\x85\u2028\u2029",
    "export X=1",
    "X='1'",
    "a\\\nb",
    "it's a\\\nb",
]

# A 4 KiB value per quoting style: one single-quoted (`$`, lone backslashes, `"`),
# one double-quoted (`'`, backslash pairs, `"`).
LONG_SINGLE = ('ab$HOME #=\t\n\\x é😀"q" ' * 200)[:4096]
LONG_DOUBLE = ('it\'s \\\\ "q" \\n\t\né😀 #=' * 200)[:4096]

# (label, value): every class the quoter must refuse. Each holds SECRET.
REFUSED: list[tuple[str, str]] = [
    ("cr", f"{SECRET}\rx"),
    ("crlf", f"{SECRET}\r\nx"),
    ("lone-cr-end", f"{SECRET}\r"),
    ("nul", f"{SECRET}\0x"),
    ("brace-var", f"{SECRET}${{X}}"),
    ("brace-default", f"${{X:-{SECRET}}}"),
    ("brace-empty", f"{SECRET}${{}}"),
    ("brace-unclosed", f"{SECRET}${{"),
    ("brace-colon", f"${{a:{SECRET}}}"),
    ("quote-dollar", f"it's {SECRET}$"),
    ("quote-backquote", f"it's `{SECRET}`"),
    ("backslashes-dollar", f"{SECRET}\\\\$"),
    ("backslashes-backquote", f"{SECRET}\\\\`"),
    ("trailing-backslash-dollar", f"${SECRET}\\"),
    ("trailing-backslash-backquote", f"`{SECRET}\\"),
    ("trailing-backslash", f"{SECRET}\\"),
    ("trailing-backslash-pair", f"{SECRET}\\\\"),
    ("surrogate", f"{SECRET}\ud800"),
]

# Tricky characters for the generated values, each at least once; CR, NUL and the
# surrogate are rarer so most values get past the first checks.
FUZZ_ALPHABET = [*"'\"\\$`{}#= \t\n:-!*?;|&()<>~%anZ0é😀ש", "\u2028", "\x85", "\x0b", "\ufeff"]
FUZZ_RARE = ["\r", "\0", "\ud800"]
FUZZ_SEED = 20240613
FUZZ_COUNT = 400


def _fuzz_values() -> list[str]:
    """A deterministic list of short strings drawn from the tricky alphabet."""
    rng = random.Random(FUZZ_SEED)
    values = []
    for _ in range(FUZZ_COUNT):
        length = rng.randint(0, 12)
        chars = [
            rng.choice(FUZZ_RARE) if rng.random() < 0.02 else rng.choice(FUZZ_ALPHABET)
            for _ in range(length)
        ]
        values.append("".join(chars))
    return values


def _write_env(path: Path, values: list[str]) -> dict[str, str]:
    """Write V0..Vn with `dotenv_line`; return the dict every reader must read back."""
    expected = {f"V{i}": value for i, value in enumerate(values)}
    text = "".join(dotenv_line(name, value) + "\n" for name, value in expected.items())
    # newline="" so the file holds exactly the characters we produced.
    path.write_text(text, encoding="utf-8", newline="")
    return expected


def _read_with_python_dotenv(path: Path) -> dict[str, str | None]:
    """python-dotenv with its defaults (interpolate=True), as applications load it."""
    return dict(dotenv.dotenv_values(path))


def _read_with_bash(path: Path, names: list[str]) -> dict[str, str]:
    """`set -a; . ./file` in a clean bash, then the environment a child process gets."""
    dump = "import json,os,sys; sys.stdout.write(json.dumps(dict(os.environ)))"
    script = 'set -a; . ./"$1"; exec "$2" -c "$3"'
    result = subprocess.run(
        ["env", "-i", "bash", "-c", script, "bash", path.name, sys.executable, dump],
        cwd=path.parent,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stderr == b"", result.stderr.decode(errors="replace")
    environ: dict[str, str] = json.loads(result.stdout)
    return {name: environ[name] for name in names if name in environ}


needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")


def test_python_dotenv_reads_back_hostile_values(tmp_path: Path) -> None:
    """python-dotenv reads every hostile value back exactly, interpolation on or off."""
    values = [*HOSTILE_VALUES, LONG_SINGLE, LONG_DOUBLE]
    path = tmp_path / "hostile.env"
    expected = _write_env(path, values)
    assert _read_with_python_dotenv(path) == expected
    # Nothing accepted holds `${`, so apps that turn interpolation off agree too.
    assert dict(dotenv.dotenv_values(path, interpolate=False)) == expected


@needs_bash
def test_bash_reads_back_hostile_values(tmp_path: Path) -> None:
    """bash `set -a; . ./file` exports every hostile value exactly."""
    values = [*HOSTILE_VALUES, LONG_SINGLE, LONG_DOUBLE]
    path = tmp_path / "hostile.env"
    expected = _write_env(path, values)
    assert _read_with_bash(path, list(expected)) == expected


def test_long_values_use_both_quotings() -> None:
    """The two 4 KiB values exercise single and double quotes, one each."""
    # Guards the 4 KiB round trips against silently testing one style only.
    assert len(LONG_SINGLE) == len(LONG_DOUBLE) == 4096
    assert quote_dotenv_value("L", LONG_SINGLE).startswith("'")
    assert quote_dotenv_value("L", LONG_DOUBLE).startswith('"')


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("", ""),
        ("plain", "plain"),
        ("HS256", "HS256"),
        ("mailto:a@b.io", "mailto:a@b.io"),
        ("a b", "'a b'"),
        ("~x", "'~x'"),
        ("$HOME", "'$HOME'"),
        ("#x", "'#x'"),
        ("`x`", "'`x`'"),
        ("a\\b", "'a\\b'"),
        ("line1\nline2", "'line1\nline2'"),
        ("it's", '"it\'s"'),
        ('it\'s "x"', '"it\'s \\"x\\""'),
        ("a\\\\b", '"a\\\\\\\\b"'),
    ],
)
def test_quoting_style(value: str, written: str) -> None:
    """Bare when no quoting is needed, else single quotes, double quotes only when single
    quotes cannot work."""
    assert quote_dotenv_value("V", value) == written


@pytest.mark.parametrize(
    "value", [value for _, value in REFUSED], ids=[label for label, _ in REFUSED]
)
def test_refused_values_name_the_variable_not_the_value(value: str) -> None:
    """Each refused class raises RenderError naming the variable, never the value."""
    with pytest.raises(RenderError) as caught:
        dotenv_line("DB_PASSWORD", value)
    err = caught.value
    text = str(err)
    assert "DB_PASSWORD" in text
    assert err.hint
    for shown in (text, err.message, err.hint, repr(err)):
        assert value not in shown
        assert SECRET not in shown


def test_refusal_message_does_not_depend_on_the_value() -> None:
    """Two values of the same refused class give the very same message."""
    # Identical text for different secrets proves nothing of the value is echoed.
    pairs = [("a\rb", "zzz\r"), ("x${Y}", "${Q:-w}"), ("it's $1", "it's $2")]
    for first, second in pairs:
        with pytest.raises(RenderError) as one:
            quote_dotenv_value("N", first)
        with pytest.raises(RenderError) as two:
            quote_dotenv_value("N", second)
        assert str(one.value) == str(two.value)


@pytest.mark.parametrize("name", ["", "1A", "A-B", "A B", "A\n", "É", "export A", "A=B"])
def test_invalid_names_are_refused(name: str) -> None:
    """Names bash would not read as an assignment are refused."""
    with pytest.raises(RenderError):
        dotenv_line(name, "x")


@pytest.mark.parametrize("name", ["_", "a1", "A_B", "_9", "export"])
def test_valid_names(name: str) -> None:
    """Portable shell names, including the word `export`, are written as given."""
    assert dotenv_line(name, "x") == f"{name}=x"


@needs_bash
def test_generated_values_are_refused_or_read_back_exactly(tmp_path: Path) -> None:
    """Seeded random values: either RenderError or exact read-back by both oracles."""
    accepted: list[str] = []
    refused = 0
    for value in _fuzz_values():
        try:
            quote_dotenv_value("FUZZ", value)
        except RenderError as err:
            refused += 1
            assert "FUZZ" in str(err)
            assert value not in str(err)
        else:
            accepted.append(value)
    # Keep the generator honest: both outcomes must be well represented.
    assert len(accepted) >= 100 and refused >= 50, (len(accepted), refused)
    path = tmp_path / "fuzz.env"
    expected = _write_env(path, accepted)
    assert _read_with_python_dotenv(path) == expected
    assert _read_with_bash(path, list(expected)) == expected
