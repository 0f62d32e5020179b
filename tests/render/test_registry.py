"""A render target is one module: dropped into `secconf.render.targets`, it is known to
environment files, their JSON Schema, the placement rules, `render --target` and audit,
with no edit anywhere else."""

from __future__ import annotations

import importlib
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.repo import make_repo, run

DEMO = '''
"""A test target: one line per delivered variable, NAME<TAB>length."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from secconf.core.paths import fill
from secconf.environment.settings import PathRole, SettingsModel, settings_as
from secconf.render.base import Artifact, RenderInput, delivered_values, target_path
from secconf.render.registry import Destination, RenderTarget


class DemoSettings(SettingsModel):
    path_roles: ClassVar[Mapping[str, PathRole]] = {"path": "output"}

    path: str = "out/{env}.demo.txt"
    label: str = "demo"


def render(data: RenderInput) -> Artifact:
    settings = settings_as(data.config.environment.targets["demo"], DemoSettings)
    lines = [f"{v.name}\\t{len(text)}" for v, text in delivered_values(data.config)]
    content = (settings.label + "\\n" + "\\n".join(lines) + "\\n").encode()
    path = target_path(settings.path, data.config)
    return Artifact("demo", data.config.environment.name, content, path)


def destination(environment, name):
    settings = settings_as(environment.targets["demo"], DemoSettings)
    path = fill(settings.path, env=environment.name)
    return Destination({"target": "demo", "path": path, "key": name}, f"demo {path}")


TARGET = RenderTarget(
    name="demo",
    summary="a demonstration target",
    settings=DemoSettings,
    render=render,
    destination=destination,
)
'''


@pytest.fixture
def demo_target(tmp_path: Path) -> Iterator[None]:
    """The demo module in a directory added to the targets package's search path."""
    import secconf.cli.render
    import secconf.render.targets as package
    from secconf.render import registry

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "demo.py").write_text(DEMO, encoding="utf-8")
    package.__path__.append(str(plugins))
    registry.targets.cache_clear()
    importlib.reload(secconf.cli.render)  # its --target choices come from the registry
    try:
        yield
    finally:
        package.__path__.remove(str(plugins))
        registry.targets.cache_clear()
        importlib.reload(secconf.cli.render)


def test_the_bundled_targets_are_discovered_in_order() -> None:
    from secconf.render.registry import deployable, shared_outputs, targets

    assert list(targets()) == ["dotenv", "kubernetes", "vault", "external-secret", "dotenv-example"]
    assert deployable() == ["kubernetes", "vault"]
    assert shared_outputs() == {"dotenv-example"}


def test_a_new_target_module_is_known_everywhere(tmp_path: Path, demo_target: None) -> None:
    root = make_repo(tmp_path / "repo")
    production = root / "environments" / "development.yaml"
    production.write_text(
        production.read_text() + "  demo:\n    label: hello\n", encoding="utf-8"
    )  # under `targets:`, the file's last block
    assert run(root, "validate", "--env", "development").code == 0

    result = run(root, "render", "--env", "development", "--target", "demo")
    assert result.code == 0, result.err
    written = (root / "out" / "development.demo.txt").read_text().splitlines()
    assert written[0] == "hello" and "JWT_ALGORITHM\t5" in written

    audit = json.loads(run(root, "audit", "--env", "development", "--format", "json").out)
    jwt = next(v for v in audit["environments"][0]["variables"] if v["name"] == "JWT_SECRET_KEY")
    assert {"target": "demo", "path": "out/development.demo.txt", "key": "JWT_SECRET_KEY"} in jwt[
        "destinations"
    ]

    schema = json.loads(run(root, "schema", "export").out)
    assert schema["$defs"]["Targets"]["properties"]["demo"] == {"$ref": "#/$defs/DemoSettings"}
    assert schema["$defs"]["DemoSettings"]["properties"]["label"]["default"] == "demo"


def test_a_new_targets_output_keeps_to_the_placement_rules(
    tmp_path: Path, demo_target: None
) -> None:
    root = make_repo(tmp_path / "repo")
    (root / "environments" / "development.yaml").write_text(
        textwrap.dedent(
            """\
            values: {}
            targets:
              demo: {path: .secconf/master.key}
            """
        ),
        encoding="utf-8",
    )
    result = run(root, "validate", "--offline")
    assert result.code == 2
    assert "targets.demo.path: .secconf/master.key is inside .secconf/" in result.err


def test_an_unknown_target_in_an_environment_file_is_located(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": "values: {}\ntargets:\n  dotenv2: {}\n"})
    result = run(root, "validate", "--offline")
    assert result.code == 2
    assert "environments/dev.yaml:3: targets: unknown render target 'dotenv2'" in result.err
