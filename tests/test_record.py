"""secconf.core.record: records validate, coerce and refuse exactly as the pydantic
models they replace (pydantic is the oracle: the same declarations as BaseModels)."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Annotated, Any, Literal

import pydantic
import pytest
from pydantic_core import ValidationError

from secconf.core.record import After, Field, Record


def _even(value: int) -> int:
    if value % 2:
        raise ValueError("must be even")
    return value


class Inner(Record):
    name: str = "vault"
    kind: Literal["SecretStore", "ClusterSecretStore"] = "SecretStore"


class Outer(Record):
    """A record of every kind of field the schema and settings files use."""

    name: str = Field(pattern=r"^[A-Z_]+$")
    alias_name: str = Field(default="", alias="section")
    count: int | None = Field(default=None, ge=0, le=10)
    flag: bool = False
    ratio: float = 1.0
    default: str | bool | int | None = None
    choices: tuple[str, ...] | None = None
    items: list[Annotated[int, After(_even)]] = Field(default_factory=list, max_length=3)
    labels: dict[str, str] = Field(default_factory=dict)
    anything: dict[str, object] = Field(default_factory=dict)
    inner: Inner = Inner()
    maybe: Inner | None = None


def _as_pydantic_models() -> Any:
    """The same declarations as pydantic models, under the same names."""

    class Inner(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

        name: str = "vault"
        kind: Literal["SecretStore", "ClusterSecretStore"] = "SecretStore"

    class Outer(pydantic.BaseModel):
        """A record of every kind of field the schema and settings files use."""

        model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

        name: str = pydantic.Field(pattern=r"^[A-Z_]+$")
        alias_name: str = pydantic.Field(default="", alias="section")
        count: int | None = pydantic.Field(default=None, ge=0, le=10)
        flag: bool = False
        ratio: float = 1.0
        default: str | bool | int | None = None
        choices: tuple[str, ...] | None = None
        items: list[Annotated[int, pydantic.AfterValidator(_even)]] = pydantic.Field(
            default_factory=list, max_length=3
        )
        labels: dict[str, str] = pydantic.Field(default_factory=dict)
        anything: dict[str, object] = pydantic.Field(default_factory=dict)
        inner: Inner = Inner()
        maybe: Inner | None = None

    return type("P", (), {"Inner": Inner, "Outer": Outer})


P = _as_pydantic_models()


INPUTS: list[Any] = [
    {"name": "OK"},
    {"name": "OK", "section": "Tokens", "count": "7", "flag": "yes", "ratio": "2.5"},
    {"name": "OK", "default": "true", "choices": ["a", "b"], "items": [2, "4"]},
    {"name": "OK", "default": True, "labels": {"a": "b"}, "anything": {"x": [1, {"y": None}]}},
    {"name": "OK", "default": 5, "inner": {"kind": "ClusterSecretStore"}, "maybe": {}},
    {"name": "lower"},
    {},
    {"name": "OK", "count": -1},
    {"name": "OK", "count": 11},
    {"name": "OK", "count": "seven"},
    {"name": "OK", "flag": "perhaps"},
    {"name": 5},
    {"name": "OK", "unknown": 1},
    {"name": "OK", "alias_name": "by field name"},
    {"name": "OK", "items": [1]},
    {"name": "OK", "items": [2, 2, 2, 2]},
    {"name": "OK", "labels": {"a": 1}},
    {"name": "OK", "inner": {"kind": "Other"}},
    {"name": "OK", "inner": {"extra": 1}},
    {"name": "OK", "choices": "ab"},
    {"name": "OK", "default": 1.5},
    "not a mapping",
    None,
]


def _outcome(model: Any, data: Any) -> Any:
    try:
        value = (
            model.validate(data)
            if isinstance(model, type) and issubclass(model, Record)
            else model.model_validate(data)
        )
    except (ValidationError, pydantic.ValidationError) as exc:
        return [(e["type"], e["loc"], e["msg"]) for e in exc.errors()]
    dumped = value.dump(mode="json") if isinstance(value, Record) else value.model_dump(mode="json")
    return ("ok", dumped)


@pytest.mark.parametrize("data", INPUTS, ids=range(len(INPUTS)))
def test_validation_and_errors_are_pydantics(data: Any) -> None:
    assert _outcome(Outer, data) == _outcome(P.Outer, data)


def test_json_schema_is_the_one_pydantic_generates() -> None:
    assert Outer.json_schema() == P.Outer.model_json_schema(ref_template="#/$defs/{model}")


def test_python_dump_nests_records_as_mappings_and_exclude_none() -> None:
    record = Outer.validate({"name": "OK", "inner": {"name": "x"}})
    assert record.dump()["inner"] == {"name": "x", "kind": "SecretStore"}
    assert "maybe" not in record.dump(exclude_none=True)
    assert record.dump(mode="json")["choices"] is None


def test_records_are_frozen_and_replace_makes_a_copy() -> None:
    record = Outer.validate({"name": "OK", "count": 3})
    with pytest.raises(AttributeError):
        record.count = 4  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del record.count  # type: ignore[misc]
    other = record.replace(count=4)
    assert (record.count, other.count) == (3, 4)
    assert other.fields_set == {"name", "count"}
    assert record.fields_set == {"name", "count"}


def test_equality_hash_copy_and_pickle() -> None:
    a = Inner.validate({"name": "x"})
    assert a == Inner(name="x") and a != Inner(name="y") and a != P.Inner(name="x")
    assert hash(a) == hash(Inner(name="x"))
    for again in (copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert again == a and again.fields_set == {"name"}
        with pytest.raises(AttributeError):
            again.name = "z"  # type: ignore[misc]


def test_keyword_construction_validates() -> None:
    assert Inner(kind="ClusterSecretStore").kind == "ClusterSecretStore"
    with pytest.raises(ValidationError):
        Inner(kind="Other")


class Checked(Record):
    low: int = 0
    high: int = 0

    def check(self) -> None:
        if self.low > self.high:
            raise ValueError("low is above high")


def test_check_runs_after_the_fields_and_reports_as_pydantic_does() -> None:
    assert Checked.validate({"low": 1, "high": 2}).high == 2
    with pytest.raises(ValidationError) as caught:
        Checked.validate({"low": 3, "high": 2})
    (error,) = caught.value.errors()
    assert (error["loc"], error["msg"]) == ((), "Value error, low is above high")


def test_a_field_type_records_do_not_know_is_refused_when_first_validated() -> None:
    class Odd(Record):
        when: set[str] = Field(default_factory=set)

    with pytest.raises(TypeError, match="unsupported type"):
        Odd.validate({})


def test_a_default_record_in_a_pydantic_model_serializes() -> None:
    # A record is a type pydantic knows: in a model, and in data pydantic serializes.
    class Holder(pydantic.BaseModel):
        inner: Inner = Inner()

    assert Holder.model_validate({"inner": {"name": "y"}}).inner == Inner(name="y")
    assert json.loads(Holder().model_dump_json()) == {
        "inner": {"name": "vault", "kind": "SecretStore"}
    }


def test_repr_names_the_fields_and_shows_no_value() -> None:
    record = Outer.validate({"name": "OK", "anything": {"JWT_SECRET_KEY": "s3cret-value"}})
    shown = repr(record)
    assert shown.startswith("Outer(name, ") and "anything" in shown
    assert "s3cret-value" not in shown and "OK" not in shown
