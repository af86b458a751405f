"""Shared helpers for the benchmark scripts: a loopback fault server in a child process, machine facts."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")


@contextmanager
def fault_server(latency: float, extra: Sequence[str] = ()) -> Iterator[str]:
    """``python -m archon_cli.testing.fault_server`` in a child process; yields its ``api_base``.

    A child process, not a thread: the server's work must not share the client's GIL, or the
    figure would measure the server too."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "archon_cli.testing.fault_server", "--port", "0", "--latency", str(latency), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"fault server did not start (printed {url!r})")
        yield url + "/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_stats(api_base: str) -> dict[str, Any]:
    """The fault server's counters (``/stats``)."""
    import json
    import urllib.request

    with urllib.request.urlopen(api_base.removesuffix("/v1") + "/stats", timeout=10) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


def load_average() -> float:
    return os.getloadavg()[0]


def wait_for_quiet(limit: float = 3.0, patience: float = 0.0) -> float:
    """Wait up to ``patience`` seconds for the 1-minute load average to fall below ``limit``; returns it."""
    deadline = time.monotonic() + patience
    while load_average() > limit and time.monotonic() < deadline:
        time.sleep(5)
    return load_average()


def machine() -> dict[str, Any]:
    """CPU model, cores, load average, Python, date: what RESULTS.md quotes."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "python": platform.python_version(),
    }
