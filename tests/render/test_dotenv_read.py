"""The line-by-line read-back of a rendered .env agrees with python-dotenv reading the
whole file, wherever it gives an answer (python-dotenv is the oracle)."""

from __future__ import annotations

import io
import random

import pytest
from dotenv.parser import parse_stream

from secconf.render._dotenv_read import read_back


def _whole(text: str) -> list[tuple[str, str | None]] | None:
    bindings = list(parse_stream(io.StringIO(text)))
    if any(b.error for b in bindings):
        return None
    return [(b.key, b.value) for b in bindings if b.key is not None]


TRICKY = [
    "A=1\nB='two'\n",
    "# c\n\nA='x'\n\n# d\nB=\"y\\n\"\n",
    "A='multi\nline'\n",  # a quoted value across lines: whole file only
    "A='unterminated\nB=2\n",
    'A="x\\"\ny"\n',
    "  A=1\n",
    "   \nA=1\n",
    "export A=1\n",
    "'A'=1\n",
    "A= # comment\n",
    "A=#novalue\n",
    "A=1 # c\n",
    "A\n",
    "=1\n",
    "A=1",  # no final newline
    "A='a' B\n",
    " # indented comment\nA=1\n",
    "A='it''s'\n",
    "A='x\\'y'\n",
]

ALPHABET = ["A", "B", "=", "'", '"', "\\", "#", " ", "\n", "\t", "x", "export ", "$"]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_texts_read_as_the_whole_file_does(text: str) -> None:
    got = read_back(text)
    if got is not None:
        assert got == _whole(text)


def test_random_texts_read_as_the_whole_file_does() -> None:
    rng = random.Random(10)
    answered = 0
    for _ in range(3000):
        if rng.random() < 0.5:
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(1, 30)))
        else:  # lines shaped like bindings, with the awkward characters inside
            lines = [
                rng.choice(["A=", "B='", 'C="', "#", "", "export D="])
                + "".join(rng.choice([*ALPHABET[:-5], "x"]) for _ in range(rng.randrange(6)))
                for _ in range(rng.randrange(1, 6))
            ]
            text = "\n".join(lines) + "\n"
        got = read_back(text)
        if got is not None:
            answered += 1
            assert got == _whole(text), repr(text)
    assert answered > 300  # the fast path is taken often enough to be tested


def test_a_rendered_file_is_read_line_by_line() -> None:
    text = "# header\n\n# Section\nA='1'\nB='x y'\n\n# Other\nC=\n"
    assert read_back(text) == [("A", "1"), ("B", "x y"), ("C", "")]
