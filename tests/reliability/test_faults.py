"""Provider faults: 500s, 429s with Retry-After, hangs, non-JSON bodies and empty choices.

Every question ends answered or recorded as failed with its reason; retries are counted; the
server's own request counter equals the calls archon says it sent (so neither LiteLLM nor the
openai client retries behind our back); a server that always fails ends the run with exit 1.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from archon_cli.testing import FaultPlan, FaultServer
from archon_cli.testing.fault_server import reply_text
from tests.conftest import run_cli
from tests.reliability import (
    eval_args,
    only_run_dir,
    read_records,
    run_parallel,
    summary_json,
    write_architecture,
)

FAULT_KINDS = ("error_500", "error_429", "hang", "garbage", "no_choices")


# -- the server itself (in-process, no CLI) ----------------------------------------------------


async def _post(session: aiohttp.ClientSession, url: str, content: str) -> tuple[int, str]:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": content}]}
    async with session.post(url + "/v1/chat/completions", json=body) as response:
        return response.status, await response.text()


async def test_server_replies_and_counts() -> None:
    with FaultServer(FaultPlan(wrong_rate=0.0)) as server:
        async with aiohttp.ClientSession() as session:
            status, text = await _post(session, server.url, "What is 3 + 4? Answer with just the number.")
        reply = json.loads(text)
        assert status == 200 and reply["choices"][0]["message"]["content"] == "7"
        assert reply["usage"]["prompt_tokens"] > 0 and reply["usage"]["completion_tokens"] == 1
        with urllib.request.urlopen(server.url + "/stats") as response:
            served = json.loads(response.read())
        assert served["requests"] == 1 and served["by_kind"]["ok"] == 1 == server.stats()["by_kind"]["ok"]
        server.reset()
        assert server.stats()["requests"] == 0


def test_replies_are_deterministic_and_seeded() -> None:
    messages = [{"role": "user", "content": "Which is larger, 12 or 71? Answer with just the number."}]
    assert reply_text(messages, seed=1, wrong_rate=0.0) == "71"
    assert reply_text(messages, seed=1, wrong_rate=1.0) == "72"
    questions = [[{"role": "user", "content": f"What is {a} + 5?"}] for a in range(1, 10) for _ in range(20)]
    wrong = sum(reply_text(m, seed=3, wrong_rate=0.3) != str(int(m[0]["content"].split()[2]) + 5) for m in questions)
    assert 0 < wrong < len(questions)
    ranking = reply_text(
        [
            {
                "role": "user",
                "content": "Question:\nWhat is 2 + 2?\n\nCandidate answers:\n\n[1] 5\n\n[2] 4\n\n"
                "Rank the 2 candidate answers from best to worst. Reply ...",
            }
        ],
        purpose="ranker",
    )
    assert ranking == "[2] > [1]"


async def test_faults_follow_the_seed_and_overlap() -> None:
    """Fault kinds depend on the seed and the prompt, not on arrival order; 200 requests with
    0.3 s latency overlap (the performance benchmarks rely on it)."""
    plan = FaultPlan(latency=0.3, error_500=0.2, error_429=0.2, garbage=0.1, no_choices=0.1, seed=7)
    prompts = [f"What is {i % 9 + 1} + {i % 7 + 1}? #{i}" for i in range(200)]
    seen = []
    for order in (prompts, prompts[::-1]):
        with FaultServer(plan) as server:
            started = time.perf_counter()
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                replies = await asyncio.gather(*(_post(session, server.url, p) for p in order))
            elapsed = time.perf_counter() - started
            stats = server.stats()
        statuses = dict(zip(order, (status for status, _ in replies), strict=True))
        seen.append([statuses[p] for p in prompts])
        assert stats["requests"] == 200 and stats["max_in_flight"] > 100
        assert elapsed < 3.0, f"requests did not overlap: {elapsed:.1f}s for 200 x 0.3s"
        assert all(stats["by_kind"][k] > 0 for k in ("error_500", "error_429", "garbage", "no_choices"))
    assert seen[0] == seen[1]


def test_standalone_server_prints_its_url() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "archon_cli.testing.fault_server",
            "--port",
            "0",
            "--latency",
            "0.01",
            "--error-429",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(
            url + "/v1/chat/completions",
            data=json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)
        assert caught.value.code == 429 and caught.value.headers["Retry-After"] == "0.1"
        with urllib.request.urlopen(url + "/stats") as response:
            assert json.loads(response.read())["by_kind"]["error_429"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- archon eval against the faulty server -----------------------------------------------------


def test_eval_under_mixed_faults(tmp_path: Path) -> None:
    plan = FaultPlan(
        latency=0.02, error_500=0.10, error_429=0.10, hang=0.05, garbage=0.02, no_choices=0.02, retry_after=0.05, seed=5
    )
    with FaultServer(plan) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base, timeout=1.0)
        result = run_cli(
            *eval_args(arch, tmp_path / "results", tmp_path / "cache", 50, "--max-attempts", "2"), timeout=120
        )
        stats = server.stats()
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = summary_json(result.stdout)
    records = read_records(only_run_dir(tmp_path / "results"))

    # Every question ends answered or failed with its reason, exactly once.
    assert len(records) == len({r["id"] for r in records}) == 50 == summary["questions"]
    answered = [r for r in records if r["error"] is None]
    failed = [r for r in records if r["error"] is not None]
    assert summary["answered"] == len(answered) and summary["errors"] == len(failed)
    assert all(r["score"] in (0.0, 1.0) and r["answer"] for r in answered)
    assert failed, "this seed should leave some questions failed after 2 attempts"
    reasons = ("InternalServerError", "RateLimitError", "Timeout", "no choices")
    for r in failed:  # (a question may share an identical request in flight and its failure: 0 calls)
        assert r["score"] is None and r["calls"] in (0, 2) and "(after 2 attempts)" in r["error"], r
        assert any(reason in r["error"] for reason in reasons), r["error"]
    assert summary["error_reasons"]
    # Replies were scored: the server answers 80% of questions right, faults aside.
    assert 0.6 < summary["score_answered"] < 0.98

    # The server saw every kind of fault, and exactly the calls archon counted as sent.
    assert all(stats["by_kind"][kind] > 0 for kind in FAULT_KINDS), stats["by_kind"]
    this_run = summary["this_run"]
    assert stats["requests"] == this_run["calls"] == summary["calls"] == sum(r["calls"] for r in records)
    # One logical call per question (tiny-arith repeats a few questions: those are cache hits), so
    # every send beyond the logical calls is a retry, and is counted as one.
    assert this_run["retries"] == summary["retries"] == stats["requests"] - (50 - this_run["cache_hits"]) > 0
    assert this_run["failures"] == len(failed)
    assert summary["calls_per_query"] == 1.0


def test_eval_when_every_request_fails(tmp_path: Path) -> None:
    """Every request faults (a mix of all kinds; or every one hangs): exit 1 with a clear message,
    in bounded time, with exactly max-attempts sends per question."""
    plans = {
        "every-kind": FaultPlan(
            error_500=0.3, error_429=0.3, hang=0.1, garbage=0.15, no_choices=0.15, retry_after=0.05
        ),
        "all-hang": FaultPlan(hang=1.0, hang_seconds=60),
    }
    with FaultServer(plans["every-kind"]) as mixed, FaultServer(plans["all-hang"]) as hanging:
        commands = []
        for name, server in (("every-kind", mixed), ("all-hang", hanging)):
            arch = write_architecture(tmp_path / f"{name}.yaml", server.api_base, timeout=0.5)
            options = ("--max-attempts", "3", "--concurrency", "6")
            commands.append(eval_args(arch, tmp_path / name, tmp_path / f"cache-{name}", 6, *options))
        started = time.perf_counter()
        results = run_parallel(*commands)
        elapsed = time.perf_counter() - started
        stats = [mixed.stats(), hanging.stats()]
    for result, served in zip(results, stats, strict=True):
        assert result.code == 1, (result.code, result.stderr)
        assert "Traceback" not in result.stderr
        *_, closing, report = result.stderr.strip().splitlines()  # the report's path comes last
        assert closing.startswith("error: every question failed") and report.startswith("report: ")
        summary = summary_json(result.stdout)
        assert summary["errors"] == summary["questions"] == 6 and summary["score"] == 0.0
        assert served["requests"] == summary["this_run"]["calls"] == 6 * 3
    assert stats[1]["by_kind"]["hang"] == 18
    assert elapsed < 60, f"took {elapsed:.0f}s"
