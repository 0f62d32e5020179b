"""The command line: parse, call the library, format, map outcomes to exit codes."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable, Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run `secconf` with `argv` (default: sys.argv[1:]) and return its exit code."""
    from secconf.cli.app import run

    return run(argv)


def console_main() -> None:
    """The `secconf` program (console script and `python -m secconf`): a fresh process.

    Start-up builds many long-lived objects (modules, pydantic validators) and frees
    almost none, so cyclic garbage collection during it is wasted work: about a fifth
    of the start-up time of `secconf validate`. It is enabled again as soon as the
    command is loaded (LazyGroup.get_command; never for those of app.UNCOLLECTED), and
    at exit every object is frozen so that the interpreter's last collection has
    nothing to scan.

    Pydantic looks for plugins in every installed distribution's entry points when it
    builds the first model; secconf uses none, so that is skipped unless the user set
    PYDANTIC_DISABLE_PLUGINS (see `_without_pydantic_plugins`).

    The process ends without tearing its heap down (`_exit`).
    """
    import gc

    gc.disable()
    _without_pydantic_plugins()

    from secconf.core import redact

    redact.protect_process()  # what Python prints itself (an uncaught error) is redacted too
    try:
        code = main()
    finally:
        gc.freeze()
    _exit(code)


def _exit(code: int) -> None:
    """End the process as the interpreter would, less its teardown: every module and
    object freed one by one, which after `render --all` of a thousand environments took
    70-120 ms that the operating system does at once. Exit handlers run and both
    streams are flushed first; with a thread still running that is no daemon (none
    should be: each pool is joined where it is used), the interpreter's own exit, which
    waits for it."""
    import atexit
    import os
    import threading

    main_thread = threading.main_thread()
    if any(not t.daemon for t in threading.enumerate() if t is not main_thread):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`), a closed stream
            pass
    os._exit(code)


# The pydantic releases whose plugin hook is known: pydantic.plugin._schema_validator
# imports `get_plugins` from pydantic.plugin._loader, and nothing else uses that module.
KNOWN_PLUGIN_LOADER = ((2, 7), (2, 14))


def _without_pydantic_plugins() -> None:
    """Give pydantic, in this process only, a plugin loader that finds no plugin.

    Pydantic's own loader scans every installed distribution's entry points (it imports
    importlib.metadata, 66 modules: a fifth of `secconf validate`'s start-up) when the
    first model is built; secconf's models use no plugin. Nothing changes in the
    environment, so a program `secconf run` starts gets the user's settings as they are.
    Skipped when the user set PYDANTIC_DISABLE_PLUGINS (pydantic then does as told). The
    release is checked when pydantic first asks for plugins, not here: importing pydantic
    to read its version would cost a command that builds no pydantic model (scan) 8 ms;
    a release outside KNOWN_PLUGIN_LOADER (whose hook may differ) gets its own loader."""
    import os

    if "PYDANTIC_DISABLE_PLUGINS" in os.environ or "pydantic.plugin._loader" in sys.modules:
        return
    loader = types.ModuleType("pydantic.plugin._loader", "No pydantic plugin (secconf).")
    loader.__dict__["PYDANTIC_ENTRY_POINT_GROUP"] = "pydantic"
    loader.__dict__["get_plugins"] = _no_plugins
    loader.__dict__["__getattr__"] = _from_pydantic_loader
    sys.modules[loader.__name__] = loader


def _no_plugins() -> Iterable[object]:
    """No plugin, for a pydantic release whose hook is known; else what its own loader
    finds."""
    from pydantic.version import VERSION  # pydantic is imported: it asks

    try:
        release = tuple(int(part) for part in VERSION.split(".")[:2])
    except ValueError:
        release = ()
    if KNOWN_PLUGIN_LOADER[0] <= release <= KNOWN_PLUGIN_LOADER[1]:
        return ()
    plugins: Iterable[object] = _pydantic_loader().get_plugins()
    return plugins


def _from_pydantic_loader(name: str) -> object:
    """Any other name of the loader module (a newer release's): pydantic's own."""
    if name.startswith("__"):  # asked by the import system (__path__, ...): none
        raise AttributeError(name)
    return getattr(_pydantic_loader(), name)


def _pydantic_loader() -> types.ModuleType:
    """pydantic's own plugin loader, in place of secconf's from now on."""
    import importlib

    name = "pydantic.plugin._loader"
    if getattr(sys.modules.get(name), "get_plugins", None) is _no_plugins:
        del sys.modules[name]
    return importlib.import_module(name)


__all__ = ["console_main", "main"]
