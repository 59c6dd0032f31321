"""Public commands are documented, and the docs build (a command nobody can find is a bug)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from civickit.cli import cli

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"


def _docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))


def _commands(group: click.Group, prefix: str) -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        names.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix} {name}"))
    return names


@pytest.mark.parametrize("command", _commands(cli, "civickit"))
def test_every_cli_command_is_in_the_docs(command):
    assert command in _docs_text(), f"`{command}` is not documented anywhere under docs/"


def test_readme_shows_both_commands_and_the_makefile_has_them():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_links_point_at_files_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(((?:docs/)[^)#]+)\)", readme):
        assert (ROOT / target).exists(), f"README links to missing {target}"


def test_the_docs_site_builds_strictly(tmp_path):
    """Broken links or pages missing from the nav fail `make docs`; catch them here too."""
    import os
    import subprocess
    import sys

    mkdocs = Path(sys.executable).with_name("mkdocs")
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "tutorial" / "index.html").exists()


def test_no_file_cites_paths_that_users_do_not_have():
    """The repository stands alone: sources are cited as their public originals."""
    import subprocess

    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # (written so that this file does not match itself)
    pattern = re.compile(
        "|".join([r"\.\./shared", "/work" + "/shared", r"\bDESIGN\.md", r"\bPERFORMANCE\.md"])
    )
    cited = []
    for name in files:
        path = ROOT / name
        if path.suffix in {".png", ".ico", ".woff2", ".xlsx", ".zip", ".db"} or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        cited += [f"{name}: {m.group(0)}" for m in pattern.finditer(text)]
    assert cited == []
