"""Templates: Jinja2's immutable sandbox with StrictUndefined, and safe serialising filters.

A template can arrange what secconf gives it, never reach Python internals
(`{{ ''.__class__ }}` is a SecurityError), never mutate its inputs, and never use a
name that was not given (StrictUndefined). Values reach the output only through
filters that serialise them (`yaml_value`, `yaml_items`, `to_json`) or as lines
already quoted by secconf; each renderer then parses its output back and checks it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from secconf.core.errors import RenderError

BUNDLED_TEMPLATES = Path(__file__).resolve().parent.parent / "bundled" / "templates"


# Strings written plain: they start with a letter (so no YAML version reads a number),
# are not a word some YAML reads as a boolean or null (kubectl's go-yaml takes y/n too),
# and hold only characters that are plain in any position. Everything else is quoted.
# (A wrong guess could not slip through: every output is parsed back and compared.)
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./@+=-]*(?::[A-Za-z0-9_./@+=-]+)*")
_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})


def _is_plain_string(value: str) -> bool:
    return bool(_PLAIN.fullmatch(value)) and value.lower() not in _WORDS


# Characters JSON leaves as they are but YAML reads as line breaks, or refuses.
_YAML_SPECIAL = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")


def _yaml_value(value: Any) -> str:
    """One YAML scalar on one line: a string plain only when every YAML reader (kubectl's
    too) reads it back as that string, else double-quoted with every line break and
    non-printable character escaped. Non-strings as YAML writes them."""
    from secconf.core.yamlio import dump_scalar

    if not isinstance(value, str):
        return dump_scalar(value)
    if _is_plain_string(value):
        return value
    if not _YAML_SPECIAL.search(value):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML scalar
    return dump_scalar(value, double_quoted=True)


def _yaml_items(mapping: dict[str, Any], indent: int) -> str:
    """A mapping as block YAML whose lines after the first are indented by `indent`."""
    if not mapping:
        return "{}"
    lines = [f"{_yaml_value(str(k))}: {_yaml_value(v)}" for k, v in mapping.items()]
    return ("\n" + " " * indent).join(lines)


def _comment(text: Any) -> str:
    """Text for a `#` comment line: line breaks become spaces."""
    return " ".join(str(text).split())


def _to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


MAX_TEMPLATE_BYTES = 1 << 20  # as any configuration file (secconf.core.yamlio)


class Unreadable(Exception):
    """A template file that cannot be used: `name` (as included), and what is wrong."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(problem)
        self.name = name
        self.problem = problem


def _bounded_loader(search: list[str]) -> Any:
    """Jinja's FileSystemLoader, but a template is read as every file a pull request
    chose (secconf.core.bounded): at most MAX_TEMPLATE_BYTES, a larger one (a link to a
    big file of the machine) is an error, not gigabytes in memory."""
    import os
    import posixpath

    from jinja2 import FileSystemLoader, TemplateNotFound
    from jinja2.loaders import split_template_path

    from secconf.core.bounded import read_regular

    class BoundedLoader(FileSystemLoader):
        def get_source(self, environment: Any, template: str) -> Any:
            pieces = split_template_path(template)  # no `..`: as Jinja's own
            for searchpath in self.searchpath:
                filename = posixpath.join(searchpath, *pieces)
                if os.path.isfile(filename):  # the first regular file: as Jinja's own
                    break
            else:
                raise TemplateNotFound(template)
            try:
                data = read_regular(filename, MAX_TEMPLATE_BYTES)
                mtime = os.path.getmtime(filename)
            except OSError as exc:
                raise Unreadable(template, f"cannot be read: {exc.strerror}") from None
            if len(data) > MAX_TEMPLATE_BYTES:
                raise Unreadable(template, f"is over the {MAX_TEMPLATE_BYTES}-byte limit")
            try:
                text = data.decode(self.encoding)
            except UnicodeDecodeError as exc:
                raise Unreadable(template, f"is not valid UTF-8 (byte {exc.start})") from None
            return (
                text,
                os.path.normpath(filename),
                lambda: os.path.isfile(filename) and os.path.getmtime(filename) == mtime,
            )

    return BoundedLoader(search)


class Templates:
    """The templates of a config repo (`templates/`), falling back to the bundled ones."""

    def __init__(self, directory: Path | None) -> None:
        from jinja2 import ChoiceLoader, StrictUndefined
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        search = [str(BUNDLED_TEMPLATES)]
        if directory is not None and directory.is_dir():
            search.insert(0, str(directory))
        self.directory = directory
        self.env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader([_bounded_loader(search)]),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,  # read once: every environment of a run gets the same template
        )
        self.env.filters.update(
            yaml_value=_yaml_value,
            yaml_items=_yaml_items,
            comment=_comment,
            to_json=_to_json,
        )

    def render(self, name: str, context: dict[str, Any]) -> str:
        """Render template `name`; any template fault becomes a RenderError with its line."""
        from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError
        from jinja2.exceptions import SecurityError, UndefinedError

        try:
            template = self.env.get_template(name)
            return template.render(context)
        except TemplateNotFound as exc:
            if exc.name != name:
                # The name may be computed from a value (`{% include data.S %}`): shown
                # only when the template itself spells it out.
                included = str(exc.name)
                shown = included if _quoted_in(self._source(name), included) else None
                raise RenderError(
                    f"the template includes {shown}, which is not found"
                    if shown
                    else "the template includes a template by a computed name, which is not "
                    "found (the name is not shown: it comes from a value)",
                    file=f"templates/{name}",
                    line=_template_line(name),
                ) from None
            raise RenderError(
                f"template {name} not found",
                hint="restore it in templates/ (secconf init writes the bundled ones)",
            ) from None
        except TemplateSyntaxError as exc:
            raise RenderError(
                f"template syntax error: {exc.message}",
                file=f"templates/{name}",
                line=exc.lineno,
            ) from None
        except SecurityError:
            raise RenderError(
                "the template tried to reach Python internals, which the sandbox forbids",
                file=f"templates/{name}",
                line=_template_line(name),
                hint="templates may use only the values and filters secconf gives them",
            ) from None
        except UndefinedError as exc:
            raise RenderError(
                f"the template uses an unknown name: {_undefined(exc.message, self._source(name))}",
                file=f"templates/{name}",
                line=_template_line(name),
            ) from None
        except Unreadable as exc:  # the loader's: named as a missing one is (see above)
            shown = (
                exc.name if exc.name == name or _quoted_in(self._source(name), exc.name) else None
            )
            raise RenderError(
                f"the template {exc.problem}"
                if shown == name
                else f"the template includes {shown}, which {exc.problem}"
                if shown
                else f"the template includes a template by a computed name, which {exc.problem}"
                " (the name is not shown: it comes from a value)",
                file=f"templates/{name}",
                hint="a template is a small UTF-8 text file; is this the right file?",
            ) from None
        except (TemplateError, Exception) as exc:
            # A template is user input: whatever it raises (a division by zero, a range
            # the sandbox finds too large, endless recursion) is the user's to fix.
            raise RenderError(
                f"the template failed: {type(exc).__name__}",
                file=f"templates/{name}",
                line=_template_line(name),
            ) from None

    def _source(self, name: str) -> str:
        """The text of template `name`, or "" when it cannot be read."""
        from jinja2 import TemplateError

        try:
            source: str = self.env.loader.get_source(self.env, name)[0]  # type: ignore[union-attr]
        except (TemplateError, Unreadable, OSError, UnicodeDecodeError):
            return ""
        return source


def _quoted_in(source: str, text: str) -> bool:
    """True when the template spells `text` out as a string literal."""
    return bool(text) and (f'"{text}"' in source or f"'{text}'" in source)


_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


def _undefined(message: str | None, source: str) -> str:
    """Jinja's undefined-name message with every quoted name that the template does not
    spell out replaced: `{{ data[data.S] }}` would have it quote the value of S."""

    def shown(match: re.Match[str]) -> str:
        text = match.group(1) if match.group(1) is not None else match.group(2)
        if text.endswith(" object") and text[:-7].replace(" ", "").isidentifier():
            return match.group(0)  # a type, as in "'dict object' has no attribute"
        if text.isidentifier() and re.search(rf"\b{re.escape(text)}\b", source):
            return match.group(0)  # a name written in the template
        return "(a name computed from a value)"

    return _QUOTED.sub(shown, message or "undefined")


def _template_line(name: str) -> int | None:
    """The template line being rendered when the current exception was raised."""
    import sys
    import traceback

    tb = sys.exc_info()[2]
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename.endswith(name):
            line = lineno
    return line
