"""Shared fixtures: the CLI as a subprocess, the shared data directory, the embedded model path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The benchmark data: ARCHON_DATA_DIR where set (the Makefile sets it), else ../shared/data beside the checkout.
SHARED_DATA = Path(os.environ.get("ARCHON_DATA_DIR") or ROOT.parent / "shared" / "data").resolve()

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
    """Run `python -m archon_cli ARGS` in a subprocess, the way a user or a CI script would."""
    full_env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "archon_cli", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def assert_user_error(result: CliResult, fragment: str) -> None:
    """A user error as promised: exit 2, one line on stderr starting 'error: ' and naming the problem, no traceback."""
    assert result.code == 2, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    return run_cli


def short_generator_file(folder: Path, max_tokens: int) -> Path:
    """An architecture of one greedy SmolLM2 call capped at ``max_tokens``: the cheapest way to take a
    benchmark end to end on the embedded model (these tests check the path, not the score)."""
    path = folder / "short.yaml"
    path.write_text(
        "name: short\nlayers:\n  - - type: generator\n      model: local/smollm2-135m\n"
        f"      temperature: 0.0\n      max_tokens: {max_tokens}\n",
        encoding="utf-8",
    )
    return path


def free_port() -> int:
    """A loopback port nothing listens on now (bound, then closed again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def smollm2_path() -> Path:
    from archon_cli.llm.local_models import LOCAL_MODELS, LocalSettings

    return LOCAL_MODELS["smollm2-135m"].locate(LocalSettings())


def wait_for_llama_server(base: str, proc: subprocess.Popen[bytes], log: Path | None = None) -> None:
    """Until ``python -m llama_cpp.server`` answers ``GET /v1/models`` at ``base`` (fails the test if
    it exits or takes over 180 s, with the tail of its ``log`` when there is one)."""
    import time
    import urllib.request

    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{base}/v1/models", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = f": {log.read_text()[-300:]}" if log is not None else ""
            pytest.fail(f"llama_cpp.server did not start (exit code {proc.poll()}){tail}")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def local_model_available() -> None:
    try:
        import llama_cpp  # noqa: F401

        smollm2_path()
    except Exception as exc:  # the embedded model is part of `make install`; say so clearly
        pytest.fail(f"embedded model not installed ({exc}); run `make install`")


@pytest.fixture
def redis_url(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The URL of a fresh redis-server on a loopback port (tests/redis_server.py)."""
    from tests.redis_server import redis_server

    with redis_server(tmp_path / "redis") as (url, _proc):
        yield url
