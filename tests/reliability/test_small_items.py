"""Smaller reliability items of round 3: router deployments that would add a retry loop, short
serve keys, damaged trial records, context overflows, symlinked run folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from archon_cli.config.router_file import load_router_file
from archon_cli.errors import ConfigError


def _router(path: Path, params: dict[str, object]) -> Path:
    data = {
        "model_list": [
            {"model_name": "fake", "litellm_params": {"model": "openai/fake-model", "api_base": "http://x/v1", **params}}
        ]
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "params",
    [{"mock_response": "hi"}, {"fallbacks": ["openai/other"]}, {"num_retries": 3}, {"max_retries": 2}],
)
def test_router_deployments_that_answer_or_retry_themselves_are_refused(tmp_path: Path, params: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=f"litellm_params {next(iter(params))} refused"):
        load_router_file(_router(tmp_path / "r.yaml", params))


def test_a_short_serve_key_is_refused() -> None:
    from tests.conftest import assert_user_error, run_cli

    result = run_cli("serve", "architectures/single-call.yaml", "--api-key-env", "SHORT_KEY", env={"SHORT_KEY": "x"})
    assert_user_error(result, "at least 16")


def test_damaged_trial_records_are_evaluated_again(tmp_path: Path) -> None:
    import json

    from archon_cli.testing import FaultPlan, FaultServer
    from tests.conftest import run_cli
    from tests.reliability import only_run_dir, read_jsonl

    with FaultServer(FaultPlan(seed=3)) as server:
        pool = tmp_path / "pool.yaml"
        pool.write_text(f"models:\n  - model: openai/fake-model\n    api_base: {server.api_base}\n", encoding="utf-8")
        args = [
            "search", "-b", "tiny-arith", "--budget", "4", "--pool", str(pool), "--algorithm", "random",
            "--trials", "3", "--limit", "6", "--final-k", "0", "--rungs", "off", "--seed", "1",
            "--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"), "--json",
        ]  # fmt: skip
        first = run_cli(*args, timeout=240)
        assert first.code == 0, first.stderr
        log = only_run_dir(tmp_path / "results") / "trials.jsonl"
        records = read_jsonl(log)
        damaged = []
        for i, record in enumerate(r for r in records if r["stage"] == "search"):
            if i == 0:
                record["objective"] = "high"
            elif i == 1:
                record["surprise"] = 1
            else:
                del record["run_dir"]
            damaged.append(record)
        log.write_text("".join(json.dumps(r) + "\n" for r in damaged), encoding="utf-8")
        again = run_cli(*args, timeout=240)
    assert again.code == 0 and "Traceback" not in again.stderr, again.stderr
    search = [r for r in read_jsonl(log) if r["stage"] == "search"]
    assert len({r["arch_id"] for r in search}) == 3


async def test_every_replica_cooling_down_names_the_failure_behind_it(tmp_path: Path) -> None:
    from archon_cli.errors import ProviderError
    from archon_cli.llm.accountant import CallStats
    from archon_cli.llm.gateway import LLMGateway, RetryPolicy
    from archon_cli.llm.router import RouterBackend
    from archon_cli.llm.types import CompletionRequest
    from tests.conftest import free_port

    path = tmp_path / "r.yaml"  # two replicas where nothing listens: each fails, is cooled down
    replicas = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    path.write_text(
        yaml.safe_dump(
            {
                "model_list": [
                    {"model_name": "fake", "litellm_params": {"model": "openai/m", "api_base": b, "api_key": "sk-none"}}
                    for b in replicas
                ]
            }
        ),
        encoding="utf-8",
    )
    gateway = LLMGateway(
        backend=RouterBackend(load_router_file(path)),
        retry=RetryPolicy(max_attempts=8, initial_wait=0.01, max_wait=0.02, jitter=0.0),
    )
    request = CompletionRequest(model="fake", messages=({"role": "user", "content": "hi"},), max_tokens=4, timeout=5)
    with pytest.raises(ProviderError) as caught:
        await gateway.complete(request, CallStats())
    message = str(caught.value)
    assert "cooling down" in message and "the last failure" in message, message
    assert "connect" in message.lower() or "refused" in message.lower(), message


async def test_a_local_context_overflow_is_not_retried() -> None:
    from archon_cli.errors import ProviderError, TransientProviderError
    from archon_cli.llm.litellm_backend import LiteLLMBackend
    from archon_cli.llm.local_models import LocalModelError
    from archon_cli.llm.types import CompletionRequest

    class Overflowing:
        async def complete(self, request: CompletionRequest) -> None:
            raise LocalModelError("Requested tokens (5000) exceed context window of 2048")

    class Pool:
        def get(self, name: str) -> Overflowing:
            return Overflowing()

    backend = LiteLLMBackend(Pool())  # type: ignore[arg-type]
    request = CompletionRequest(model="local/smollm2-135m", messages=({"role": "user", "content": "x"},))
    with pytest.raises(ProviderError) as caught:
        await backend._complete_local("smollm2-135m", request)
    assert not isinstance(caught.value, TransientProviderError) and "context window" in str(caught.value)


def test_a_run_folder_linked_outside_the_results_dir_is_refused(tmp_path: Path) -> None:
    from archon_cli.testing import FaultPlan, FaultServer
    from tests.conftest import assert_user_error, run_cli
    from tests.reliability import eval_args, write_architecture

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "summary.json").write_text('{"mine": true}', encoding="utf-8")
    results = tmp_path / "results"
    results.mkdir()
    (results / "linked").symlink_to(foreign, target_is_directory=True)
    with FaultServer(FaultPlan(seed=1)) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base)
        result = run_cli(*eval_args(arch, results, tmp_path / "cache", 3, "--run-id", "linked"), timeout=120)
    assert_user_error(result, "symbolic link")
    assert (foreign / "summary.json").read_text() == '{"mine": true}' and len(list(foreign.iterdir())) == 1


def test_a_second_run_on_one_answers_file_is_refused(tmp_path: Path) -> None:
    import json
    import subprocess

    from archon_cli.testing import FaultPlan, FaultServer
    from tests.conftest import assert_user_error, run_cli
    from tests.reliability import cli_command, cli_env, write_architecture

    queries = tmp_path / "q.jsonl"
    queries.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"What is {i} + 1?"}) + "\n" for i in range(40)))
    output = tmp_path / "answers.jsonl"
    with FaultServer(FaultPlan(latency=0.3, seed=1)) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base, timeout=10)
        args = ["run", str(arch), "--input", str(queries), "--output", str(output), "--no-cache", "--concurrency", "1"]
        first = subprocess.Popen(cli_command(*args), env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import time

            deadline = time.monotonic() + 60
            while not (output.is_file() and output.stat().st_size > 0):
                assert first.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            second = run_cli(*args, timeout=120)
        finally:
            first.kill()
            first.wait()
    assert_user_error(second, f"pid {first.pid}")
