"""Names bash will not assign from a `.env` are refused when the schema is loaded.

The oracle is bash itself: each refused name, assigned by `set -a; . ./file`, does not
reach the program bash then runs with the value the file gives.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.oracles import needs_bash
from tests.support.repo import make_repo, run

from secconf.core.errors import InputError
from secconf.schema import load_schema
from secconf.schema.shellnames import REFUSED, bash_refusal

_DUMP = "import json,os,sys; sys.stdout.write(json.dumps(dict(os.environ)))"
# A few of bash's own BASH_ variables: the prefix rule covers them all.
_BASH_OWN = ["BASH_ARGV0", "BASH_SUBSHELL", "BASH_LINENO", "BASH_SOURCE", "BASH_VERSINFO"]


def _bash_reads(tmp_path: Path, names: list[str]) -> dict[str, str]:
    """What a program started by `set -a; . ./f.env` sees for each name (one bash per name:
    a readonly name stops the sourcing)."""
    seen = {}
    for name in names:
        path = tmp_path / "f.env"
        path.write_text(f"{name}=abc\n", encoding="utf-8")
        script = 'set -a; . ./f.env 2>/dev/null; exec "$1" -c "$2"'
        result = subprocess.run(
            ["env", "-i", "bash", "-c", script, "bash", sys.executable, _DUMP],
            cwd=tmp_path, capture_output=True, check=False,
        )
        if result.returncode == 0:
            seen[name] = json.loads(result.stdout).get(name, "<unset>")
        else:
            seen[name] = "<bash stopped>"
    return seen


@needs_bash
def test_every_refused_name_is_one_bash_does_not_deliver(tmp_path: Path) -> None:
    names = [*REFUSED, *_BASH_OWN]
    read = _bash_reads(tmp_path, names)
    delivered = sorted(name for name, value in read.items() if value == "abc")
    assert delivered == []
    assert all(bash_refusal(name) for name in names)


@needs_bash
def test_ordinary_names_are_delivered_and_accepted(tmp_path: Path) -> None:
    names = ["JWT_ALGORITHM", "BASH", "USER", "HOME_URL", "_PRIVATE", "UIDS", "MY_RANDOM"]
    assert _bash_reads(tmp_path, names) == dict.fromkeys(names, "abc")
    assert [bash_refusal(name) for name in names] == [None] * len(names)


@pytest.mark.parametrize(
    ("name", "reason"),
    [("UID", "readonly"), ("RANDOM", "computes"), ("SHLVL", "resets"), ("BASH_ENV", "BASH_")],
)
def test_the_schema_refuses_the_name_with_the_reason(
    tmp_path: Path, name: str, reason: str
) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "x.yaml").write_text(
        f"section: X\nvariables:\n  - name: OK\n    description: d\n"
        f"  - name: {name}\n    description: d\n"
    )
    with pytest.raises(InputError) as caught:
        load_schema(tmp_path / "s")
    error = caught.value
    assert f"variable {name} cannot be delivered in a .env file" in error.message
    assert reason in error.message
    assert error.file is not None and error.file.endswith("x.yaml")
    assert error.line == 5
    assert error.hint


def test_validate_exits_2_naming_the_file_and_line(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": "values: {}\n"})
    (root / "schema" / "99-uid.yaml").write_text(
        "section: Ids\nvariables:\n  - name: EUID\n    description: the user\n"
    )
    result = run(root, "validate")
    assert result.code == 2
    assert re.search(r"schema/99-uid\.yaml:3: .*EUID cannot be delivered.*readonly", result.err)
