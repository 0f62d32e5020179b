"""`secconf init`: a new config repo from the bundled schema, templates and environments."""

from __future__ import annotations

import os
from pathlib import Path

from secconf.core.errors import InputError

BUNDLED = Path(__file__).resolve().parent.parent / "bundled"
PARTS = ("schema", "templates", "environments")
GITIGNORE_LINES = (
    "# secconf: the master key, rendered outputs and temp files never go into git;",
    "# the encrypted stores under secrets/ are meant to be committed.",
    ".secconf/",
    "out/",
    ".env",
    "*.secconf-tmp",
)
NEXT_STEPS = (
    "secconf validate --all",
    "secconf keys ensure --all",
    "secconf render --env development",
)


def scaffold_files() -> dict[str, bytes]:
    """Relative path -> content of every file `init` writes (besides .gitignore)."""
    files = {}
    for part in PARTS:
        for source in sorted((BUNDLED / part).iterdir()):
            if source.is_file() and not source.name.startswith("."):
                files[f"{part}/{source.name}"] = source.read_bytes()
    files["recipients.yaml"] = (BUNDLED / "recipients.yaml").read_bytes()  # age groups
    return files


def init_repo(directory: Path) -> list[str]:
    """Write the scaffold into `directory`; refuse if any of its files exists already.

    An existing .gitignore is kept and only gains the lines it lacks.
    """
    files = scaffold_files()
    existing = sorted(name for name in files if (directory / name).exists())
    if existing:
        raise InputError(
            f"refusing to overwrite existing files in {directory}: {', '.join(existing[:5])}"
            + (f" and {len(existing) - 5} more" if len(existing) > 5 else ""),
            hint="run `secconf init` in a new directory, or move those files away first",
        )
    from secconf.core.files import make_dirs

    make_dirs(directory)
    written = []
    for name, content in files.items():
        path = directory / name
        make_dirs(path.parent)  # 0700 whatever the umask
        # Exclusive: never overwrites, even in a race; 0644 whatever the umask.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        written.append(name)
    if _update_gitignore(directory / ".gitignore"):
        written.append(".gitignore")
    return written


def _update_gitignore(path: Path) -> bool:
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip() for line in current.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if not any(not line.startswith("#") for line in missing):
        return False
    prefix = "" if not current or current.endswith("\n") else "\n"
    separator = "\n" if current else ""
    from secconf.core.files import write_atomic

    text = current + prefix + separator + "\n".join(missing) + "\n"
    write_atomic(path, text.encode("utf-8"), mode=0o644, shown=str(path))
    return True
