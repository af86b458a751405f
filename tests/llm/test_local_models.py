"""Embedded models: the pool (one worker for every model, settings from the command line), the
completion prompt of base models; and, on the embedded model, generator (4 samples) -> ranker
(top 2) -> fuser in-process and through llama-cpp-python's OpenAI-compatible server over HTTP: the
calls counted equal the static count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archon_cli.config import load_architecture, parse_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import EmbeddedModelCrashed, UserError
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.local_models import LocalModelPool, LocalSettings, completion_prompt, crash_message, local_name
from archon_cli.llm.types import CompletionRequest
from archon_cli.state import Query
from tests.conftest import ROOT, free_port, run_cli, short_generator_file, smollm2_path, wait_for_llama_server

ARCH = ROOT / "architectures" / "gen-ranker-fuser.yaml"
QUERY = Query.from_prompt("Name one colour of the rainbow.")


def test_every_model_of_a_pool_shares_one_worker_and_its_settings(tmp_path: Path) -> None:
    settings = LocalSettings(threads=3, model_dir=tmp_path)
    pool = LocalModelPool(settings)
    smol, gemma = pool.get("smollm2-135m"), pool.get("gemma-3-270m")
    assert pool.get("smollm2-135m") is smol
    assert smol._pool is gemma._pool and pool.executor._max_workers == 1
    assert smol.settings == gemma.settings == settings
    with pytest.raises(UserError, match="unknown local model 'local/gpt-5'"):
        pool.get("gpt-5")


def test_local_names_and_the_completion_prompt() -> None:
    assert local_name("local/smollm2-135m") == "smollm2-135m" and local_name("openai/gpt-4o") is None
    prompt = completion_prompt([{"role": "system", "content": "Be brief."}, {"role": "user", "content": " 2 + 2? "}])
    assert prompt == "Be brief.\nQ: 2 + 2?\nA:"


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_llama_server(base, proc)
        yield f"{base}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.local_model
async def test_in_process(local_model_available: None) -> None:
    arch, _ = load_architecture(ARCH)
    runner = ArchitectureRunner(arch, LLMGateway())
    runner.check_routes()
    result = await runner.run(QUERY)
    assert result.ok and result.answer.strip()
    assert result.stats.calls == arch.static_calls() == 6
    assert [layer.calls for layer in result.layers] == [4, 1, 1]
    assert result.stats.prompt_tokens > 0 and result.stats.completion_tokens > 0


@pytest.mark.local_model
async def test_over_http_through_litellm(local_model_available: None, llama_server: str) -> None:
    arch, _ = load_architecture(ARCH)
    data = arch.model_dump()
    for layer in data["layers"]:
        for component in layer:
            component["model"] = "openai/smollm2-135m"
            component["api_base"] = llama_server
    http_arch, _ = parse_architecture(data)
    gateway = LLMGateway()
    runner = ArchitectureRunner(http_arch, gateway)
    runner.check_routes()  # no key needed for a self-hosted server
    result = await runner.run(QUERY)
    assert result.ok and result.answer.strip()
    # llama_cpp.server takes `n` but answers one choice: the 4 samples went as one n-request, the 3
    # missing ones were resent (counted as retries) and the route now sends one request per sample.
    assert result.stats.calls - result.stats.retries == http_arch.static_calls() == 6
    assert gateway.stats.retries <= 3 and gateway.stats.requests == 2 + 1 + gateway.stats.retries
    assert result.stats.completion_tokens > 0


def test_a_crash_message_names_the_signal_what_is_kept_and_what_to_try() -> None:
    message = crash_message("local/smollm2-135m", -signal.SIGSEGV)
    assert message.startswith("the embedded model local/smollm2-135m crashed (llama.cpp died of SIGSEGV, a segmentation fault)")
    assert "finished results are saved" in message and "make rebuild-llama" in message and "\n" not in message
    assert "died of SIGILL, an illegal instruction" in crash_message("m", -signal.SIGILL)
    assert "exited with status 3" in crash_message("m", 3)


@pytest.mark.local_model
def test_a_worker_that_dies_of_a_signal_is_reported_as_a_crash_and_the_next_call_starts_a_new_one(
    local_model_available: None,
) -> None:
    pool = LocalModelPool(LocalSettings(threads=2))
    smol = pool.get("smollm2-135m")
    request = CompletionRequest(model="local/smollm2-135m", messages=({"role": "user", "content": "Hi"},), max_tokens=4)
    assert smol.complete_sync(request).completion_tokens >= 1
    pid = pool.worker.pid
    assert pid is not None and pid != os.getpid()
    os.kill(pid, signal.SIGSEGV)  # what a llama.cpp build that does not suit the CPU does to itself
    with pytest.raises(EmbeddedModelCrashed, match=r"died of SIGSEGV, a segmentation fault"):
        smol.complete_sync(request)
    assert smol.complete_sync(request).completion_tokens >= 1  # a fresh worker
    assert pool.worker.pid not in (None, pid)
    pool.close()


def _worker_of(parent: int) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"archon_cli.llm.local_worker" in cmdline:
            return int(entry)
    return None


@pytest.mark.local_model
def test_a_crash_during_eval_is_one_line_keeps_finished_questions_and_the_rerun_resumes(
    local_model_available: None, tmp_path: Path
) -> None:
    arch = short_generator_file(tmp_path, max_tokens=8)
    args = ["eval", str(arch), "-b", "tiny-arith", "--split", "all", "--limit", "12", "--concurrency", "1",
            "--results-dir", str(tmp_path / "results"), "--run-id", "crash", "--no-cache"]  # fmt: skip
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "archon_cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    log = tmp_path / "results" / "crash" / "questions.jsonl"
    deadline = time.monotonic() + 240
    while not (log.exists() and len(log.read_text().splitlines()) >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, "eval ended before the crash"
        time.sleep(0.05)
    worker = _worker_of(proc.pid)
    assert worker is not None
    os.kill(worker, signal.SIGSEGV)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: the embedded model local/smollm2-135m crashed (llama.cpp died of SIGSEGV")
    assert "Traceback" not in stderr and "Segmentation fault" not in stderr
    kept = [json.loads(line) for line in log.read_text().splitlines()]
    assert 2 <= len(kept) < 12 and all(r["error"] is None for r in kept)
    again = run_cli(*args, "--json")
    assert again.code == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["questions"] == 12 and summary["errors"] == 0 and summary["resumed"] == len(kept)
