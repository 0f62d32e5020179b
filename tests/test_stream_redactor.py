"""`StreamRedactor` (`secconf run --redact`): every form of a value becomes its label,
wherever the reads split the stream, and nothing else changes."""

from __future__ import annotations

import base64
import random

from secconf.core.redact import StreamRedactor

VALUE = "s3cr3t/value+with?chars"
OTHER = "another-secret-value"
LABELS = {VALUE: "[secconf:A]", OTHER: "[secconf:B]"}


def rewritten(data: bytes, cuts: list[int]) -> bytes:
    redactor = StreamRedactor(LABELS)
    pieces, last = [], 0
    for cut in [*cuts, len(data)]:
        pieces.append(redactor.feed(data[last:cut]))
        last = cut
    return b"".join(pieces) + redactor.finish()


def test_every_split_of_the_stream_gives_the_same_output() -> None:
    data = (
        b"x " + VALUE.encode() + b" " + base64.b64encode(VALUE.encode()) + b" "
        + VALUE.encode().hex().upper().encode() + b" " + OTHER.encode() + OTHER.encode() + b"\n"
    )
    expected = b"x [secconf:A] [secconf:A] [secconf:A] [secconf:B][secconf:B]\n"
    assert rewritten(data, []) == expected
    assert rewritten(data, list(range(1, len(data)))) == expected  # byte by byte
    rng = random.Random(7)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 10)))
        assert rewritten(data, cuts) == expected


def test_only_an_end_that_could_begin_a_value_is_held_back() -> None:
    redactor = StreamRedactor(LABELS)
    assert redactor.feed(b"Password: ") == b"Password: "  # a prompt shows at once
    assert redactor.feed(b"s3cr3t/va") == b""
    assert redactor.feed(b"lue+with?chars!") == b"[secconf:A]!"
    assert redactor.feed(b"s3cr") == b""
    assert redactor.finish() == b"s3cr"  # the stream ended: not a value after all


def test_overlapping_values_are_replaced_as_one() -> None:
    redactor = StreamRedactor({"abcdef123456": "[secconf:X]", "123456ghijkl": "[secconf:Y]"})
    assert redactor.feed(b"abcdef123456ghijkl.") + redactor.finish() == b"[secconf:X]."


def test_bytes_that_are_not_utf8_pass_unchanged() -> None:
    data = bytes(range(256)) * 3
    assert rewritten(data, [100, 101, 400]) == data
