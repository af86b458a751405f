"""`archon serve` as a user starts it: a subprocess that prints its URL, answers the openai client,
stops cleanly on SIGTERM (exit 0, requests in flight answered), and refuses bad set-ups before it
listens with one line and exit code 2."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from archon_cli.commands.serve import parse_spec
from archon_cli.commands.settings import secret_from_env
from archon_cli.errors import UserError
from archon_cli.server.request_log import read_request_log
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import ROOT, assert_user_error, run_cli
from tests.server import wait_in_flight

KEY = "sk-serve-subprocess-key-0123456789"


def loop_yaml(folder: Path, api_base: str, name: str = "loop", samples: int = 1) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nlayers:\n  - - type: generator\n      model: openai/fake-model\n"
        f"      api_base: {api_base}\n      samples: {samples}\n      max_tokens: 16\n",
        encoding="utf-8",
    )
    return path


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`archon serve ARGS --port 0` in a subprocess; yields it and the URL it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "archon_cli", "serve", *args, "--port", "0"],
        cwd=ROOT,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "200", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            proc.kill()
            raise AssertionError(f"no URL printed: {url!r} {proc.stderr.read() if proc.stderr else ''}")
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_prints_url_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    with FaultServer(FaultPlan(wrong_rate=0.0, error_500=0.3)) as provider:
        arch = loop_yaml(tmp_path, provider.api_base)
        args = (f"answers={arch}", "--api-key-env", "SERVE_TEST_SECRET", "--request-log", str(log), "--no-cache")
        with serving(*args, env={"SERVE_TEST_SECRET": KEY}) as (proc, url):
            client = openai.OpenAI(base_url=url + "/v1", api_key=KEY)
            assert [m.id for m in client.models.list().data] == ["answers"]
            replies = [
                client.chat.completions.create(
                    model="answers", messages=[{"role": "user", "content": f"What is {i} + 1?"}]
                )
                for i in range(5)
            ]
            with pytest.raises(openai.AuthenticationError):
                openai.OpenAI(base_url=url + "/v1", api_key="wrong").models.list()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
    assert [r.choices[0].message.content for r in replies] == [str(i + 1) for i in range(5)]
    assert proc.returncode == 0, err
    assert "Traceback" not in err and KEY not in err + out
    assert "serving answers (1 calls per request)" in err and "stopped: 5 requests (5 answered, 0 not)" in err
    records = read_request_log(log)
    assert [r["status"] for r in records] == [200] * 5  # 401s on /v1/models are not chat requests
    assert sum(r["calls"] for r in records) == provider.stats()["requests"]
    assert KEY not in log.read_text(encoding="utf-8")


def test_sigterm_waits_for_requests_in_flight(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(latency=3.0, wrong_rate=0.0)) as provider:
        arch = loop_yaml(tmp_path, provider.api_base)
        with serving(str(arch), "--no-cache", "--request-log", str(tmp_path / "log.jsonl"), "--grace", "20") as (
            proc,
            url,
        ):
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                body = {"model": "loop", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}
                pending = [
                    pool.submit(httpx.post, url + "/v1/chat/completions", json=body, timeout=30) for _ in range(3)
                ]
                wait_in_flight(url, 3)
                proc.send_signal(signal.SIGTERM)
                replies = [p.result() for p in pending]
            _, err = proc.communicate(timeout=30)
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert all(r.json()["choices"][0]["message"]["content"] == "4" for r in replies)
    assert proc.returncode == 0 and "stopped: 3 requests (3 answered, 0 not)" in err


def test_sigterm_answers_503_after_grace(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(latency=20.0)) as provider:
        arch = loop_yaml(tmp_path, provider.api_base)
        with serving(str(arch), "--no-cache", "--request-log", str(tmp_path / "log.jsonl"), "--grace", "0.5") as (
            proc,
            url,
        ):
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                body = {"model": "loop", "messages": [{"role": "user", "content": "hi"}]}
                pending = pool.submit(httpx.post, url + "/v1/chat/completions", json=body, timeout=30)
                wait_in_flight(url, 1)
                started = time.perf_counter()
                proc.send_signal(signal.SIGTERM)
                reply = pending.result()
            proc.communicate(timeout=30)
            stopped = time.perf_counter() - started
    assert reply.status_code == 503 and reply.json()["error"]["code"] == "shutting_down"
    assert proc.returncode == 0 and stopped < 10


# -- refused before listening: one line, exit 2 -----------------------------------------------------


def test_budget_below_an_architectures_cost_is_refused() -> None:
    assert_user_error(
        run_cli("serve", "architectures/single-call.yaml", "architectures/best-of-n-ranker.yaml", "--budget", "3"),
        "below the cost of 'best-of-n-ranker': 5 calls per query",
    )


def test_bad_setups_are_one_line_exit_2(tmp_path: Path) -> None:
    arch = "architectures/single-call.yaml"
    assert_user_error(run_cli("serve", arch, "--api-key-env", "NO_SUCH_VARIABLE_HERE"), "NO_SUCH_VARIABLE_HERE")
    assert_user_error(run_cli("serve", arch, arch), "two architectures are named 'single-call'")
    assert_user_error(
        run_cli("serve", "=architectures/single-call.yaml"), "expected an architecture file, or NAME=PATH"
    )
    assert_user_error(run_cli("serve", str(tmp_path / "missing.yaml")), "not found")
    assert_user_error(run_cli("serve", arch, "--request-log", str(tmp_path)), "cannot write the request log")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        assert_user_error(run_cli("serve", arch, "--port", port), f"cannot listen on 127.0.0.1:{port}")
    assert_user_error(run_cli("serve", arch, "--host", "no.such.host.invalid", "--port", "0"), "cannot listen")


def test_the_key_is_read_from_the_named_variable() -> None:
    assert secret_from_env("K", "--api-key-env", {"K": " abc "}) == "abc"
    for environ in ({}, {"K": "  "}):
        with pytest.raises(UserError, match="--api-key-env K: the variable is not set or empty"):
            secret_from_env("K", "--api-key-env", environ)
    with pytest.raises(UserError, match="give the name of an environment variable"):
        secret_from_env("", "--api-key-env", {})


def test_specs_name_or_path(tmp_path: Path) -> None:
    assert parse_spec("a/b.yaml") == (None, Path("a/b.yaml"))
    assert parse_spec("best=results/s/best.yaml") == ("best", Path("results/s/best.yaml"))
    odd = tmp_path / "x=y.yaml"
    odd.write_text("", encoding="utf-8")
    assert parse_spec(str(odd)) == (None, odd)  # an existing file whose name holds '='
