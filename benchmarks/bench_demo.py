"""From a fresh clone to both demo apps answering: time and virtualenv size.

Clones the repository's HEAD into a temporary folder, runs `make demo` there on
free ports, and times it until both apps answer /healthz; then it measures the
virtualenv and stops the demo with SIGTERM. The peer, in the same run, is the
floor for any Flask demo: a new virtualenv with Flask alone, installed the same
way, serving one hello-world page. Both use whatever pip and npm caches the
machine already holds, so the figures are a warm-cache time; on venue Wi-Fi add
the downloads (the wheels' total size is printed too).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks._common import ratio, table

ROOT = Path(__file__).parent.parent
HELLO = "from flask import Flask\napp = Flask(__name__)\napp.get('/healthz')(lambda: 'ok')\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answering(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def _wait(urls: list[str], proc: subprocess.Popen[bytes], started: float) -> float:
    deadline = started + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the command exited with {proc.returncode} before serving")
        if all(_answering(u) for u in urls):
            return time.monotonic() - started
        time.sleep(0.25)
    raise RuntimeError("nothing answered within 600 s")


def _size_mb(folder: Path) -> float:
    total = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
    return total / 1e6


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def civickit_demo(work: Path) -> tuple[float, float]:
    clone = work / "civickit"
    started = time.monotonic()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    leeds, street = _free_port(), _free_port()
    env = {**os.environ, "LEEDS_BINS_PORT": str(leeds), "STREETWISE_PORT": str(street)}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.Popen(
        ["make", "demo"],
        cwd=clone,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        urls = [f"http://127.0.0.1:{leeds}/healthz", f"http://127.0.0.1:{street}/healthz"]
        seconds = _wait(urls, proc, started)
    finally:
        _stop(proc)
    return seconds, _size_mb(clone / ".venv")


def flask_hello(work: Path) -> tuple[float, float]:
    app = work / "hello"
    app.mkdir()
    (app / "hello.py").write_text(HELLO)
    port = _free_port()
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(app / ".venv")], check=True)
    pip = [str(app / ".venv" / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "--no-compile", "Flask"], check=True)
    proc = subprocess.Popen(
        [str(app / ".venv" / "bin" / "flask"), "--app", "hello", "run", "--port", str(port)],
        cwd=app,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        seconds = _wait([f"http://127.0.0.1:{port}/healthz"], proc, started)
    finally:
        _stop(proc)
    return seconds, _size_mb(app / ".venv")


def wheels_mb(work: Path) -> float:
    """What `make demo` downloads from PyPI on a cold cache: the wheels of `.[apps]`."""
    folder = work / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "-d", str(folder), f"{ROOT}[apps]"],
        check=True,
        capture_output=True,
    )
    return _size_mb(folder)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="civickit-bench-demo-"))
    try:
        demo_s, demo_mb = civickit_demo(work)
        hello_s, hello_mb = flask_hello(work)
        wheels = wheels_mb(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("fresh clone -> `make demo` serving both apps, against a Flask-only hello world")
    table(
        ["what", "seconds to first answer", "virtualenv MB", "time ratio"],
        [
            ["civickit make demo (clone, venv, install, assets, data)", demo_s, demo_mb, ratio(demo_s, hello_s)],
            ["peer: venv + pip install Flask + hello world", hello_s, hello_mb, "1.00x"],
        ],
    )  # fmt: skip
    print(f"wheels `make demo` downloads on a cold pip cache: {wheels:.1f} MB")
