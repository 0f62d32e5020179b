"""Frozen records validated by pydantic-core: what schema files, environment files and
the settings of targets and stores are read into.

A record declares its fields as annotated class attributes with their defaults, as a
pydantic model does; the first validation of a record class builds a pydantic-core
`SchemaValidator` from them. Validation, coercion and error messages are pydantic's own
(`pydantic_core.ValidationError`, with the `loc`/`msg` of every error), and
`json_schema()` has pydantic generate the JSON Schema from the same core schema.

Why not `pydantic.BaseModel`: importing it and building the models secconf reads its
files with cost about 120 ms at every start-up (pydantic's schema generation, its types
and annotated-types), a third of `secconf validate`; pydantic-core, which does the
validating either way, is loaded by `import pydantic` already. The types a field may
have are the few the files need: str, int, bool, float, None, `X | None`, unions,
`Literal[...]`, `tuple[X, ...]`, `list[X]`, `dict[str, X]`, `object`, another record,
and `Annotated[X, After(check)]`; anything else is a programming error, raised when the
class is first validated (every record is validated by the test suite).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, Self, TypeVar, Union

from pydantic_core import PydanticUndefined, SchemaSerializer, SchemaValidator
from pydantic_core import core_schema as cs

_MISSING: Any = PydanticUndefined
_CONSTRAINTS = ("pattern", "ge", "le", "min_length", "max_length")


class FieldInfo:
    """A field's default (or factory), validation alias and constraints."""

    __slots__ = ("alias", "annotation", "constraints", "default", "default_factory")

    def __init__(
        self,
        default: Any = _MISSING,
        *,
        default_factory: Callable[[], Any] | None = None,
        alias: str | None = None,
        constraints: Mapping[str, Any] | None = None,
        annotation: Any = None,
    ) -> None:
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.constraints = dict(constraints or {})
        self.annotation = annotation

    def default_value(self) -> Any:
        """The value a record gets when its data leaves the field out."""
        if self.default_factory is not None:
            return self.default_factory()
        return None if self.default is _MISSING else self.default


def Field(
    default: Any = _MISSING,
    *,
    default_factory: Callable[[], Any] | None = None,
    alias: str | None = None,
    pattern: str | None = None,
    ge: int | None = None,
    le: int | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
) -> Any:
    """A field with constraints (on the value, or on the value inside `X | None`), an
    alias the data spells it with, or a default made fresh for every record."""
    given = {"pattern": pattern, "ge": ge, "le": le}
    given |= {"min_length": min_length, "max_length": max_length}
    return FieldInfo(
        default,
        default_factory=default_factory,
        alias=alias,
        constraints={k: v for k, v in given.items() if v is not None},
    )


class After:
    """`Annotated[X, After(check)]`: `check(value)` runs on the validated value and
    returns it (or a replacement); a ValueError it raises is a validation error."""

    __slots__ = ("check",)

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check


R = TypeVar("R", bound="Record")


class Record:
    """A frozen record whose fields are its annotated class attributes (ClassVar ones
    excepted); unknown keys are refused. `check()` runs after the fields are valid."""

    __slots__ = (
        "__dict__",
        "__pydantic_extra__",
        "__pydantic_fields_set__",
        "__pydantic_private__",
    )

    # What pydantic's JSON Schema generator reads of a model class.
    model_config: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    def __init__(self, **data: Any) -> None:
        type(self)._built().validator.validate_python(data, self_instance=self)

    __pydantic_fields_set__: set[str]
    __record_built__: ClassVar[_Built | None] = None
    __pydantic_serializer__: ClassVar[SchemaSerializer]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__record_built__ = None

    @classmethod
    def validate(cls, data: Any) -> Self:
        """A record from `data` (a mapping), or pydantic_core.ValidationError."""
        record: Self = cls._built().validator.validate_python(data)
        return record

    @classmethod
    def record_fields(cls) -> dict[str, FieldInfo]:
        """Every field, in declaration order (base classes' first)."""
        return cls._built().fields

    @classmethod
    def core_schema(cls) -> cs.CoreSchema:
        """The pydantic-core schema the record is validated with."""
        return cls._built().schema

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> cs.CoreSchema:
        """A record is a type pydantic knows (in a model, a TypeAdapter, a JSON Schema's
        default) by its core schema."""
        return cls.core_schema()

    @classmethod
    def json_schema(cls, *, ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
        """The JSON Schema of the record's data, as pydantic generates it."""
        from pydantic.json_schema import GenerateJsonSchema

        schema = _with_refs(cls._built().schema, top=cls)
        return GenerateJsonSchema(ref_template=ref_template).generate(schema, mode="validation")

    @classmethod
    def _built(cls) -> _Built:
        built: _Built | None = cls.__dict__.get("__record_built__")
        if built is None:
            built = _Built(cls)
            cls.__record_built__ = built
            # pydantic-core serializes an object whose class has one with it: a record
            # as a default in a JSON Schema, or nested in data given to pydantic.
            cls.__pydantic_serializer__ = built.serializer
        return built

    def check(self) -> None:
        """Checks across fields, after each is valid: raise ValueError to refuse."""

    @property
    def fields_set(self) -> frozenset[str]:
        """The fields the data gave (the others have their defaults)."""
        return frozenset(self.__pydantic_fields_set__)

    def dump(
        self, *, mode: Literal["python", "json"] = "python", exclude_none: bool = False
    ) -> dict[str, Any]:
        """The record as plain data: records nested as mappings (`json`: tuples as lists)."""
        data: dict[str, Any] = (
            type(self)._built().serializer.to_python(self, mode=mode, exclude_none=exclude_none)
        )
        return data

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes` (not validated again: values of the right types only)."""
        other = object.__new__(type(self))
        other._fill({**self.__dict__, **changes}, {*self.__pydantic_fields_set__, *changes})
        return other

    def _fill(self, data: dict[str, Any], fields_set: set[str]) -> None:
        """Set what pydantic-core sets on a record it validates (frozen: past __setattr__)."""
        object.__setattr__(self, "__dict__", data)
        object.__setattr__(self, "__pydantic_fields_set__", fields_set)
        object.__setattr__(self, "__pydantic_extra__", None)
        object.__setattr__(self, "__pydantic_private__", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: use replace()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), *self.__dict__.values()))

    def __repr__(self) -> str:
        # Field names only: an environment file's `values` or a schema default may be
        # a secret, and a repr ends up in logs and test failure messages.
        return f"{type(self).__name__}({', '.join(self.__dict__)})"

    def __getstate__(self) -> dict[str, Any]:
        return {"dict": self.__dict__, "set": set(self.__pydantic_fields_set__)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._fill(dict(state["dict"]), set(state["set"]))


class _Built:
    """A record class's fields, core schema, validator and serializer."""

    def __init__(self, cls: type[Record]) -> None:
        hints = typing.get_type_hints(cls, include_extras=True)
        self.fields: dict[str, FieldInfo] = {}
        for name, annotation in hints.items():
            if typing.get_origin(annotation) is ClassVar or name.startswith("_"):
                continue
            declared = _declared(cls, name)
            if not isinstance(declared, FieldInfo):
                declared = FieldInfo(declared)
            self.fields[name] = FieldInfo(
                declared.default,
                default_factory=declared.default_factory,
                alias=declared.alias,
                constraints=declared.constraints,
                annotation=annotation,
            )
        fields = {name: _field(info) for name, info in self.fields.items()}
        inner = cs.model_fields_schema(fields, model_name=cls.__name__, extra_behavior="forbid")
        schema: cs.CoreSchema = cs.model_schema(
            cls,
            inner,
            frozen=True,
            extra_behavior="forbid",
            config={"title": cls.__name__, "extra_fields_behavior": "forbid"},
        )
        if cls.check is not Record.check:
            schema = cs.no_info_after_validator_function(_run_check, schema)
        self.schema = schema
        self.validator = SchemaValidator(schema)
        self.serializer = SchemaSerializer(schema)


def _with_refs(schema: Any, *, top: type) -> Any:
    """`schema` with each nested record's schema named (`ref`), so that the JSON Schema
    generator makes it a `$defs` entry, as it does for nested pydantic models."""
    if isinstance(schema, list):
        return [_with_refs(item, top=top) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _with_refs(v, top=top) for k, v in schema.items()}
    if out.get("type") == "model" and out["cls"] is not top:
        out["ref"] = out["cls"].__name__
    return out


def _declared(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return _MISSING


def _run_check(record: R) -> R:
    record.check()
    return record


def _field(info: FieldInfo) -> cs.ModelField:
    schema = _constrained(_core(info.annotation), info.constraints)
    if info.default_factory is not None:
        schema = cs.with_default_schema(schema, default_factory=info.default_factory)
    elif info.default is not _MISSING:
        schema = cs.with_default_schema(schema, default=info.default)
    return cs.model_field(schema, validation_alias=info.alias)


def _constrained(schema: cs.CoreSchema, constraints: Mapping[str, Any]) -> cs.CoreSchema:
    """Constraints go on the value, the one inside `X | None` too."""
    if not constraints:
        return schema
    if schema["type"] == "nullable":
        return cs.nullable_schema(_constrained(schema["schema"], constraints))
    out: dict[str, Any] = dict(schema)
    if out["type"] == "function-after":
        out["schema"] = _constrained(out["schema"], constraints)
        return typing.cast(cs.CoreSchema, out)
    out.update(constraints)
    return typing.cast(cs.CoreSchema, out)


_SIMPLE: dict[Any, Callable[[], cs.CoreSchema]] = {
    str: cs.str_schema,
    int: cs.int_schema,
    bool: cs.bool_schema,
    float: cs.float_schema,
    object: cs.any_schema,
    Any: cs.any_schema,
    type(None): cs.none_schema,
    None: cs.none_schema,
}


def _core(annotation: Any) -> cs.CoreSchema:
    """The pydantic-core schema of a field's type."""
    simple = _SIMPLE.get(annotation)
    if simple is not None:
        return simple()
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return annotation.core_schema()
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        schema = _core(args[0])
        for meta in args[1:]:
            if isinstance(meta, After):
                schema = cs.no_info_after_validator_function(meta.check, schema)
            else:
                raise TypeError(f"unsupported annotation {meta!r} in a record field")
        return schema
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        inner = (
            _core(options[0]) if len(options) == 1 else cs.union_schema([_core(a) for a in options])
        )
        return cs.nullable_schema(inner) if len(options) < len(args) else inner
    if origin is Literal:
        return cs.literal_schema(list(args))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return cs.tuple_schema([_core(args[0])], variadic_item_index=0)
    if origin is list:
        return cs.list_schema(_core(args[0]))
    if origin in (dict, Mapping) and args and args[0] is str:
        return cs.dict_schema(cs.str_schema(), _core(args[1]))
    raise TypeError(f"unsupported type {annotation!r} in a record field")
