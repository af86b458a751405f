"""Every mistake a user can make: one line on stderr starting with ``error:``, exit code 2, no
traceback, no call sent. The whole table runs at once (each case is a fresh CLI process)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import CliResult, run_cli

GEN = "  - - type: generator\n"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # "{d}" is replaced by the case's own directory
    fragment: str  # must appear in the one error line
    files: dict[str, bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def _eval(arch: str = "{d}/arch.yaml", *extra: str) -> tuple[str, ...]:
    return ("eval", arch, "-b", "tiny-arith", "--no-cache", "--results-dir", "{d}/results", *extra)


def _arch(body: str) -> dict[str, bytes]:
    return {"arch.yaml": f"name: x\nlayers:\n{body}".encode()}


OPENAI_GEN = _arch(GEN + "      model: openai/gpt-4o\n")

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
]


def _run_case(case: Case, root: Path) -> CliResult:
    directory = root / case.id
    directory.mkdir()
    for name, data in case.files.items():
        (directory / name).write_bytes(data)
    args = [a.replace("{d}", str(directory)) for a in case.args]
    # ARCHON_TEST_UNSET_KEY is blank, which counts as missing.
    return run_cli(*args, env={"ARCHON_TEST_UNSET_KEY": "", **case.env}, timeout=120)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliResult]:
    root = tmp_path_factory.mktemp("bad-input")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {case.id: pool.submit(_run_case, case, root) for case in CASES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_exit_2(case: Case, outcomes: dict[str, CliResult]) -> None:
    result = outcomes[case.id]
    assert result.code == 2, (result.code, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and case.fragment in lines[0], lines[0]
    assert result.stdout == ""
