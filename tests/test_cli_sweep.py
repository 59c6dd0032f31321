"""Every command of every command line: -h and --help, documented, its documented examples run,
and no arguments at all, however random, bring a traceback to the user.

After sqlite-utils' tests/test_docs.py. A command line is one entry of ``TOOLS``: ``civickit``
leeds_bins' ``bins`` and streetwise's ``sw``.

The examples run offline: the network is cut (``responses`` with nothing registered), the
files the docs name are the bundled ones, and the postcode directory is the bundled sample.
An example that needs the network must then fail with the one-line "could not reach host"
message; every other example must succeed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import responses
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import civickit.cli
from civickit.http import HttpClient

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_DIRECTORY = ROOT / "civickit" / "data" / "postcodes_sample.db"


@dataclass(frozen=True)
class Tool:
    """One command line: how the docs write it, its click group, how to run it in a test."""

    name: str
    #: how an example in the docs starts (a regex, matched at the start of a line)
    example: str
    group: Callable[[], click.Group]
    #: (workdir) -> invoke(args) -> Result
    runner: Callable[[Path], Callable[[list[str]], Result]]
    #: commands never run by the sweep (they run until stopped)
    long_running: tuple[str, ...] = ()
    #: an error is one line (civickit); an app's import prints its report first
    one_line_errors: bool = True


def _civickit_runner(workdir: Path) -> Callable[[list[str]], Result]:
    runner = CliRunner()
    return lambda args: runner.invoke(civickit.cli.cli, args, catch_exceptions=True)


def _bins_group() -> click.Group:
    from examples.leeds_bins.cli import bins

    return bins


def _bins_runner(workdir: Path) -> Callable[[list[str]], Result]:
    from civickit.sms import MemorySender
    from tests.examples.helpers import load_leeds_sample, make_leeds_app

    app = make_leeds_app(f"sqlite:///{workdir / 'leeds.sqlite3'}", workdir, MemorySender())
    load_leeds_sample(app)
    runner = app.test_cli_runner()
    return lambda args: runner.invoke(args=["bins", *args], catch_exceptions=True)


def _sw_group() -> click.Group:
    from examples.streetwise.cli import sw

    return sw


def _sw_runner(workdir: Path) -> Callable[[list[str]], Result]:
    from tests.examples.helpers import make_streetwise_app

    app = make_streetwise_app(f"sqlite:///{workdir / 'streetwise.sqlite3'}")
    runner = app.test_cli_runner()
    return lambda args: runner.invoke(args=["sw", *args], catch_exceptions=True)


TOOLS = {
    "civickit": Tool(
        "civickit", r"(?:\$ )?(?:\.venv/bin/)?civickit ", lambda: civickit.cli.cli, _civickit_runner
    ),
    "bins": Tool(
        "bins",
        r"(?:\$ )?(?:\.venv/bin/)?flask --app examples\.leeds_bins bins ",
        _bins_group,
        _bins_runner,
        long_running=("scheduler",),
        one_line_errors=False,
    ),
    "sw": Tool(
        "sw",
        r"(?:\$ )?(?:\.venv/bin/)?flask --app examples\.streetwise sw ",
        lambda: _sw_group(),
        lambda workdir: _sw_runner(workdir),
        one_line_errors=False,
    ),
}


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command under ``group``, groups included, as the words that name it."""
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


def all_commands() -> list[tuple[str, tuple[str, ...]]]:
    return [(tool, ()) for tool in TOOLS] + [
        (tool, path) for tool in TOOLS for path in command_paths(TOOLS[tool].group())
    ]


def docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.rglob("*.md")))


def documented_examples(tool: Tool) -> list[str]:
    """Lines of the docs' code blocks that run ``tool``, without comments, pipes or redirects."""
    examples = []
    for page in sorted(DOCS.rglob("*.md")):
        in_code = False
        # a shell line ending in a backslash continues on the next
        text = re.sub(r"\\\n\s*", " ", page.read_text(encoding="utf-8"))
        for line in text.splitlines():
            if line.lstrip().startswith("```"):
                in_code = not in_code
                continue
            if in_code and re.match(tool.example, line.strip()):
                command = re.split(r"\s+#\s|\s[|>]\s?", line.strip())[0].strip()
                examples.append(re.sub(r"^\$ ", "", command))
    return sorted(set(examples))


# -- the world the examples run in ------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder holding the files the docs name (bundled copies), as the current directory;
    the network cut; the bundled postcode directory; the user's folders inside it."""
    bins = FIXTURES / "bins"
    shutil.copy(bins / "dm_premises_sample.csv", tmp_path / "dm_premises.csv")
    shutil.copy(bins / "dm_jobs_sample.csv", tmp_path / "dm_jobs.csv")
    hospitals = ROOT / "examples" / "streetwise" / "data" / "nhs_hospital_sample.csv"
    shutil.copy(hospitals, tmp_path / "Hospital.csv")
    sample = ROOT / "civickit" / "data"  # the postcode directory's own rows, real ONSPD rows
    shutil.copy(sample / "postcodes_sample.csv", tmp_path / "rows.csv")
    shutil.copy(sample / "postcodes_sample_names.csv", tmp_path / "names.csv")
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")  # not ours to write
    for name in ("civickit", "examples"):  # paths written from the clone's root
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))
    monkeypatch.setenv("CIVICKIT_POSTCODES", str(SAMPLE_DIRECTORY))
    monkeypatch.delenv("CIVICKIT_CACHE", raising=False)
    # the real client without retry backoff, so a cut network fails at once
    monkeypatch.setattr(
        civickit.cli,
        "http_client",
        lambda ctx: ctx.ensure_object(dict).setdefault(
            "http", HttpClient(retries=0, timeout=(2, 2))
        ),
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False):  # nothing registered
        yield tmp_path


def assert_no_traceback(result: Result, args: list[str]) -> None:
    shown = f"args={args!r}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{shown}\n{result.exception!r}"
    )
    assert "Traceback" not in result.output, shown


# -- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize(("tool", "path"), all_commands(), ids=lambda v: " ".join(v) or "-")
def test_every_command_answers_help_and_h_alike(tool, path, workdir):
    run = TOOLS[tool].runner(workdir)

    long, short = run([*path, "--help"]), run([*path, "-h"])

    assert long.exit_code == 0, long.output
    assert long.output.startswith("Usage:")
    assert short.exit_code == 0 and short.output == long.output


@pytest.mark.parametrize(("tool", "path"), all_commands(), ids=lambda v: " ".join(v) or "-")
def test_every_command_is_documented_with_an_example(tool, path):
    if not path:
        pytest.skip("the command line itself: its commands are checked one by one")
    words = " ".join(path)
    assert f"{tool} {words}" in docs_text(), f"`{tool} {words}` is not in docs/"
    examples = documented_examples(TOOLS[tool])
    assert any(re.search(rf"\s{re.escape(words)}(\s|$)", example) for example in examples), (
        f"no example of `{tool} {words}` in a code block under docs/"
    )


# a documented example may need the network; offline it must fail in this one line
OFFLINE = re.compile(r"could not (?:reach host \S+|be reached)[^\n]* \(check your connection")
# names in the docs that stand for the reader's own values
PLACEHOLDER = re.compile(r"\b(?:[A-Z][A-Z0-9_]*[-_][A-Z0-9_-]+|FILE|KIND|NAME|PC)\b|\.\.\.")
# published files the docs name that are too big to bundle (the postcode tests build from
# rows made in their layouts instead)
NOT_BUNDLED = ("codepo_gb.zip",)


@pytest.mark.parametrize(
    ("tool", "example"),
    [(tool, example) for tool in TOOLS for example in documented_examples(TOOLS[tool])],
)
def test_every_documented_example_runs_offline_or_says_it_needs_the_network(tool, example, workdir):
    args = shlex.split(re.sub(TOOLS[tool].example, "", example + " ", count=1))
    if PLACEHOLDER.search(example) and not os.path.exists(args[-1]):
        pytest.skip(f"a template, not an example: {example}")
    if any(name in args for name in NOT_BUNDLED):
        pytest.skip(f"names a published file too big to bundle: {example}")
    if args and args[0] in TOOLS[tool].long_running:
        pytest.skip(f"{args[0]} runs until stopped (its tests start and stop it)")

    result = TOOLS[tool].runner(workdir)(args)

    assert_no_traceback(result, args)
    if result.exit_code != 0:
        lines = result.output.strip().splitlines()
        assert OFFLINE.search(result.output), f"{example}\n{result.output}"
        assert lines[-1].startswith("Error: "), result.output
        if TOOLS[tool].one_line_errors:  # (what was found still goes to stdout)
            errors = result.stderr.strip().splitlines()
            assert errors and all(line.startswith("Error: ") for line in errors), errors


# -- random arguments ---------------------------------------------------------------------

# values a command may be given, plausible ones first: postcodes, files, portals, months...
VALUES = [
    "LS1 3EX", "ls13ex", "BR8 7RE", "ZZ99 9ZZ", "LS1 1UR", "not a postcode", "", " ", "é",
    "\x00", "-", "dm_jobs.csv", "dm_premises.csv", "Hospital.csv", "rows.csv", "missing.csv",
    ".", "passwd", "datamillnorth", "camden", "https://example.org", "http://[::1",
    "file:///etc/passwd", "redis://127.0.0.1:1", "~/x", "2025-06", "2025-13", "junk",
    "burglary", "jobs", "premises", "hospitals", "stats19", "leeds-rtc", "cp1252", "klingon",
    "0", "-1", "1", "99999999999999999999", "nan", "a=b", "=", "x.db", "ckan", "new-app",
]  # fmt: skip


@st.composite
def invocation(draw: st.DrawFn, tool: str) -> list[str]:
    """A command of ``tool``, then up to six words: its own options, values, or any text."""
    long_running = {(name,) for name in TOOLS[tool].long_running}
    paths = [p for t, p in all_commands() if t == tool and p[:1] not in long_running]
    path = draw(st.sampled_from(paths))
    options = sorted(
        {o for param in _command(tool, path).params for o in getattr(param, "opts", [])}
    )
    # any text, but never a path outside the test's folder (commands write where told)
    text = st.text(max_size=12).filter(lambda t: not t.startswith(("/", "~")) and ".." not in t)
    word = st.one_of(st.sampled_from(options or ["--help"]), st.sampled_from(VALUES), text)
    return [*path, *draw(st.lists(word, max_size=6))]


def _command(tool: str, path: tuple[str, ...]) -> Any:
    command: Any = TOOLS[tool].group()
    for word in path:
        command = command.commands[word]
    return command


@pytest.mark.slow
@pytest.mark.parametrize("tool", list(TOOLS))
def test_random_arguments_never_bring_a_traceback(tool, workdir):
    run = TOOLS[tool].runner(workdir)

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,  # the same arguments on every run: no test that passes sometimes
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(invocation(tool))
    def check(args: list[str]) -> None:
        assert_no_traceback(run(args), args)

    check()
    assert (workdir / "passwd").read_text() == "root:x:0:0:root:/root:/bin/bash\n"
