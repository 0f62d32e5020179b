"""A deploy target is one module: a render target that names it as its `deploy` adapter
is a `plan/apply/check --target` choice, and what is delivered is what it renders, with
no edit anywhere else."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.repo import make_repo, run

MEMO_TARGET = '''
"""A test render target: the delivered values as one JSON object."""

from __future__ import annotations

import json

from secconf.environment.settings import SettingsModel
from secconf.render.base import Artifact, RenderInput, delivered_values


class MemoSettings(SettingsModel):
    shelf: str = "{env}"


def render(data: RenderInput) -> Artifact:
    payload = {v.name: text for v, text in delivered_values(data.config)}
    content = json.dumps(payload).encode()
    return Artifact("memo", data.config.environment.name, content, "out/memo.json")


from secconf.render.registry import RenderTarget

TARGET = RenderTarget(
    name="memo",
    summary="an in-memory shelf",
    settings=MemoSettings,
    render=render,
    deploy="memo_deploy:MemoDeploy",
)
'''

MEMO_DEPLOY = '''
"""A test deploy target: a shelf in this process's memory, per environment."""

from __future__ import annotations

import json
from dataclasses import dataclass

from secconf.deploy.base import ApplyResult, Delivery, DeployOptions, Plan, PlanState, diff_keys

SHELVES: dict[str, dict[str, str]] = {}


@dataclass
class MemoState(PlanState):
    shelf: str
    payload: dict[str, str]


class MemoDeploy:
    name = "memo"

    def __init__(self, options: DeployOptions) -> None:
        self.options = options

    def plan(self, delivery: Delivery, *, prune: bool) -> Plan:
        shelf = getattr(delivery.settings, "shelf").replace("{env}", delivery.config.environment.name)
        desired = json.loads(delivery.content)
        live = SHELVES.get(shelf, {})
        changes, unmanaged = diff_keys(
            live, desired, set(desired), delivery.fingerprint_key, prune=prune
        )
        plan = Plan(delivery.config.environment.name, self.name, shelf, changes, unmanaged, prune)
        plan.state = MemoState(shelf, desired)
        return plan

    def apply(self, plan: Plan) -> ApplyResult:
        if plan.in_sync:
            return ApplyResult(plan.environment, "unchanged")
        assert isinstance(plan.state, MemoState)
        SHELVES[plan.state.shelf] = dict(plan.state.payload)
        return ApplyResult(plan.environment, "applied", 1)
'''


@pytest.fixture
def memo_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The memo render target in the targets package's search path, its deploy adapter
    importable as `memo_deploy`; yields the adapter module."""
    import secconf.cli.deploy
    import secconf.cli.render
    import secconf.render.targets as package
    from secconf.render import registry

    plugins = tmp_path / "plugins"
    (plugins / "targets").mkdir(parents=True)
    (plugins / "targets" / "memo.py").write_text(MEMO_TARGET, encoding="utf-8")
    (plugins / "memo_deploy.py").write_text(MEMO_DEPLOY, encoding="utf-8")
    monkeypatch.syspath_prepend(str(plugins))
    package.__path__.append(str(plugins / "targets"))
    registry.targets.cache_clear()
    for cli in (secconf.cli.deploy, secconf.cli.render):  # --target choices: the registry's
        importlib.reload(cli)
    try:
        yield importlib.import_module("memo_deploy")
    finally:
        package.__path__.remove(str(plugins / "targets"))
        registry.targets.cache_clear()
        for cli in (secconf.cli.deploy, secconf.cli.render):
            importlib.reload(cli)


def test_a_new_deploy_target_module_is_a_target_of_plan_apply_and_check(
    tmp_path: Path, memo_target: object
) -> None:
    from secconf.render.registry import deployable

    assert deployable() == ["kubernetes", "vault", "memo"]
    root = make_repo(tmp_path / "repo")
    shelves = memo_target.SHELVES  # type: ignore[attr-defined]

    applied = run(root, "apply", "--env", "development", "--target", "memo", "--yes")
    assert applied.code == 0, applied.both
    assert "development: applied (1 write)" in applied.out
    rendered = run(root, "render", "--env", "development", "--target", "memo", "--out", "-")
    assert rendered.code == 0, rendered.both
    assert shelves["development"] == json.loads(rendered.out)  # what render writes
    assert run(root, "check", "--env", "development", "--target", "memo").code == 0

    shelves["development"]["JWT_ALGORITHM"] = "HS384"  # a hand edit
    drift = run(root, "check", "--env", "development", "--target", "memo")
    assert drift.code == 1 and "~ change  JWT_ALGORITHM" in drift.out, drift.both


def test_a_target_without_a_deploy_adapter_is_not_a_deploy_choice(tmp_path: Path) -> None:
    from secconf.core.errors import InputError
    from secconf.deploy.base import DeployOptions
    from secconf.operations.deploy import deploy_target

    root = make_repo(tmp_path / "repo")
    result = run(root, "plan", "--env", "development", "--target", "dotenv")
    assert result.code == 2 and "'dotenv' is not one of 'kubernetes', 'vault'" in result.err
    with pytest.raises(InputError, match="dotenv is not a target plan/apply/check deliver to"):
        deploy_target("dotenv", DeployOptions())
