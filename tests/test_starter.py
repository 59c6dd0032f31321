"""`civickit new` and the starter app it renders (examples/starter, the one copy of the template)."""

from __future__ import annotations

import filecmp
import importlib
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from civickit.cli import cli, starter_template
from tests._portal_app import ODS_DATASET, PortalApp
from tests.helpers import assert_one_line_error

ROOT = Path(__file__).parent.parent
STARTER = ROOT / "examples" / "starter"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=True)


def python_lines(folder: Path) -> int:
    return sum(
        1
        for path in folder.rglob("*.py")
        for line in path.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    )


@contextmanager
def app_package(project: Path) -> Iterator[ModuleType]:
    """The package ``app`` of ``project`` (every starter's is called app), imported afresh."""
    ours = [name for name in sys.modules if name == "app" or name.startswith("app.")]
    saved = {name: sys.modules.pop(name) for name in ours}
    sys.path.insert(0, str(project))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module("app")
    finally:
        sys.path.remove(str(project))
        for name in [name for name in sys.modules if name == "app" or name.startswith("app.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def test_the_starter_app_stays_small():
    assert starter_template() == STARTER  # in a clone, the template is examples/starter itself
    # the package in the apps' shape (factory, state, a blueprint per module), docstrings included
    assert python_lines(STARTER / "app") <= 200


def test_the_starter_stands_alone_on_civickit():
    """A generated project has no examples/common to import: the starter never imports it."""
    for path in STARTER.rglob("*.py"):
        imports = re.findall(r"^\s*(?:from|import)\s+(\w+)", path.read_text(), re.MULTILINE)
        assert "examples" not in imports, path


def test_new_renders_the_starter_with_every_plain_file_as_it_is(run, tmp_path):
    result = run("new", "demoapp")

    assert result.exit_code == 0, result.output
    made = tmp_path / "demoapp"
    plain = [
        p.relative_to(STARTER)
        for p in STARTER.rglob("*")
        if p.is_file()
        and not p.name.endswith(".jinja")
        and p.name != "copier.yml"
        and not {"__pycache__", ".pytest_cache", ".mypy_cache", "vendor"} & set(p.parts)
    ]
    assert Path("app/__init__.py") in plain and Path("app/data/hospitals.csv") in plain
    for relative in plain:
        assert filecmp.cmp(STARTER / relative, made / relative, shallow=False), relative
    for name in ("pyproject.toml", "Makefile", "README.md", "package.json", ".copier-answers.yml"):
        assert (made / name).is_file(), name
    assert not (made / "copier.yml").exists()
    assert 'name = "demoapp"' in (made / "pyproject.toml").read_text()
    makefile = (made / "Makefile").read_text()
    assert f"CIVICKIT ?= {ROOT}" in makefile  # from a clone, the project installs this clone
    assert "\ndemo:" in makefile and "\ntest:" in makefile and "sass" in makefile


def test_the_generated_front_end_pins_the_versions_the_apps_use(run, tmp_path):
    run("new", "demoapp")
    made = json.loads((tmp_path / "demoapp" / "package.json").read_text())
    ours = json.loads((ROOT / "package.json").read_text())
    assert made["dependencies"] == ours["dependencies"]
    assert made["devDependencies"] == ours["devDependencies"]


def test_new_with_a_portal_records_it_for_the_settings(run, tmp_path, monkeypatch):
    result = run("new", "leeds-rtc", "--portal", "datamillnorth", "--dataset", "road-traffic")

    assert result.exit_code == 0, result.output
    for name in ("APP_PORTAL", "APP_DATASET", "APP_TITLE"):
        monkeypatch.delenv(name, raising=False)
    with app_package(tmp_path / "leeds-rtc") as package:
        config = package.create_app().config
        assert (config["PORTAL"], config["DATASET"]) == ("datamillnorth", "road-traffic")
        assert config["TITLE"] == "road-traffic near a postcode"
        # the environment overrides what was recorded
        monkeypatch.setenv("APP_DATASET", "road-traffic-2024")
        assert package.create_app().config["DATASET"] == "road-traffic-2024"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["new", "9lives"], "not a project name"),
        (["new", "my app"], "not a project name"),
        (["new", "x", "--portal", "datamillnorth"], "--portal and --dataset together"),
        (["new", "x", "--dataset", "d"], "--portal and --dataset together"),
        (["new", "x", "--portal", "nowhere", "--dataset", "d"], "Unknown portal 'nowhere'"),
    ],
)
def test_bad_arguments_are_one_line(run, args, needle):
    result = run(*args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output and needle in result.output
    assert not (Path.cwd() / args[1]).exists()


def test_an_existing_folder_is_refused(run, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")

    result = run("new", "taken")

    assert_one_line_error(result, "already exists")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]


def test_the_starter_maps_a_portal_dataset(serve, monkeypatch):
    """Online mode, against a local portal server speaking OpenDataSoft (generated rows)."""
    server = serve(PortalApp(total=120))
    monkeypatch.setenv(
        "CIVICKIT_POSTCODES", str(ROOT / "civickit" / "data" / "postcodes_sample.db")
    )
    with app_package(STARTER) as package:
        app = package.create_app({"PORTAL": server.url, "DATASET": ODS_DATASET})
        answer = app.test_client().get("/api/near?postcode=LS1 3EX").get_json()

    assert answer["postcode"] == "LS1 3EX" and answer["rows"]
    distances = [row["distance_m"] for row in answer["rows"]]
    assert distances == sorted(distances) and distances[-1] <= answer["radius_m"]
    assert len(answer["rows"]) == min(20, 120)  # the generated rows all lie within a few km
