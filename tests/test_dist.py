"""The built wheel holds the library only and installs into a clean virtualenv."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel as `make dist` builds it: from the sdist, unpacked in a temporary folder,
    so nothing is written to build/ in the tree and nothing stale there rides along."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("civickit-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_the_civickit_package_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"civickit", wheel.name.split("-py3")[0] + ".dist-info"}
    assert "civickit/py.typed" in names
    # every subpackage is listed in pyproject.toml (the packages are named, not found)
    for init in (ROOT / "civickit").rglob("__init__.py"):
        assert init.relative_to(ROOT).as_posix() in names, init
    # the starter app rides along as the template of `civickit new`: its files, and no others
    starter = ROOT / "examples" / "starter"
    built = {"node_modules", ".venv", "vendor", "__pycache__", ".pytest_cache", ".mypy_cache"}
    ours = {
        path.relative_to(starter).as_posix()
        for path in starter.rglob("*")
        if path.is_file() and not built & set(path.relative_to(starter).parts)
    }
    prefix = "civickit/starter_template/"
    assert {name.removeprefix(prefix) for name in names if name.startswith(prefix)} == ours
    assert {"app/__init__.py", "app/state.py", "app/views/pages.py", "copier.yml"} <= ours
    assert not [name for name in names if "__pycache__" in name or "/vendor/" in name]
    metadata = (
        zipfile.ZipFile(wheel).read(wheel.name.split("-py3")[0] + ".dist-info/METADATA").decode()
    )
    assert "Project-URL" not in metadata  # nothing published to point at yet


@pytest.mark.slow
def test_the_wheel_installs_into_a_clean_virtualenv_and_its_command_runs(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    # from a folder outside the clone, so nothing is imported from the repository
    done = subprocess.run(
        [str(env_dir / "bin" / "civickit"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: civickit" in done.stdout
    where = subprocess.run(
        [str(python), "-c", "import civickit, sys; print(civickit.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(env_dir) in where
    missing = subprocess.run(
        [str(python), "-c", "import examples"], cwd=tmp_path, capture_output=True, text=True
    )
    assert missing.returncode != 0  # the apps are not installed as a package

    # `civickit new` from the installed wheel, then the new project's own `make test`: it
    # makes its own virtualenv and installs civickit from the wheel, with no package index
    # (a wheelhouse built here from the wheel first) and no network for the app
    made = subprocess.run(
        [str(env_dir / "bin" / "civickit"), "new", "demoapp"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    project = tmp_path / "demoapp"
    assert "CIVICKIT ?= civickit\n" in (project / "Makefile").read_text()  # not this clone
    wheelhouse = tmp_path / "wheelhouse"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheelhouse)),
            *(f"{wheel}[apps]", "pytest>=8"),
        ],
        check=True,
        capture_output=True,
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTEST_", "CIVICKIT_"))
    }
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), PYTHON=sys.executable)
    tested = subprocess.run(
        ["make", "test"], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert " passed" in tested.stdout and "failed" not in tested.stdout
