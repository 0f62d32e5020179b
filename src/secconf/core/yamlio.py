"""All YAML that secconf reads or writes goes through here.

Reading is strict where PyYAML is lenient: duplicate keys (PyYAML keeps the last one
silently), aliases (a few lines can expand to gigabytes), oversized files and a
non-mapping top level are input errors naming the file and line. Every mapping key
keeps its line number, so findings can point at the line a user wrote.

What comes out is JSON data only (str, int, float, bool, None, list, dict): a timestamp
stays the text it was written as, and the tags that would make something else
(`!!binary`, `!!set`, `!!omap`, `!!pairs`, any other) are input errors, as is an escape
that is not a character (a lone surrogate), so no later stage meets a type it cannot
print, compare or encode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from secconf.core.bounded import NotRegularFile, read_regular
from secconf.core.errors import InputError

MAX_FILE_BYTES = 1 << 20  # a configuration file larger than 1 MiB is a mistake, not config

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MEMO_SIZE = 4096  # distinct scalars remembered; a thousand files repeat the same keys
_MEMO_TEXT = 256  # longer scalars are resolved each time: the memo stays small


class _MemoLoader(_Base):  # type: ignore[misc]
    """The safe loader, with the tag of a plain scalar looked up once per text.

    A scalar's implicit tag depends on its text and on whether it was quoted, nothing
    else (the safe loader has no path resolvers), so the regexes run once per distinct
    scalar, not once per scalar of every file."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        return _scalar_tag(value, implicit)


_RESOLVER: Any = yaml.resolver.Resolver()  # what the safe loader resolves scalars with
_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}


def _scalar_tag(value: str, implicit: tuple[bool, bool]) -> str:
    """The implicit tag of a scalar (`implicit`: plain, and not plain): remembered for
    texts of at most _MEMO_TEXT characters, at most _MEMO_SIZE of them."""
    if len(value) > _MEMO_TEXT:
        return str(_RESOLVER.resolve(yaml.ScalarNode, value, implicit))
    key = (value, implicit)
    tag = _TAGS.get(key)
    if tag is None:
        tag = str(_RESOLVER.resolve(yaml.ScalarNode, value, implicit))
        if len(_TAGS) >= _MEMO_SIZE:
            _TAGS.clear()
        _TAGS[key] = tag
    return tag


_Loader: Any = _MemoLoader
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

YamlPath = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null")}
_TIMESTAMP = _CORE + "timestamp"
_COLLECTION_TAGS = {_CORE + "map", _CORE + "seq"}
_SURROGATE = re.compile("[\ud800-\udfff]")  # never in ASCII text: checked only beyond it
_ScalarNode, _MappingNode, _SequenceNode = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode


@dataclass
class Document:
    """A parsed YAML file: plain data, plus where each key was written.

    `raw` keeps the text of every unquoted scalar that YAML would turn into something
    other than a string (`0x4AAAAAAA` is an int, `yes` a bool in YAML 1.1), because an
    application reads its environment variables as the text that was written.
    """

    path: str
    data: dict[str, Any]
    lines: dict[YamlPath, int] = field(default_factory=dict)
    raw: dict[YamlPath, str] = field(default_factory=dict)

    def line(self, *path: str | int) -> int | None:
        """The 1-based line where `path` (a key path) was written, if known."""
        return self.lines.get(tuple(path))

    def nearest_line(self, path: YamlPath) -> int | None:
        """The line of `path`, or of its closest written ancestor."""
        for cut in range(len(path), 0, -1):
            line = self.lines.get(path[:cut])
            if line is not None:
                return line
        return None

    def validation_error(
        self, exc: Any, *, prefix: YamlPath = (), label: str = "", hint: str | None = None
    ) -> InputError:
        """A pydantic ValidationError on this document's data, as one located InputError."""
        first = exc.errors()[0]
        loc = (*prefix, *first["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        return InputError(
            f"{label}{where}: {first['msg']}",
            file=self.path,
            line=self.nearest_line(loc),
            hint=hint,
        )


def read_text(path: Path, *, limit: int = MAX_FILE_BYTES, display: str | None = None) -> str:
    """Read a UTF-8 file of at most `limit` bytes, or raise InputError (naming the file
    as `display`, else its path) saying why not. Only a regular file is read, and never
    more than the limit (secconf.core.bounded): a path in a pull request may be a link
    to /dev/zero."""
    shown = display or str(path)
    try:
        data = read_regular(path, limit)
    except NotRegularFile:
        raise InputError(
            "not a regular file (a directory, device, FIFO or socket)",
            file=shown,
            hint="a configuration file is a file; is this the right path?",
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", file=shown) from exc
    if len(data) > limit:
        raise InputError(
            f"file is over the {limit}-byte limit",
            file=shown,
            hint="configuration files are small; is this the right file?",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not valid UTF-8 (byte {exc.start})", file=shown, hint="save the file as UTF-8"
        ) from exc


def load_document(path: Path, *, display: str | None = None) -> Document:
    """Parse one YAML file whose top level must be a mapping."""
    name = display or str(path)
    text = read_text(path, display=name)
    return parse_document(text, name)


def _compose(text: str, name: str, *, many: bool) -> Any:
    try:
        if many:
            return list(yaml.compose_all(text, Loader=_Loader))
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = _unquoted(exc.problem or exc.context or "") or "malformed YAML"
        raise InputError(
            f"malformed YAML: {problem}", file=name, line=line, hint="fix the YAML syntax"
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"malformed YAML: {type(exc).__name__}", file=name) from None


# What PyYAML quotes in a problem (an alias, a tag handle, a character: %r) is text of
# the document, which may be a secret written in it: messages never show it.
_QUOTED = re.compile(r"""\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def _unquoted(problem: str) -> str:
    return " ".join(_QUOTED.sub("", problem).split())[:200]


def parse_documents(text: str, name: str) -> list[Any]:
    """Every document of a YAML stream as plain data, as strictly as parse_document
    reads one (duplicate keys and aliases refused)."""
    out = []
    for node in _compose(text, name, many=True):
        doc = Document(name, {})
        out.append(_Converter(doc).value(node, (), node.start_mark.line + 1))
    return out


def parse_document(text: str, name: str) -> Document:
    """Parse YAML text (already read) into a Document; `name` is used in errors."""
    simple = read_simple(text, name)
    if simple is not None:  # the layout secconf writes and most files keep to: line by line
        return simple
    return parse_full_document(text, name)


def parse_full_document(text: str, name: str) -> Document:
    """parse_document with the full parser only (what read_simple must agree with)."""
    node = _compose(text, name, many=False)
    if node is None:
        return Document(name, {})
    if not isinstance(node, yaml.MappingNode):
        raise InputError(
            "the top level must be a mapping (key: value lines)",
            file=name,
            line=node.start_mark.line + 1,
        )
    doc = Document(name, {})
    doc.data = _Converter(doc).mapping(node, ())
    return doc


# YAML's own tag names (yaml.org,2002), which messages may show.
_KNOWN_TAGS = frozenset(
    {"binary", "set", "omap", "pairs", "timestamp", "merge", "value", "python/tuple"}
)


class _Converter:
    """Turns composed YAML nodes into plain data, recording lines and refusing aliases."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.seen: set[int] = set()
        self.scalars = yaml.constructor.SafeConstructor()

    def value(self, node: yaml.Node, path: YamlPath, used_at: int) -> Any:
        key = id(node)
        if key in self.seen:
            # The composer hands back the anchored node for every alias: a node seen
            # twice is an alias, the building block of "billion laughs" expansions.
            raise InputError(
                "YAML aliases (*name) are not allowed",
                file=self.doc.path,
                line=used_at,
                hint="write the value out, or share values with `extends:`",
            )
        self.seen.add(key)
        if isinstance(node, _ScalarNode):
            if node.tag == _STR:  # the common case first, as scalar() does it
                value = node.value
                if not value.isascii():
                    self._check_text(value, node)
                return str(value)
            return self.scalar(node, path)
        if node.tag not in _COLLECTION_TAGS:
            raise self._tag_error(node)
        if isinstance(node, _MappingNode):
            return self.mapping(node, path)
        assert isinstance(node, _SequenceNode)
        return [
            self.value(item, (*path, i), item.start_mark.line + 1)
            for i, item in enumerate(node.value)
        ]

    def mapping(self, node: yaml.MappingNode, path: YamlPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        lines = self.doc.lines
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, _ScalarNode) or key_node.tag.endswith(":merge"):
                raise InputError(
                    "keys must be plain names (no merge keys or complex keys)",
                    file=self.doc.path,
                    line=line,
                )
            key = str(key_node.value)
            if not key.isascii():
                self._check_text(key, key_node)
            if key in out:
                first = lines.get((*path, key))
                shown = f" {key!r}" if _NAME.fullmatch(key) else ""  # else maybe a value
                raise InputError(
                    f"duplicate key{shown} (first written on line {first})",
                    file=self.doc.path,
                    line=line,
                    hint="YAML keeps only the last one; remove one of them",
                )
            where = (*path, key)
            lines[where] = line
            if (
                type(value_node) is _ScalarNode
                and value_node.tag == _STR
                and value_node.value.isascii()
                and id(value_node) not in self.seen
            ):  # the common case, as value() does it, without the call
                self.seen.add(id(value_node))
                out[key] = value_node.value
            else:
                out[key] = self.value(value_node, where, line)
        return out

    def _tag_error(self, node: yaml.Node) -> InputError:
        # Only YAML's own tag names are shown: any other text of a tag may be a value.
        name = node.tag[len(_CORE) :] if node.tag.startswith(_CORE) else ""
        if name in _KNOWN_TAGS:
            tag = f"!!{name}"
        elif name.startswith("python/"):
            tag = "a !!python/ tag"  # what follows the prefix is the file's text
        else:
            tag = "a tag YAML does not define"
        return InputError(
            f"the YAML tag {tag} is not allowed: secconf reads text, numbers, booleans, "
            "lists and mappings",
            file=self.doc.path,
            line=node.start_mark.line + 1,
            hint="remove the tag (quote the value to keep it as text)",
        )

    def _check_text(self, text: str, node: yaml.Node) -> None:
        if _SURROGATE.search(text):
            raise InputError(
                "a \\u escape here is half of a surrogate pair, not a character",
                file=self.doc.path,
                line=node.start_mark.line + 1,
                hint="write the character itself, or its \\U escape",
            )

    def scalar(self, node: yaml.ScalarNode, path: YamlPath) -> Any:
        if node.tag == _TIMESTAMP:
            # As written: an application reads its settings as text, and a date object
            # is no JSON type. Recorded in `raw` like every other non-string scalar.
            self.doc.raw[path] = node.value
            return str(node.value)
        if node.tag not in _SCALAR_TAGS and node.tag.startswith(_CORE):
            raise self._tag_error(node)  # !!binary and the like
        if node.tag == _STR:
            self._check_text(node.value, node)
            return str(node.value)  # what SafeConstructor makes of a str node, faster
        try:
            value = self.scalars.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            # The exception's text would quote the value, which may be a secret; so
            # may a tag (`KEY: !value`): only YAML's own tags are named.
            raise InputError(
                f"cannot read the value as its tag or form says ({_tag_shown(node.tag)})",
                file=self.doc.path,
                line=node.start_mark.line + 1,
                hint="quote the value to make it a plain string, or remove the `!!` tag",
            ) from None
        if not node.style and not isinstance(value, str) and value is not None:
            self.doc.raw[path] = node.value
        return value


_STR = _CORE + "str"
_STANDARD_TAGS = frozenset(
    {"null", "bool", "int", "float", "binary", "timestamp", "str", "seq", "map", "omap"}
    | {"pairs", "set", "merge", "value"}
)


def _tag_shown(tag: str) -> str:
    kind = tag.removeprefix("tag:yaml.org,2002:")
    return kind if kind in _STANDARD_TAGS and kind != tag else "a tag YAML does not define"


def dump_yaml(data: Any, *, explicit_start: bool = False) -> str:
    """Serialise data as block-style YAML, keys in insertion order, unicode kept."""
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
        explicit_start=explicit_start,
    )
    return text


# Node types, for code that edits YAML text in place (secconf.environment.editing).
MappingNode = yaml.MappingNode
ScalarNode = yaml.ScalarNode
SequenceNode = yaml.SequenceNode


def compose_node(text: str, name: str) -> Any:
    """The node tree of one YAML document (None when empty), with its source marks, for
    editing the text in place; malformed YAML is an InputError naming `name`."""
    return _compose(text, name, many=False) if text.strip() else None


def dump_scalar(value: Any, *, double_quoted: bool = False) -> str:
    """One value as YAML writes it on one line (a string double-quoted on request, every
    line break and non-printable character then escaped)."""
    style = '"' if double_quoted else None
    text: str = yaml.dump(
        value,
        Dumper=_Dumper,
        default_style=style,
        default_flow_style=True,
        width=1 << 30,
        allow_unicode=True,
    )
    return text.removesuffix("\n...\n").removesuffix("...\n").strip("\n")


# --------------------------------------------------------------------------- simple layout
# The block layout dump_yaml writes, and people write for configuration, read line by
# line without the full parser: block mappings indented by two, sequences in a mapping
# at the mapping's own indent, `{}` and `[]`, one-line flow mappings of scalars, and
# scalars that are plain text of a few characters, quoted text without escapes,
# booleans or decimal numbers; comment lines and blank lines anywhere. Anything else
# (a comment after a value, an anchor, a tab, non-ASCII, a duplicate key...) is left
# to the full parser. Every pattern is linear (each repetition starts with a character
# the one before it cannot end with).
_PLAIN_CHAR = r"[A-Za-z0-9_./+=@-]"
_SIMPLE_KEY = r"(?:(?P<key>[A-Za-z0-9_][A-Za-z0-9_.-]*)|'(?P<qkey>[ -&(-~]*)')"
_SIMPLE_SCALAR = (
    rf"(?:(?P<plain>[A-Za-z0-9_./+=]{_PLAIN_CHAR}*(?: {_PLAIN_CHAR}+)*)"
    r"|'(?P<quoted>[ -&(-~]*)'|\"(?P<dquoted>[ !#-\[\]-~]*)\")"
)
_SIMPLE_VALUE = rf"(?:{_SIMPLE_SCALAR}|(?P<empty>\{{\}}|\[\])|\{{(?P<flow>[^{{}}]*)\}})"
_SIMPLE_ENTRY = re.compile(rf"{_SIMPLE_KEY}:(?: {_SIMPLE_VALUE})?")
_SIMPLE_ITEM = re.compile(_SIMPLE_VALUE)
_FLOW_PAIR = re.compile(rf"{_SIMPLE_KEY}: {_SIMPLE_SCALAR}(?P<more>, )?")
_NOT_SIMPLE = re.compile(r"[^\n -~]")  # anything but printable ASCII and line feeds
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,15}")
_MAX_DEPTH = 16
# The resolver tries the patterns listed under a scalar's first character (and under
# None, for every character; the safe loader lists none there).
_IMPLICIT: dict[Any, Any] = yaml.resolver.Resolver.yaml_implicit_resolvers
_FIRST_CHARS = frozenset(_IMPLICIT) if None not in _IMPLICIT else frozenset(map(chr, range(128)))
_BOOLEANS: dict[str, bool] = yaml.constructor.SafeConstructor.bool_values  # as it reads them


class _Declined(Exception):
    """The text is not in the layout read_simple reads: the full parser decides."""


def read_simple(text: str, name: str) -> Document | None:
    """The Document parse_document makes of a file in the simple layout (what dump_yaml
    writes, and most configuration files), data, lines and raw texts alike; None for any
    other text, which only the full parser reads (and rejects, when it is malformed)."""
    if not text.endswith("\n") or _NOT_SIMPLE.search(text):
        return None  # what follows a line break, tabs, CR, non-ASCII: the full parser's
    lines, numbers, indents = [], [], []
    for number, line in enumerate(text.split("\n")[:-1], 1):
        content = line.lstrip(" ")
        if content and content[0] != "#":  # not a comment or blank line
            lines.append(line)
            numbers.append(number)
            indents.append(len(line) - len(content))
    if not lines or lines[0].startswith(("---", "...")):
        return None
    indents.append(-1)
    doc = Document(name, {})
    try:
        reader = _SimpleReader(lines, numbers, indents, doc)
        data = reader.mapping(0, ())
    except _Declined:
        return None
    if reader.index != len(lines):
        return None
    doc.data = data
    return doc


class _SimpleReader:
    """The content lines of one simple document (comments and blank lines left out),
    read from the first on into `doc`."""

    def __init__(
        self, lines: list[str], numbers: list[int], indents: list[int], doc: Document
    ) -> None:
        self.lines = lines
        self.numbers = numbers  # each line's number in the file
        self.indents = indents  # each line's indent; -1 after the last line
        self.doc = doc
        self.index = 0

    def mapping(self, indent: int, path: YamlPath) -> dict[str, Any]:
        if len(path) > _MAX_DEPTH:
            raise _Declined
        out: dict[str, Any] = {}
        while (at := self.indents[self.index]) >= indent:
            line = self.lines[self.index]
            match = _SIMPLE_ENTRY.fullmatch(line, indent) if at == indent else None
            if match is None:  # deeper (a continued scalar), a sequence item, no entry
                raise _Declined
            key = match["key"] if match["key"] is not None else match["qkey"]
            if key in out:
                raise _Declined  # the full parser names the duplicate
            where = (*path, key)
            self.doc.lines[where] = self.numbers[self.index]
            self.index += 1
            following = self.indents[self.index]
            if match.lastgroup not in ("key", "qkey"):  # `key: value`, not `key:`
                out[key] = self.value(match, where)
            elif following == indent and self.lines[self.index].startswith("- ", indent):
                out[key] = self.sequence(indent, where)
            elif following == indent + 2:
                out[key] = self.mapping(indent + 2, where)
            else:
                raise _Declined  # an empty value (null), or a layout the reader leaves
        return out

    def sequence(self, indent: int, path: YamlPath) -> list[Any]:
        if len(path) > _MAX_DEPTH:
            raise _Declined
        out: list[Any] = []
        while self.indents[self.index] == indent and self.lines[self.index].startswith(
            "- ", indent
        ):
            line = self.lines[self.index]
            where = (*path, len(out))
            item = _SIMPLE_ITEM.fullmatch(line, indent + 2)
            if item is not None:
                self.index += 1
                out.append(self.value(item, where))
            else:  # a mapping: its first entry on the item's line
                self.lines[self.index] = " " * (indent + 2) + line[indent + 2 :]
                self.indents[self.index] = indent + 2
                out.append(self.mapping(indent + 2, where))
        if self.indents[self.index] > indent:
            raise _Declined
        return out

    def value(self, match: re.Match[str], path: YamlPath) -> Any:
        """A value on one line: a scalar, `{}`, `[]` or a flow mapping of scalars."""
        if match["empty"] is not None:
            return {} if match["empty"] == "{}" else []
        if match["flow"] is None:
            return self.scalar(match, path)
        flow, out, at, more = match["flow"], {}, 0, True
        line = self.numbers[self.index - 1]
        while more:
            pair = _FLOW_PAIR.match(flow, at)
            if pair is None:
                raise _Declined  # also `{}` spelt `{ }`: left to the full parser
            key = pair["key"] if pair["key"] is not None else pair["qkey"]
            if key in out:
                raise _Declined
            self.doc.lines[(*path, key)] = line
            out[key] = self.scalar(pair, (*path, key))
            at, more = pair.end(), pair["more"] is not None
        if at != len(flow):
            raise _Declined
        return out

    def scalar(self, match: re.Match[str], path: YamlPath) -> Any:
        """A scalar as the converter makes it: text, a boolean or a decimal number (the
        last two with their text kept in `raw`)."""
        if match["quoted"] is not None:
            return match["quoted"]  # single-quoted without `''`: the text itself
        if match["dquoted"] is not None:
            return match["dquoted"]  # double-quoted without `\\`: the text itself
        value: str = match["plain"]
        if value[0] not in _FIRST_CHARS:
            return value  # no implicit resolver starts with this character: text
        tag = _scalar_tag(value, (True, False))
        if tag == _STR:
            return value
        if tag == _CORE + "int" and _DECIMAL.fullmatch(value):
            self.doc.raw[path] = value
            return int(value)
        if tag == _CORE + "bool":
            self.doc.raw[path] = value
            return _BOOLEANS[value.lower()]
        raise _Declined  # null, a float, a timestamp or another form of number
