"""The router over two real replicas: two ``llama_cpp.server`` processes serving the same SmolLM2
GGUF on loopback ports. Calls spread over both; one killed mid-run, the run finishes on the other
with every call answered. (Run under the model lock: it loads the embedded model twice.)"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from archon_cli.llm.accountant import CallStats
from archon_cli.llm.gateway import LLMGateway, RetryPolicy
from archon_cli.llm.router import RouterBackend
from archon_cli.llm.types import CompletionRequest
from tests.conftest import free_port, smollm2_path, wait_for_llama_server


@contextmanager
def replica(log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "1024", "--n_threads", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_llama_server(base, proc, log)
        yield f"{base}/v1", proc
    finally:
        proc.kill()
        proc.wait()


def _served(log: Path) -> int:
    """Chat completions the replica answered (uvicorn's access log)."""
    return log.read_text(errors="replace").count('"POST /v1/chat/completions HTTP/1.1" 200')


def _request(i: int) -> CompletionRequest:
    return CompletionRequest(
        model="smol",
        messages=({"role": "user", "content": f"What is {i % 9 + 1} + {i % 7 + 1}? Answer with just the number."},),
        max_tokens=4,
    )


async def _ask(
    gateway: LLMGateway, first: int, n: int, after: int = -1, kill: subprocess.Popen[bytes] | None = None
) -> list[str]:
    sem, done = asyncio.Semaphore(2), 0

    async def one(i: int) -> str:
        nonlocal done
        async with sem:
            reply = await gateway.complete(_request(i), CallStats())
        done += 1
        if kill is not None and done == after:
            kill.kill()
        return reply.text

    return await asyncio.gather(*(one(i) for i in range(first, first + n)))


@pytest.mark.local_model
def test_two_llama_servers_share_the_calls_and_one_can_die(tmp_path: Path, local_model_available: None) -> None:
    with ExitStack() as stack:
        (base_a, _proc_a) = stack.enter_context(replica(tmp_path / "a.log"))
        (base_b, proc_b) = stack.enter_context(replica(tmp_path / "b.log"))
        config = {
            "model_list": [
                {
                    "model_name": "smol",
                    "litellm_params": {"model": "openai/smollm2", "api_base": b, "api_key": "sk-none"},
                }
                for b in (base_a, base_b)
            ],
            "routing_strategy": "simple-shuffle",
            "router_settings": {"allowed_fails": 1, "cooldown_time": 60.0},
        }
        retry = RetryPolicy(max_attempts=6, initial_wait=0.05, max_wait=0.5, jitter=0.0)
        gateway = LLMGateway(backend=RouterBackend(config), retry=retry)

        texts = asyncio.run(_ask(gateway, 0, 16))
        assert len(texts) == 16
        a, b = _served(tmp_path / "a.log"), _served(tmp_path / "b.log")
        assert a >= 2 and b >= 2 and a + b == 16 == gateway.stats.calls

        more = asyncio.run(_ask(gateway, 100, 16, after=3, kill=proc_b))
        assert len(more) == 16 and gateway.stats.failures == 0
        assert proc_b.poll() is not None
        assert _served(tmp_path / "a.log") + _served(tmp_path / "b.log") >= 32
        assert _served(tmp_path / "a.log") > a + 8  # the rest went to the survivor
