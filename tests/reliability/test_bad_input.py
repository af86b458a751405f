"""Every mistake a user can make, in one table: one line on stderr starting with ``error:``, exit
code 2, no traceback, no call sent, nothing written to the results folder. The whole table runs at
once (each case is a fresh CLI process)."""

from __future__ import annotations

import json
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import CliResult, run_cli

GEN = "  - - type: generator\n"
# Cases added for checks that older code lacked use an OpenAI model whose key is blank: code
# without the check stops at the missing key instead of running the embedded model.
OPENAI = "      model: openai/gpt-4o\n"
SAFE_ARCH = f"name: safe\nlayers:\n{GEN}{OPENAI}".encode()
ARCH = "{d}/safe.yaml"
DEEP = b"[" * 5000 + b"]" * 5000  # YAML and JSON alike
RANDOM_BYTES = random.Random(0).randbytes(4096)


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # "{d}" is replaced by the case's own directory
    fragment: str  # must appear in the one error line
    files: dict[str, bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def _eval(arch: str = "{d}/arch.yaml", *extra: str) -> tuple[str, ...]:
    return ("eval", arch, "-b", "tiny-arith", "--no-cache", "--results-dir", "{d}/results", *extra)


def _run(*extra: str, arch: str = ARCH) -> tuple[str, ...]:
    return ("run", arch, *extra)


def _search(*extra: str) -> tuple[str, ...]:
    return ("search", "--benchmark", "tiny-arith", "--results-dir", "{d}/results", *extra)


def _safe_search(*extra: str) -> tuple[str, ...]:
    return _search("--models", "openai/gpt-4o", *extra)


def _compare(*extra: str) -> tuple[str, ...]:
    return ("compare", *extra, "--results-dir", "{d}/results")


def _arch(body: str) -> dict[str, bytes]:
    return {"arch.yaml": f"name: x\nlayers:\n{body}".encode()}


OPENAI_GEN = _arch(GEN + "      model: openai/gpt-4o\n")
QUERIES = {"q.jsonl": b'{"id": "a", "prompt": "What is 2 + 3?"}\n'}
RUN_FOLDER = {
    "run/run.json": json.dumps({"kind": "eval", "benchmark": "tiny-arith", "question_ids": ["a"]}).encode(),
    "run/questions.jsonl": b'{"id": "a", "answer": "5", "score": 1.0, "error": null}\n',
}

CASES = [
    # Architecture files.
    Case("malformed-yaml", _eval(), "invalid YAML at line", {"arch.yaml": b"name: x\nlayers: [[\n"}),
    Case(
        "malformed-json", _eval("{d}/arch.json"), "invalid JSON at line 1", {"arch.json": b'{"name": "x", "layers": ['}
    ),
    Case("unknown-component", _eval(), "unknown component type 'wizard'", _arch("  - - type: wizard\n")),
    Case("unknown-key", _eval(), "layers[0][0].tempreature: unknown key", _arch(GEN + "      tempreature: 1\n")),
    Case(
        "unknown-top-level-key",
        _eval(),
        "layerz: unknown key",
        {"arch.yaml": f"name: x\nlayerz: 1\nlayers:\n{GEN}".encode()},
    ),
    Case("bad-value", _eval(), "layers[0][0].samples", _arch(GEN + "      samples: 0\n")),
    Case("rule-first-layer", _eval(), "no layer before it holds generators", _arch("  - - type: ranker\n")),
    Case("rule-no-generator", _eval(), "no layer holds generators", _arch("  - - type: unit_test_generator\n")),
    Case(
        "rule-one-ranker",
        _eval(),
        "holds exactly one component",
        _arch(GEN + "  - - type: ranker\n    - type: ranker\n"),
    ),
    Case(
        "rule-unit-tests",
        _eval(),
        "needs a unit_test_generator in an earlier layer",
        _arch(GEN + "  - - type: unit_test_evaluator\n"),
    ),
    Case("rule-mixed-layer", _eval(), "one component type per layer", _arch(GEN + "    - type: ranker\n")),
    Case("empty-architecture", _eval(), "is empty", {"arch.yaml": b"\n\n"}),
    Case("non-utf8-architecture", _eval(), "not UTF-8", {"arch.yaml": "name: caf\xe9\n".encode("latin-1")}),
    Case("architecture-not-found", _eval("{d}/missing.yaml"), "architecture file not found"),
    Case("architecture-is-directory", _eval("{d}"), "is a directory"),
    # Models and keys (checked before any call).
    Case("unknown-model-route", _eval(), "cannot be routed", _arch(GEN + "      model: nosuchprovider-model\n")),
    Case("unknown-local-model", _eval(), "unknown local model", _arch(GEN + "      model: local/gpt-5\n")),
    Case("missing-api-key", _eval(), "set OPENAI_API_KEY", OPENAI_GEN, {"OPENAI_API_KEY": ""}),
    Case(
        "missing-custom-key",
        _eval(),
        "set ARCHON_TEST_UNSET_KEY",
        _arch(GEN + "      model: openai/gpt-4o\n      api_key_env: ARCHON_TEST_UNSET_KEY\n"),
    ),
    # Benchmarks and data.
    Case("unknown-benchmark", ("eval", "architectures/single-call.yaml", "-b", "nosuch"), "unknown benchmark 'nosuch'"),
    Case(
        "missing-data-directory",
        _eval("architectures/single-call.yaml", "-b", "gsm8k", "--data-dir", "{d}/nope"),
        "does not exist",
    ),
    Case(
        "data-directory-without-data",
        _eval("architectures/single-call.yaml", "-b", "gsm8k", "--data-dir", "{d}"),
        "has no gsm8k",
    ),
    Case("unknown-split", _eval("architectures/single-call.yaml", "--split", "train"), "unknown split 'train'"),
    Case("limit-zero", _eval("architectures/single-call.yaml", "--limit", "0"), "--limit 0"),
    # Budgets.
    Case(
        "budget-below-cost",
        _eval("{d}/arch.yaml", "--budget", "2"),
        "below the cost of 'x': 3 calls",
        _arch(GEN + "      samples: 3\n"),
    ),
    Case(
        "budget-file-below-cost",
        _eval("{d}/arch.yaml", "--budget", "{d}/b.yaml"),
        "cannot pay for one query",
        {**_arch(GEN + "      samples: 3\n"), "b.yaml": b"total_calls: 2\n"},
    ),
    Case("budget-zero", _eval("architectures/single-call.yaml", "--budget", "0"), "too small"),
    Case(
        "budget-malformed",
        _eval("architectures/single-call.yaml", "--budget", "{d}/b.yaml"),
        "invalid YAML",
        {"b.yaml": b"total_calls: [\n"},
    ),
    Case(
        "budget-unknown-key",
        _eval("architectures/single-call.yaml", "--budget", "{d}/b.yaml"),
        "total_cals: unknown key",
        {"b.yaml": b"total_cals: 5\n"},
    ),
    Case(
        "budget-not-found",
        _eval("architectures/single-call.yaml", "--budget", "{d}/none.yaml"),
        "budget file not found",
    ),
    # Inputs of `archon run`.
    Case(
        "empty-input-file",
        ("run", "architectures/single-call.yaml", "--input", "{d}/q.jsonl"),
        "is empty",
        {"q.jsonl": b""},
    ),
    Case(
        "non-utf8-input-file",
        ("run", "architectures/single-call.yaml", "--input", "{d}/q.jsonl"),
        "not UTF-8",
        {"q.jsonl": '{"prompt": "caf\xe9"}\n'.encode("latin-1")},
    ),
    Case(
        "duplicate-input-id",
        ("run", "architectures/single-call.yaml", "--input", "{d}/q.jsonl"),
        "duplicate id 'a'",
        {"q.jsonl": b'{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n'},
    ),
    Case(
        "input-without-prompt",
        ("run", "architectures/single-call.yaml", "--input", "{d}/q.jsonl"),
        "needs a non-empty 'prompt'",
        {"q.jsonl": b'{"id": "a"}\n'},
    ),
    Case(
        "prompt-file-10mb",
        ("run", "architectures/single-call.yaml", "--prompt-file", "{d}/p.txt"),
        "over the limit",
        {"p.txt": b"a" * 10_000_000},
    ),
    Case("empty-prompt", ("run", "architectures/single-call.yaml", "--prompt", "  "), "--prompt is empty"),
    # Options.
    Case("missing-option", ("eval", "architectures/single-call.yaml"), "Missing option '--benchmark'"),
    Case("unknown-option", ("run", "architectures/single-call.yaml", "--promt", "x"), "No such option: --promt"),
    Case("unknown-command", ("evaluate",), "No such command 'evaluate'"),
    Case("negative-concurrency", _eval("architectures/single-call.yaml", "--concurrency", "-1"), "--concurrency"),
    Case(
        "bad-model-limit",
        ("run", "architectures/single-call.yaml", "--prompt", "x", "--model-limit", "m=0"),
        "expected MODEL=N",
    ),
    Case(
        "zero-attempts",
        ("run", "architectures/single-call.yaml", "--prompt", "x", "--max-attempts", "0"),
        "--max-attempts",
    ),
    # Deep nesting: parsed with a depth limit, never a RecursionError.
    Case("deep-yaml-architecture", _eval(), "nested deeper than 100 levels", {"arch.yaml": DEEP}),
    Case("deep-json-architecture", _eval("{d}/arch.json"), "nested deeper than 100 levels", {"arch.json": DEEP}),
    Case(
        "deep-budget",
        _eval(ARCH, "--budget", "{d}/b.yaml"),
        "nested deeper than 100 levels",
        {"b.yaml": b"total_calls: " + DEEP},
    ),
    Case("deep-space", _safe_search("--budget", "4", "--space", "{d}/s.json"), "nested deeper", {"s.json": DEEP}),
    Case("deep-pool", _search("--budget", "4", "--pool", "{d}/p.yaml"), "nested deeper", {"p.yaml": DEEP}),
    Case(
        "deep-input-line",
        _run("--input", "{d}/q.jsonl"),
        "line 1: invalid JSON: nested deeper",
        {"q.jsonl": b'{"id": "a", "prompt": ' + DEEP + b"}\n"},
    ),
    # Duplicate keys: an error naming the key (and, in YAML, the line).
    Case(
        "duplicate-yaml-key",
        _eval(),
        "duplicate key 'samples' (first given at line 5)",
        _arch(GEN + OPENAI + "      samples: 2\n      samples: 3\n"),
    ),
    Case(
        "duplicate-json-key",
        _eval("{d}/arch.json"),
        "duplicate key 'name'",
        {"arch.json": b'{"name": "a", "name": "b", "layers": [[{"type": "generator", "model": "openai/gpt-4o"}]]}'},
    ),
    Case("duplicate-budget-key", _eval(ARCH, "--budget", "{d}/b.yaml"), "duplicate key", {"b.yaml": b"a: 1\na: 2\n"}),
    # Names: they become folder names.
    Case(
        "architecture-name-400",
        _eval(),
        "name: String should have at most 100",
        {"arch.yaml": b"name: " + b"x" * 400 + b"\nlayers:\n" + (GEN + OPENAI).encode()},
    ),
    Case(
        "architecture-name-nul",
        _eval(),
        "name: the name contains a control character",
        {"arch.yaml": b'name: "a\\0b"\nlayers:\n' + (GEN + OPENAI).encode()},
    ),
    Case(
        "run-id-escape", _eval(ARCH, "--run-id", "../../escape"), "--run-id '../../escape': must be a plain folder name"
    ),
    Case("run-id-slash", _eval(ARCH, "--run-id", "a/b"), "must be a plain folder name"),
    Case("run-id-too-long", _eval(ARCH, "--run-id", "r" * 300), "--run-id: 300 characters, over the limit of 200"),
    Case(
        "search-id-escape",
        _safe_search("--budget", "4", "--search-id", ".."),
        "--search-id '..': must be a plain folder name",
    ),
    # Folders and files that cannot be used.
    Case("results-dir-is-a-file", _eval(ARCH, "--results-dir", "{d}/file"), "is a file, not a folder", {"file": b"x"}),
    Case(
        "results-dir-under-a-file",
        _eval(ARCH, "--results-dir", "{d}/file/sub"),
        "is a file, not a folder",
        {"file": b"x"},
    ),
    Case(
        "cache-dir-is-a-file",
        ("eval", ARCH, "-b", "tiny-arith", "--cache-dir", "{d}/file"),
        "--cache-dir",
        {"file": b"x"},
    ),
    Case(
        "search-results-dir-is-a-file",
        _safe_search("--budget", "4", "--results-dir", "{d}/file"),
        "is a file, not a folder",
        {"file": b"x"},
    ),
    Case(
        "compare-results-dir-is-a-file",
        ("compare", "{d}/run", "--results-dir", "{d}/file"),
        "is a file, not a folder",
        {**RUN_FOLDER, "file": b"x"},
    ),
    Case(
        "output-is-a-folder", _run("--input", "{d}/q.jsonl", "--output", "{d}"), "is a folder, expected a file", QUERIES
    ),
    Case(
        "output-cannot-be-written",
        _run("--input", "{d}/q.jsonl", "--output", "{d}/file/a.jsonl"),
        "cannot be written",
        {**QUERIES, "file": b"x"},
    ),
    Case(
        "output-is-the-input", _run("--input", "{d}/q.jsonl", "--output", "{d}/q.jsonl"), "is the --input file", QUERIES
    ),
    # Text and numbers that cannot be used.
    Case("prompt-not-utf8", _run("--prompt", "caf\udce9?"), "--prompt is not valid UTF-8"),
    Case(
        "cost-weight-nan",
        _safe_search("--budget", "4", "--cost-weight", "nan"),
        "--cost-weight nan: must be a finite number",
    ),
    Case(
        "cost-weight-inf",
        _safe_search("--budget", "4", "--cost-weight", "inf"),
        "--cost-weight inf: must be a finite number",
    ),
    Case("retry-wait-inf", _run("--prompt", "x", "--retry-wait", "inf"), "--retry-wait inf: must be a finite number"),
    Case("budget-dollars-nan", _eval(ARCH, "--budget", "{d}/b.yaml"), "dollars", {"b.yaml": b"dollars: .nan\n"}),
    Case(
        "benchmark-data-random-bytes",
        _eval(ARCH, "-b", "gsm8k", "--data-dir", "{d}/data"),
        "gsm8k: the data in",
        {"data/gsm8k/test.jsonl": RANDOM_BYTES},
    ),
    # Size caps (overridable through ARCHON_MAX_*).
    Case(
        "ten-thousand-layers",
        _eval(),
        "10,000 layers, over the cap of 100 (raise it with ARCHON_MAX_LAYERS=N)",
        _arch(GEN + OPENAI + "  - - type: fuser\n" * 9_999),
    ),
    Case(
        "too-many-components",
        _eval(),
        "1,001 components, over the cap of 1,000",
        _arch(GEN + OPENAI + "    - type: generator\n" * 1_000),
    ),
    Case(
        "too-many-calls",
        _eval(),
        "12,500 calls per query, over the cap of 10,000",
        _arch(GEN + OPENAI + "      samples: 250\n" + "    - type: generator\n      samples: 250\n" * 49),
    ),
    Case("bad-cap-override", _eval(ARCH), "ARCHON_MAX_LAYERS='many'", env={"ARCHON_MAX_LAYERS": "many"}),
    # `archon run` (moved here from tests/commands/test_run.py).
    Case(
        "run-missing-api-key",
        _run("--prompt", "x", arch="{d}/arch.yaml"),
        "set OPENAI_API_KEY",
        OPENAI_GEN,
        {"OPENAI_API_KEY": ""},
    ),
    Case(
        "run-budget-below-cost",
        _run("--prompt", "x", "--budget", "3", arch="architectures/best-of-n-ranker.yaml"),
        "below the cost of 'best-of-n-ranker': 5 calls per query",
    ),
    Case(
        "run-budget-file-below-cost",
        _run("--prompt", "x", "--budget", "{d}/b.yaml", arch="architectures/best-of-n-ranker.yaml"),
        "below the cost",
        {"b.yaml": b"calls_per_query: 2\n"},
    ),
    Case("empty-prompt-file", _run("--prompt-file", "{d}/p.txt"), "is empty", {"p.txt": b"\n"}),
    Case(
        "non-utf8-prompt-file", _run("--prompt-file", "{d}/p.txt"), "not UTF-8", {"p.txt": "caf\xe9".encode("latin-1")}
    ),
    Case(
        "input-invalid-json",
        _run("--input", "{d}/q.jsonl"),
        "line 2: invalid JSON",
        {"q.jsonl": b'{"id": 1, "prompt": "a"}\n{oops\n'},
    ),
    Case("prompt-options-exclusive", _run(), "exactly one of"),
    # `archon search` (moved here from tests/commands/test_search.py).
    Case("search-budget-zero", _search("--budget", "0"), "too small for even one call"),
    Case("search-empty-pool", _search("--budget", "5", "--models", " , "), "model pool is empty"),
    Case(
        "search-unknown-algorithm",
        _search("--budget", "5", "--algorithm", "annealing"),
        "unknown search algorithm 'annealing'",
    ),
    Case("search-zero-trials", _search("--budget", "5", "--trials", "0"), "--trials 0"),
    Case("search-unknown-benchmark", ("search", "--budget", "5", "--benchmark", "nope"), "unknown benchmark 'nope'"),
    Case("search-unroutable-model", _search("--budget", "5", "--models", "nosuchprovider-model"), "cannot be routed"),
    Case("search-limit-zero", _search("--budget", "5", "--limit", "0"), "--limit 0"),
    Case(
        "search-budget-below-space",
        _search("--budget", "2", "--space", "{d}/s.yaml", "--limit", "2", "--cache-dir", "{d}/cache"),
        "too small for any architecture in the space (the cheapest costs 3)",
        {"s.yaml": b"samples: [3, 5]\nfinal: [none]\nfusion_layers: [0, 0]\n"},
    ),
    # `archon compare` (moved here from tests/commands/test_compare.py).
    Case("compare-missing-folder", _compare("{d}/missing"), "no such file or folder"),
    Case(
        "compare-mixed-benchmarks",
        _compare("{d}/run", "{d}/other"),
        "different benchmarks",
        {
            **RUN_FOLDER,
            "other/run.json": json.dumps({"kind": "eval", "benchmark": "gsm8k", "question_ids": ["a"]}).encode(),
            "other/questions.jsonl": RUN_FOLDER["run/questions.jsonl"],
        },
    ),
    Case("compare-a-text-file", _compare("{d}/notes.txt"), "is not a result folder", {"notes.txt": b"hello"}),
    Case(
        "compare-architecture-without-benchmark",
        _compare("{d}/arch.yaml"),
        "is an architecture file: pass --benchmark NAME",
        {"arch.yaml": b"name: x\nlayers: []\n"},
    ),
    Case("compare-broken-run-json", _compare("{d}/bad"), "not valid JSON", {"bad/run.json": b"{not json"}),
    Case(
        "compare-folder-not-a-result",
        _compare("{d}/run", "{d}/empty"),
        "is not a result folder (no run.json or search.json)",
        {**RUN_FOLDER, "empty/.keep": b""},
    ),
]


def _run_case(case: Case, root: Path) -> tuple[CliResult, Path]:
    directory = root / case.id
    directory.mkdir()
    for name, data in case.files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)
    (directory / "safe.yaml").write_bytes(SAFE_ARCH)
    args = [a.replace("{d}", str(directory)) for a in case.args]
    # Blank keys count as missing.
    env = {"ARCHON_TEST_UNSET_KEY": "", "OPENAI_API_KEY": "", **case.env}
    try:
        return run_cli(*args, env=env, timeout=120), directory
    except subprocess.TimeoutExpired:  # one case that hangs fails alone
        return CliResult(-1, "", "timed out after 120 s"), directory


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[CliResult, Path]]:
    root = tmp_path_factory.mktemp("bad-input")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {case.id: pool.submit(_run_case, case, root) for case in CASES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_exit_2(case: Case, outcomes: dict[str, tuple[CliResult, Path]]) -> None:
    result, directory = outcomes[case.id]
    assert result.code == 2, (result.code, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and case.fragment in lines[0], lines[0]
    assert result.stdout == ""
    if case.args[0] != "search":  # (a search writes its settings before checking its space)
        assert not (directory / "results").exists()  # nothing was written
