"""Embedded models: the pool (one worker for every model, settings from the command line), the
completion prompt of base models; and, on the embedded model, generator (4 samples) -> ranker
(top 2) -> fuser in-process and through llama-cpp-python's OpenAI-compatible server over HTTP: the
calls counted equal the static count."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from archon_cli.config import load_architecture, parse_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import UserError
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.local_models import LocalModelPool, LocalSettings, completion_prompt, local_name
from archon_cli.state import Query
from tests.conftest import ROOT, smollm2_path

ARCH = ROOT / "architectures" / "gen-ranker-fuser.yaml"
QUERY = Query.from_prompt("Name one colour of the rainbow.")


def test_every_model_of_a_pool_shares_one_worker_and_its_settings(tmp_path: Path) -> None:
    settings = LocalSettings(threads=3, model_dir=tmp_path)
    pool = LocalModelPool(settings)
    smol, gemma = pool.get("smollm2-135m"), pool.get("gemma-3-270m")
    assert pool.get("smollm2-135m") is smol
    assert smol._executor is gemma._executor and smol._executor._max_workers == 1
    assert smol.settings == gemma.settings == settings
    with pytest.raises(UserError, match="unknown local model 'local/gpt-5'"):
        pool.get("gpt-5")


def test_local_names_and_the_completion_prompt() -> None:
    assert local_name("local/smollm2-135m") == "smollm2-135m" and local_name("openai/gpt-4o") is None
    prompt = completion_prompt([{"role": "system", "content": "Be brief."}, {"role": "user", "content": " 2 + 2? "}])
    assert prompt == "Be brief.\nQ: 2 + 2?\nA:"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{base}/v1/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start (exit code {proc.poll()})")
            time.sleep(0.5)
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
    assert result.stats.calls == http_arch.static_calls() == 6
    assert gateway.stats.calls == 6 and gateway.stats.retries == 0
    assert result.stats.completion_tokens > 0
