"""`archon serve`: the time serving adds per request over `archon run` on the same architecture, and
requests per second for a one-call architecture against a loopback server.

Overhead. One architecture, one call to ``openai/fake-model`` at a loopback fault server (a child
process, fixed ``--latency``, no faults), no cache. `archon run --input` answers the queries one at
a time (``--concurrency 1``) and records each query's engine time (``seconds`` in answers.jsonl);
`archon serve` (a child process) gets the same queries one at a time from a keep-alive HTTP client,
which times each request from send to the last byte. The overhead per request is the median served
latency minus the median engine time. Also quoted: one `archon run --prompt` per query, start-up
included, which is what answering a prompt cost before `archon serve`. ``--embedded`` measures the
same on the embedded model (SmolLM2, a few tokens per answer; run it under the model lock).

Throughput. The same one-call architecture with the server answering at once (latency 0): a client
keeps ``--clients`` requests in flight for ``--requests`` requests (distinct prompts, no cache) and
reports requests per second and latency percentiles; the same client against the loopback server
directly gives the ceiling of this machine (the load generator, the server and archon share the
cores).

    python bench/serve.py --queries 40 --requests 2000 --clients 32
    flock /tmp/archon-model.lock python bench/serve.py --embedded --queries 20 --skip-throughput
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, fault_server, load_average, machine

ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}


def archon_command() -> list[str]:
    script = Path(sys.executable).with_name("archon")
    return [str(script)] if script.exists() else [sys.executable, "-m", "archon_cli"]


def write_architecture(folder: Path, api_base: str | None) -> Path:
    path = folder / "one-call.yaml"
    if api_base is None:
        generator = "      model: local/smollm2-135m\n      max_tokens: 6\n"
    else:
        generator = f"      model: openai/fake-model\n      api_base: {api_base}\n      max_tokens: 16\n"
    path.write_text(
        f"name: one-call\nlayers:\n  - - type: generator\n{generator}      temperature: 0.0\n", encoding="utf-8"
    )
    return path


def prompts(n: int, tag: str) -> list[str]:
    return [f"What is {100 + i} + {i % 9 + 1}? Answer with just the number. ({tag})" for i in range(n)]


@contextmanager
def serving(arch: Path, folder: Path, *extra: str) -> Iterator[str]:
    """`archon serve ARCH --port 0 --no-cache` in a child process; yields its URL."""
    proc = subprocess.Popen(
        [*archon_command(), "serve", str(arch), "--port", "0", "--no-cache", "--concurrency", "0",
         "--request-log", str(folder / "requests.jsonl"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=ENV,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"archon serve did not start (printed {url!r})")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_engine_times(arch: Path, folder: Path, queries: list[str]) -> list[float]:
    """`archon run --input` one query at a time: each query's engine seconds, from answers.jsonl."""
    source = folder / "queries.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "prompt": q}) + "\n" for i, q in enumerate(queries)))
    out = folder / "answers.jsonl"
    out.unlink(missing_ok=True)
    subprocess.run(
        [*archon_command(), "run", str(arch), "--input", str(source), "--output", str(out), "--no-cache",
         "--concurrency", "1", "--json"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=ENV,
    )  # fmt: skip
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["error"] is None for r in records), records
    return [float(r["seconds"]) for r in records]


def run_prompt_walls(arch: Path, queries: list[str]) -> list[float]:
    """One `archon run --prompt` process per query: what a prompt cost before serving."""
    walls = []
    for q in queries:
        started = time.perf_counter()
        subprocess.run(
            [*archon_command(), "run", str(arch), "--prompt", q, "--no-cache"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=ENV,
        )  # fmt: skip
        walls.append(time.perf_counter() - started)
    return walls


def served_latencies(url: str, queries: list[str]) -> tuple[list[float], list[float]]:
    """Each query sent once, one at a time, on a keep-alive connection: client latency and the
    engine seconds the server reports in the reply's ``archon`` field."""
    latencies, engine = [], []
    with httpx.Client(base_url=url, timeout=600) as client:
        client.post("/v1/chat/completions", json=body("warm-up query"))  # connection and first-call set-up
        for q in queries:
            started = time.perf_counter()
            reply = client.post("/v1/chat/completions", json=body(q))
            latencies.append(time.perf_counter() - started)
            reply.raise_for_status()
            engine.append(float(reply.json()["archon"]["seconds"]))
    return latencies, engine


def body(prompt: str, model: str = "one-call") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}]}


def overhead(queries: int, latency: float, embedded: bool, prompt_runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, fault_server(latency) if not embedded else _nothing() as api_base:
        folder = Path(tmp)
        arch = write_architecture(folder, api_base)
        qs = prompts(queries, "run")
        run_seconds = run_engine_times(arch, folder, qs)
        prompt_walls = run_prompt_walls(arch, qs[:prompt_runs])
        with serving(arch, folder) as url:
            served, served_engine = served_latencies(url, prompts(queries, "serve"))
    run_median = statistics.median(run_seconds)
    served_median = statistics.median(served)
    return {
        "provider": "embedded SmolLM2-135M (max_tokens 6)" if embedded else f"loopback server, latency {latency:g} s",
        "queries": queries,
        "run_engine_median_s": run_median,
        "served_median_s": served_median,
        "served_p90_s": _pct(served, 0.9),
        "served_engine_median_s": statistics.median(served_engine),
        "overhead_ms": (served_median - run_median) * 1000,
        "overhead_over_server_engine_ms": statistics.median(a - b for a, b in zip(served, served_engine, strict=True))
        * 1000,
        "run_prompt_wall_median_s": statistics.median(prompt_walls),
        "prompt_runs": prompt_runs,
    }


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _load(url: str, model: str, n: int, clients: int, tag: str) -> dict[str, Any]:
    """``clients`` workers sending ``n`` requests in all; requests/s and latency percentiles."""
    todo = iter(range(n))
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            for i in todo:
                started = time.perf_counter()
                reply = await client.post("/v1/chat/completions", json=body(f"What is {i} + 1? ({tag})", model))
                latencies.append(time.perf_counter() - started)
                errors += reply.status_code != 200

        for _ in range(min(clients, 8)):  # open the connections first
            await client.post("/v1/chat/completions", json=body(f"warm {tag}", model))
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return {
        "requests": n,
        "clients": clients,
        "seconds": wall,
        "requests_per_s": n / wall,
        "p50_ms": _pct(latencies, 0.5) * 1000,
        "p99_ms": _pct(latencies, 0.99) * 1000,
        "errors": errors,
    }


def throughput(requests: int, clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, fault_server(0.0) as api_base:
        folder = Path(tmp)
        arch = write_architecture(folder, api_base)
        direct = asyncio.run(_load(api_base.removesuffix("/v1"), "fake-model", requests, clients, "direct"))
        with serving(arch, folder) as url:
            served = asyncio.run(_load(url, "one-call", requests, clients, "served"))
            logged = sum(1 for _ in (folder / "requests.jsonl").open())
    return {"served": served, "direct": direct, "logged": logged}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--queries", type=int, default=40, help="sequential queries for the overhead figure")
    p.add_argument("--latency", type=float, default=0.05, help="loopback server latency for the overhead figure")
    p.add_argument("--prompt-runs", type=int, default=5, help="`archon run --prompt` processes timed")
    p.add_argument("--requests", type=int, default=2000, help="requests for the throughput figure")
    p.add_argument("--clients", type=int, default=32, help="requests in flight for the throughput figure")
    p.add_argument("--embedded", action="store_true", help="overhead on the embedded model (under the model lock)")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args(argv)
    result: dict[str, Any] = {"machine": machine(), "load_before": load_average()}
    result["overhead"] = overhead(args.queries, args.latency, args.embedded, args.prompt_runs)
    if not args.skip_throughput:
        result["throughput"] = throughput(args.requests, args.clients)
    result["load_after"] = load_average()
    if args.json:
        print(json.dumps(result))
        return 0
    o = result["overhead"]
    print(
        f"overhead ({o['provider']}, {o['queries']} queries one at a time): served median {o['served_median_s'] * 1000:.1f} ms "
        f"(p90 {o['served_p90_s'] * 1000:.1f}) vs `archon run` engine median {o['run_engine_median_s'] * 1000:.1f} ms: "
        f"+{o['overhead_ms']:.1f} ms per request (+{o['overhead_over_server_engine_ms']:.1f} ms over the server's own "
        f"engine time); one `archon run --prompt` process: median {o['run_prompt_wall_median_s']:.2f} s"
    )
    if "throughput" in result:
        t = result["throughput"]
        s, d = t["served"], t["direct"]
        print(
            f"throughput ({s['requests']} requests, {s['clients']} in flight, one call each, loopback latency 0): "
            f"{s['requests_per_s']:.0f} requests/s (p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, "
            f"{s['errors']} errors, {t['logged']} logged); the loopback server alone: {d['requests_per_s']:.0f} requests/s"
        )
    print(f"load average {result['load_before']:.2f} -> {result['load_after']:.2f}; {result['machine']['cpu']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
