"""`render` as one transaction: every environment rendered in memory, then every file
written, or nothing at all.

Order, so that a failure at any step changes nothing: render every environment (keys
it lacks are generated in memory) -> check every output path (secconf.core.paths, no two
artifacts on one file, no existing file that secconf did not write unless `force`) ->
stage every temp file -> store the generated keys -> rename every file into place.
Files secconf wrote are recorded in `.secconf/outputs.json` (path -> SHA-256 of the
bytes written, and of the bytes before them), so that a later render replaces them and
nothing else. The manifest is renamed into place first, in the same transaction, and
accepts both: a render killed between two renames leaves files that the next render
still knows as its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secconf.core.errors import InputError
from secconf.core.files import Transaction, private_directory, write_error
from secconf.core.paths import PRIVATE_DIR, TEMPLATES_DIR
from secconf.environment.loader import Environment
from secconf.operations.project import Project
from secconf.operations.workers import STEAL_BATCH, collection_paused, process_count

if TYPE_CHECKING:
    from secconf.operations.prepare import Prepared
    from secconf.render.base import Artifact
    from secconf.render.templating import Templates

MANIFEST = "outputs.json"
MANIFEST_FORMAT = "secconf-outputs/1"
LOCK_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Written:
    """One artifact and what became of it: written, or already holding these bytes."""

    artifact: Artifact
    shown: str  # where it went, as the user named it
    changed: bool


@collection_paused()
def render(
    project: Project,
    names: Sequence[str],
    *,
    all_: bool,
    target: str,
    notify: Callable[[str], None],
    out: Path | None = None,
    force: bool = False,
    templates_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    processes: int | None = 1,
) -> list[Written]:
    """`secconf render`: the named environments (every one with `all_` or no names)
    rendered for `target` with the repository's templates, all files written or none.
    A target that renders one file from the schema renders it once. `processes`: how
    many processes load, prepare and render every environment (render_processes;
    None: as many as are worth it), when there are no names and no `out`. No garbage
    collection runs meanwhile (workers.collection_paused)."""
    from secconf.core.errors import InputError
    from secconf.render.registry import get
    from secconf.render.templating import Templates

    templates = Templates(templates_dir or project.root / TEMPLATES_DIR)
    if out is None and (all_ or not names):
        count = render_processes(len(project.environments.files()), target, processes)
        done = _rendered_in_workers(project, target, templates, notify, environ, count)
        if done is not None:
            return _written(project, done, target, templates, None, force)
    environments = project.select(names, all_=all_)
    if get(target).scope == "schema":
        environments = environments[:1]  # one file from the schema, whatever the environment
    if out is not None and len(environments) > 1:
        raise InputError("--out takes a single --env", hint="name one environment with --env")
    return render_environments(
        project, environments, target, templates, notify=notify, out=out, force=force,
        environ=environ,
    )


def render_processes(count: int, target: str, requested: int | None) -> int:
    """How many processes load, prepare and render `count` environments
    (workers.process_count); 1 when the target renders one file from the schema."""
    from secconf.render.registry import get

    return process_count(count, requested, forkable=get(target).scope != "schema")


def render_environments(
    project: Project,
    environments: Sequence[Environment],
    target: str,
    templates: Templates,
    *,
    notify: Callable[[str], None],
    out: Path | None = None,
    force: bool = False,
    environ: Mapping[str, str] | None = None,
) -> list[Written]:
    """Render every environment for `target` and write all files or none.

    `out`: one file instead of the target path (the CLI checks it is one environment);
    `-` writes nothing and returns the artifact for the caller to print. `force`:
    replace an existing output that secconf did not write.
    """
    done: list[_Done] = []
    for environment in environments:
        prepared = _prepare(project, environment, target, notify, environ)
        done.append((prepared, _render(project, target, templates, prepared, environment)))
    return _written(project, done, target, templates, out, force)


def _written(
    project: Project,
    done: Sequence[_Done],
    target: str,
    templates: Templates,
    out: Path | None,
    force: bool,
) -> list[Written]:
    """The artifacts of `done` written, all or none, and their keys stored."""
    prepared = [p for p, _ in done]
    artifacts = [a for _, a in done]
    if out is not None and str(out) == "-":
        artifacts = _commit_keys(project, prepared, artifacts, target, templates)
        return [Written(a, "-", True) for a in artifacts]
    with _manifest_lock(project.root) if out is None else contextlib.nullcontext():
        manifest = load_manifest(project.root) if out is None else None  # read once, locked
        plan = _plan(project, artifacts, out, force, manifest or {})
        transaction = _stage(project, plan, manifest)
        try:
            fresh = _commit_keys(project, prepared, artifacts, target, templates)
            if fresh != artifacts:  # another run stored its keys first: theirs are delivered
                transaction.abort()
                plan = _plan(project, fresh, out, force, manifest or {})
                transaction = _stage(project, plan, manifest)
        except BaseException:
            transaction.abort()
            raise
        transaction.commit()
    return [Written(p.artifact, p.shown, p.changed) for p in plan]


def _prepare(
    project: Project,
    environment: Environment,
    target: str,
    notify: Callable[[str], None],
    environ: Mapping[str, str] | None,
) -> Prepared | None:
    from secconf.operations.prepare import prepare
    from secconf.render.registry import get

    if get(target).scope == "schema":
        return None  # one file from the schema alone: no store, no value of anyone's
    return prepare(project, environment, notify=notify, environ=environ)


def _render(
    project: Project,
    target: str,
    templates: Templates,
    prepared: Prepared | None,
    environment: Environment,
) -> Artifact:
    from secconf.render import RenderInput
    from secconf.render.registry import get

    renderer = get(target).render
    if prepared is None:  # .env.example: the schema's defaults, nobody's values
        config = project.resolve(environment, stored={}, environ={})
        return renderer(RenderInput(config, templates, b""))
    return renderer(RenderInput(prepared.config, templates, prepared.checksum_key))


# -- worker processes (secconf.operations.workers) ----------------------------------------

WORKER_BATCH = 8  # a worker renders this many at a time
# This process's share, as a part of a worker's: it also checks every path and sweeps
# the leftovers before its own, then takes what the workers have not begun.
OWN_SHARE = 0.8

# What a worker sends for an environment of its share: the artifact and the notices its
# preparation gave (redacted); None: prepare and render it here.
_Rendered = tuple["Artifact", list[str]] | None
_Done = tuple["Prepared | None", "Artifact"]


def _rendered_in_workers(
    project: Project,
    target: str,
    templates: Templates,
    notify: Callable[[str], None],
    environ: Mapping[str, str] | None,
    processes: int,
) -> list[_Done] | None:
    """Every concrete environment loaded, prepared and rendered by `processes`
    processes, or None (then one process does it all, and reports what is wrong).

    The environment files are cut into runs in file-name order: this process takes the
    first, a forked worker each of the others. Each loads its own (and what they
    extend) and checks each of their paths alone (secconf.core.paths: inside the repo,
    not secconf's own) before reading a store; the workers send their paths here, where
    every rule between them is checked before anything is used, printed or written.
    Then each prepares and renders its share, and this process, done with its own,
    takes the workers' last environments that they have not begun (workers.Claims), so
    no process waits for another. A worker sends back, over a pipe between this process
    and its own fork, each artifact (the bytes this process is about to write to a file
    of mode 0600) and the notices its preparation gave, redacted. An environment with
    keys to generate, with an error, whose store cannot be read in a fork
    (StoreBackend.forkable), or that a worker did not send (it died) is prepared and
    rendered again here: the keys that are stored, and the errors reported, are this
    process's own. An environment that does not load or a path refused anywhere: None,
    before anything is said. So the files written, the notices, their order and the
    error that stops the render are those of one process."""
    from secconf.core.errors import SecconfError
    from secconf.core.paths import Placement
    from secconf.operations import workers as forked

    if processes < 2:
        return None
    environments = project.environments
    parts = forked.shares(environments.files(), processes, first=OWN_SHARE)
    try:
        project.schema  # noqa: B018 - loaded before the fork, in memory the workers share
    except SecconfError:
        return None  # one process says what is wrong, and with what first

    def work(share: Sequence[str], claims: forked.Claims, sender: Any) -> None:
        def run() -> list[tuple[str, _Rendered]]:
            return _render_share(project, share, claims, target, templates, environ, sender)

        forked.in_worker(run, sender)

    def one(name: str, say: Callable[[str], None]) -> _Done:
        environment = environments.get(name)
        prepared = _prepare(project, environment, target, say, environ)
        return prepared, _render(project, target, templates, prepared, environment)

    with forked.started(parts[1:], work) as workers:
        try:
            roles = environments.roles(list(parts[0]))
            own = [n for n in parts[0] if not environments.abstract(n)]
        except SecconfError:
            return None
        loaded: list[tuple[list[Any], list[str]]] = []
        for worker in workers:
            theirs = worker.result()  # (their paths, their concrete environments)
            if theirs is None:  # it died, or something of its share does not load
                return None
            loaded.append(theirs)
            roles.extend(theirs[0])
        if not own and not any(concrete for _, concrete in loaded):
            return None  # abstract ones only: one process says there is nothing to render
        placement = Placement(project.root, roles)
        try:
            placement.check()
        except SecconfError:
            return None
        environments.place(placement)
        done = [one(name, notify) for name in own]
        for worker, (_, concrete) in zip(workers, loaded, strict=True):
            wanted = set(concrete)
            taken: dict[str, tuple[_Held, _Done | SecconfError]] = {}
            while (part := worker.claims.back(STEAL_BATCH)) is not None:
                for name in worker.share[part[0] : part[1]]:
                    if name not in wanted:
                        continue
                    held = _Held()
                    try:
                        taken[name] = held, one(name, held)
                    except SecconfError as exc:  # raised in its turn, as in one process
                        taken[name] = held, exc
            sent: dict[str, _Rendered] = dict(worker.result() or [])
            for name in concrete:
                if name in taken:
                    held, result = taken[name]
                    held.release(notify)
                    if isinstance(result, SecconfError):
                        raise result
                    done.append(result)
                elif (rendered := sent.get(name)) is not None:
                    artifact, said = rendered
                    for message in said:
                        notify(message)
                    done.append((None, artifact))  # no key to store: it had none to make
                else:
                    done.append(one(name, notify))
    return done


class _Held:
    """The notices of an environment prepared before its turn: held until its turn comes,
    then passed straight on (those its keys give later, when they are stored, too)."""

    def __init__(self) -> None:
        self._held: list[str] = []
        self._notify: Callable[[str], None] | None = None

    def __call__(self, message: str) -> None:
        if self._notify is None:
            self._held.append(message)
        else:
            self._notify(message)

    def release(self, notify: Callable[[str], None]) -> None:
        """Its turn: what was held, to `notify`, and from now on straight there."""
        self._notify = notify
        for message in self._held:
            notify(message)
        self._held = []


def _render_share(
    project: Project,
    share: Sequence[str],
    claims: Any,
    target: str,
    templates: Templates,
    environ: Mapping[str, str] | None,
    sender: Any,
) -> list[tuple[str, _Rendered]]:
    """In a forked worker (workers.in_worker): load the environments of `share`, check
    each of their paths alone and send them all (with the names of the concrete ones)
    on `sender`; then prepare and render those it claims, WORKER_BATCH at a time. None
    for one it leaves to the parent: keys to generate, an error, a store not to read
    in a fork. An environment that does not load or a path refused raises: the worker
    sends nothing more, and the parent does everything itself."""
    from secconf.core.paths import Placement
    from secconf.core.redact import redact
    from secconf.store.registry import forkable

    environments = project.environments
    roles = environments.roles(list(share))
    placement = Placement(project.root, roles)
    placement.check_each()  # before any store of theirs is read
    environments.place(placement)  # the paths of its share: all it reads
    concrete = {n for n in share if not environments.abstract(n)}
    sender.send((roles, [n for n in share if n in concrete]))
    results: list[tuple[str, _Rendered]] = []
    while (part := claims.front(WORKER_BATCH)) is not None:
        for name in share[part[0] : part[1]]:
            if name not in concrete:
                continue
            said: list[str] = []
            result: _Rendered = None
            try:
                environment = environments.get(name)
                if forkable(environment):
                    prepared = _prepare(project, environment, target, said.append, environ)
                    if prepared is None or not prepared.pending:
                        artifact = _render(project, target, templates, prepared, environment)
                        result = artifact, [redact(m) for m in said]
            except Exception:  # noqa: S110 - done again by the parent, which reports it
                pass
            results.append((name, result))
    return results


def _commit_keys(
    project: Project,
    prepared: list[Prepared | None],
    artifacts: list[Artifact],
    target: str,
    templates: Templates,
) -> list[Artifact]:
    """Store every environment's pending keys; the artifacts as they must be written."""
    from secconf.operations.prepare import commit

    out = list(artifacts)
    for i, item in enumerate(prepared):
        if item is None:
            continue
        again, changed = commit(item)
        if changed:
            out[i] = _render(project, target, templates, again, again.config.environment)
    return out


@dataclass(frozen=True)
class _Write:
    artifact: Artifact
    path: Path  # resolved
    shown: str
    changed: bool
    before: str | None = None  # SHA-256 of the bytes there now, when there is a file


def _plan(
    project: Project,
    artifacts: Sequence[Artifact],
    out: Path | None,
    force: bool,
    manifest: Mapping[str, list[str]],
) -> list[_Write]:
    """Where each artifact goes, checked before anything is written (`manifest`: what
    secconf wrote, load_manifest)."""
    plan: list[_Write] = []
    seen: dict[Path, str] = {}
    resolved: dict[str, str] = {}  # the directories of the outputs, resolved once
    for artifact in artifacts:
        if out is not None:
            path, shown = Path(os.path.realpath(out)), str(out)
        else:
            path = project.placement.check_write(
                project.root / artifact.path,
                artifact.environment,
                "output",
                artifact.target,
                cache=resolved,
            )
            shown = artifact.path
        if path in seen:
            raise InputError(
                f"{artifact.environment} and {seen[path]} would both write {shown}",
                hint="give each environment an output path of its own",
            )
        seen[path] = artifact.environment
        current = _current(path, shown)
        changed = current != artifact.content or _mode(path) != artifact.mode
        if out is None and current is not None and current != artifact.content and not force:
            _refuse_foreign(project.root, path, shown, current, manifest)
        before = hashlib.sha256(current).hexdigest() if current is not None else None
        plan.append(_Write(artifact, path, shown, changed, before))
    return plan


def _current(path: Path, shown: str) -> bytes | None:
    """The bytes a regular file holds now; None when there is none. Anything else (a
    directory, a FIFO, a device) is refused: a render replaces files only."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ENOTDIR, EACCES, ELOOP: this path cannot be written either
        raise write_error(exc, shown) from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"{shown} exists and is not a regular file", hint="move it away, or pick another path"
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {shown}: {exc.strerror}") from None


def _mode(path: Path) -> int | None:
    with contextlib.suppress(OSError):
        return os.stat(path).st_mode & 0o777
    return None


def _refuse_foreign(
    root: Path, path: Path, shown: str, current: bytes, manifest: Mapping[str, list[str]]
) -> None:
    recorded = manifest.get(_key(root, path))
    if recorded and hashlib.sha256(current).hexdigest() in recorded:
        return
    why = "was edited since secconf wrote it" if recorded else "was not written by secconf"
    raise InputError(
        f"{shown} exists and {why}; refusing to replace it",
        hint="move it away, or pass --force to replace it (once: secconf then knows it)",
    )


def _stage(
    project: Project, plan: Sequence[_Write], manifest: Mapping[str, list[str]] | None
) -> Transaction:
    """Stage every changed file, and `manifest` extended with them (renamed first; None:
    no manifest, for --out)."""
    transaction = Transaction(project.root)
    changed = [w for w in plan if w.changed]
    if manifest is not None and changed:  # first: see the module docstring
        files = dict(manifest)
        root = Path(os.path.realpath(project.root))
        for write in changed:
            new = hashlib.sha256(write.artifact.content).hexdigest()
            key = _key(root, write.path, resolved=True)
            before = write.before
            files[key] = [new] if before is None or before == new else [new, before]
        text = json.dumps({"format": MANIFEST_FORMAT, "files": dict(sorted(files.items()))})
        private = project.root / PRIVATE_DIR
        private_directory(private)
        transaction.add(private / MANIFEST, (text + "\n").encode(), mode=0o600, shown=MANIFEST)
    for write in changed:
        transaction.add(
            write.path, write.artifact.content, mode=write.artifact.mode, shown=write.shown
        )
    transaction.stage()
    return transaction


# -- the manifest of what secconf wrote ---------------------------------------------


def _key(root: Path, path: Path, *, resolved: bool = False) -> str:
    """The manifest's key of `path`: relative to the repository (`resolved`: `root` is
    resolved already, as for the thousand files of one render)."""
    return str(path.relative_to(root if resolved else Path(os.path.realpath(root))))


def load_manifest(root: Path) -> dict[str, list[str]]:
    """Relative path -> SHA-256 of the bytes secconf last wrote there, and of those it
    replaced (empty when there is no manifest, or it is damaged: then nothing counts
    as written by secconf)."""
    try:
        data = json.loads((root / PRIVATE_DIR / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if data.get("format") != MANIFEST_FORMAT or not isinstance(files, dict):
        return {}
    return {str(k): [str(h) for h in v] for k, v in files.items() if isinstance(v, list)}


def _manifest_lock(root: Path) -> Any:
    """Renders may run at once: each reads, extends and writes the manifest under this."""
    from secconf.store.locking import hold

    locks = root / PRIVATE_DIR / "locks"
    private_directory(root / PRIVATE_DIR)
    private_directory(locks)
    return hold(
        locks / (MANIFEST + ".lock"),
        LOCK_TIMEOUT_SECONDS,
        hint="another `secconf render` is writing files of this repository; wait for it, "
        "then retry",
    )
