"""Running model-written code where it cannot be isolated: `archon eval -b humaneval` stops with one
line naming --allow-unsandboxed before the first question; with the option it runs, and
summary.json and run.json record the mode. (The CLI runs in-process here, so the sandbox's probe can
be made to fail; the model is a loopback server.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from archon_cli.cli import main
from archon_cli.execution import sandbox as sandbox_module
from archon_cli.execution.sandbox import SandboxCapabilities
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import SHARED_DATA
from tests.reliability import write_architecture


def eval_humaneval(tmp_path: Path, api_base: str, *extra: str) -> int:
    arch = write_architecture(tmp_path / "arch.yaml", api_base)
    argv = [
        "archon", "eval", str(arch), "-b", "humaneval", "--limit", "1", "--data-dir", str(SHARED_DATA),
        "--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"), *extra,
    ]  # fmt: skip
    old = sys.argv
    sys.argv = argv
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        sys.argv = old
    return int(exited.value.code or 0)


def test_without_isolation_code_runs_only_with_allow_unsandboxed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        sandbox_module, "_probe_isolation", lambda: SandboxCapabilities(False, "user namespaces refused (test)")
    )
    with FaultServer(FaultPlan()) as server:
        code = eval_humaneval(tmp_path, server.api_base)
        refused = capsys.readouterr().err
        asked_before = server.stats()["requests"]
        allowed = eval_humaneval(tmp_path, server.api_base, "--allow-unsandboxed")
    assert code == 2 and asked_before == 0
    assert len(refused.strip().splitlines()) == 1 and "--allow-unsandboxed" in refused
    assert "user namespaces refused (test)" in refused and "Traceback" not in refused
    assert allowed == 0
    (run_dir,) = (tmp_path / "results").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["sandbox"]["mode"] == "unsandboxed" and summary["questions"] == 1
    assert json.loads((run_dir / "run.json").read_text())["sandbox"]["mode"] == "unsandboxed"


@pytest.mark.skipif(not sandbox_module.Sandbox().capabilities().isolated, reason="needs the isolated sandbox")
def test_the_isolated_mode_is_recorded(tmp_path: Path) -> None:
    with FaultServer(FaultPlan()) as server:
        assert eval_humaneval(tmp_path, server.api_base) == 0
    (run_dir,) = (tmp_path / "results").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["sandbox"]["mode"] == "isolated" and summary["sandbox"]["network"].startswith("none")
    record = json.loads((run_dir / "questions.jsonl").read_text().splitlines()[0])
    assert record["score"] == 0.0 and record["score_details"]["sandbox"] == "isolated"
