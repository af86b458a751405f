"""Input that could exhaust memory or crash: a 30 MB line in `run --input`, a lone surrogate in a
query or a request, a huge model name; each is one line (exit 2, or an HTTP 400/404) in bounded
time and memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import httpx

from archon_cli.errors import UserError
from archon_cli.inputs import queries_from_jsonl
from archon_cli.records import TooDeep, json_depth, loads_json
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import ROOT, assert_user_error, run_cli
from tests.reliability import cli_env, write_architecture


def _big_line_file(path: Path, megabytes: int = 30) -> Path:
    path.write_text(
        json.dumps({"id": "small", "prompt": "What is 1 + 1?"})
        + "\n"
        + json.dumps({"id": "big", "prompt": "x" * (megabytes * 1_000_000)})
        + "\n",
        encoding="utf-8",
    )
    return path


def test_a_30_mb_line_is_refused_at_once_in_little_memory(tmp_path: Path) -> None:
    big = _big_line_file(tmp_path / "big.jsonl")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        queries_from_jsonl(big)
    except UserError as exc:
        message = str(exc)
    else:
        raise AssertionError("a 30 MB line was accepted")
    took = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "line 2" in message and "bytes" in message, message
    assert took < 1.0 and peak < 100_000_000, (took, peak)

    # The command: one line, exit 2, in under 300 MB (it took 3.6 GB and 8-10 s).
    arch = write_architecture(tmp_path / "arch.yaml", "http://127.0.0.1:9/v1")
    probe = (
        "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(p.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.stderr.write(p.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "-m", "archon_cli", "run", str(arch), "--input", str(big),
         "--output", str(tmp_path / "answers.jsonl"), "--no-cache"],
        cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    code, peak_kb = (int(v) for v in proc.stdout.split())
    assert code == 2 and "Traceback" not in proc.stderr and "line 2" in proc.stderr, proc.stderr
    assert peak_kb < 300_000, f"peak {peak_kb / 1000:.0f} MB"


def test_json_depth_is_linear_and_stops_early() -> None:
    text = '{"a": "' + "[" * 3_000_000 + '"}'  # brackets inside a string do not nest
    tracemalloc.start()
    started = time.perf_counter()
    assert json_depth(text) == 1
    took = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert took < 5.0 and peak < 20_000_000, (took, peak)
    assert json_depth('[[{"x": "\\"]]]"}], []]') == 3
    try:
        loads_json("[" * 10_000_000)
    except TooDeep:
        pass
    else:
        raise AssertionError("too deep was parsed")


def test_lone_surrogates_are_one_line_errors(tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"id": "a", "prompt": "bad \\ud800 text"}\n', encoding="utf-8")
    arch = write_architecture(tmp_path / "arch.yaml", "http://127.0.0.1:9/v1")
    result = run_cli("run", str(arch), "--input", str(queries), "--output", str(tmp_path / "out.jsonl"), "--no-cache")
    assert_user_error(result, "surrogate")


def test_serve_refuses_surrogates_and_truncates_long_model_names(tmp_path: Path, capfd) -> None:  # type: ignore[no-untyped-def]
    from tests.server import one_call, start_server

    log = tmp_path / "log.jsonl"
    with FaultServer(FaultPlan(seed=1)) as provider, start_server([one_call(provider.api_base)], log=log) as server:
        body = b'{"model": "one-call", "messages": [{"role": "user", "content": "hi \\ud800"}]}'
        reply = httpx.post(f"{server.url}/v1/chat/completions", content=body, timeout=30)
        assert reply.status_code == 400 and "surrogate" in reply.json()["error"]["message"], reply.text
        name = "m" * 7_000_000
        reply = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"model": name, "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
        assert reply.status_code == 404 and len(reply.text) < 2_000, len(reply.text)
    assert log.stat().st_size < 10_000
    assert "Traceback" not in capfd.readouterr().err


def test_input_lines_of_surrogates_do_not_crash_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "messages": [{"role": "user", "content": "\\udfff"}]}\n', encoding="utf-8")
    try:
        queries_from_jsonl(path)
    except UserError as exc:
        assert "surrogate" in str(exc) and "line 1" in str(exc)
    else:
        raise AssertionError("a lone surrogate was accepted")

