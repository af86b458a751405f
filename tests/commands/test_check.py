"""`archon check`: validates architecture files (ours and the original Archon's) without calling a
model, for CI scripts: OK with static calls, models and warnings, or the one-line error; exit 0
when every file is valid, 2 otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_cli

ARCHON_STYLE = {
    "name": "tests-first",
    "layers": [
        {"branches": 1, "models": [{"type": "unit_test_generator", "model": "gpt-4o", "model_type": "OpenAI_API",
                                    "temperature": 0.7, "max_tokens": 2048, "samples": 1, "unit_test_cap": 3}]},
        {"branches": 1, "models": [{"type": "generator", "model": "gpt-4o", "model_type": "OpenAI_API",
                                    "temperature": 0.7, "max_tokens": 2048, "samples": 4, "top_k": 1}]},
        {"branches": 1, "models": [{"type": "fuser", "model": "gpt-4o", "model_type": "OpenAI_API",
                                    "temperature": 0.7, "max_tokens": 2048, "samples": 1}]},
    ],
}  # fmt: skip


def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    archon = tmp_path / "archon.json"
    archon.write_text(json.dumps(ARCHON_STYLE), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "layers": [[{"type": "generator"}]', encoding="utf-8")
    ours = ROOT / "architectures" / "gen-ranker-fuser.yaml"
    return ours, archon, broken


def test_valid_files_print_ok_with_calls_models_and_warnings(tmp_path: Path) -> None:
    ours, archon, _ = files(tmp_path)
    result = run_cli("check", str(ours), str(archon))
    assert result.code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"OK    {ours}: 6 calls per query (4 + 1 + 1); models: local/smollm2-135m"
    assert lines[1] == f"OK    {archon}: 6 calls per query (1 + 4 + 1); models: openai/gpt-4o"
    assert any("warning: layers[1][0].top_k: has no effect on a generator" in line for line in lines)
    assert lines[-1] == "2 of 2 files valid"


def test_an_invalid_file_is_one_line_and_exit_2_without_stopping_the_others(tmp_path: Path) -> None:
    ours, _, broken = files(tmp_path)
    result = run_cli("check", str(broken), str(tmp_path / "missing.yaml"), str(ours))
    assert result.code == 2 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"ERROR {broken}: invalid JSON at line 1")
    assert lines[1] == f"ERROR {tmp_path / 'missing.yaml'}: architecture file not found"
    assert lines[2].startswith(f"OK    {ours}")
    assert lines[-1] == "1 of 3 files valid"


def test_json_output(tmp_path: Path) -> None:
    ours, archon, broken = files(tmp_path)
    result = run_cli("check", "--json", str(archon), str(broken))
    assert result.code == 2
    report = json.loads(result.stdout)
    assert (report["valid"], report["invalid"]) == (1, 1)
    good, bad = report["files"]
    assert good["ok"] and good["static_calls"] == 6 and good["layer_calls"] == [1, 4, 1]
    assert good["models"] == ["openai/gpt-4o"] and good["name"] == "tests-first"
    assert any(w.startswith("layers[0].branches") for w in good["warnings"])
    assert bad == {"file": str(broken), "ok": False, "error": bad["error"]}
    assert "invalid JSON" in bad["error"] and "\n" not in bad["error"]
    assert json.loads(run_cli("check", "--json", str(ours)).stdout)["valid"] == 1


def test_check_never_loads_a_model_or_litellm(tmp_path: Path) -> None:
    _, archon, _ = files(tmp_path)
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['archon', 'check', {str(archon)!r}]\n"
        "try:\n    runpy.run_module('archon_cli', run_name='__main__')\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        "loaded = [m for m in ('litellm', 'llama_cpp', 'archon_cli.llm.gateway') if m in sys.modules]\n"
        "print('RESULT', code, loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "RESULT 0 []" in out.stdout, out.stdout + out.stderr


def test_prompt_styles_are_checked(tmp_path: Path) -> None:
    styles = ROOT / "architectures" / "prompt-styles-vote.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: b\nlayers:\n  - - {type: generator, prompt_format: two_shot}\n  - - {type: majority_vote}\n",
        encoding="utf-8",
    )
    chat_shots = tmp_path / "shots.yaml"
    chat_shots.write_text("name: s\nlayers:\n  - - {type: generator, shots: 2}\n", encoding="utf-8")
    result = run_cli("check", str(styles), str(bad), str(chat_shots))
    assert result.code == 2 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"OK    {styles}: 2 calls per query (2 + 0); models: local/smollm2-135m"
    assert lines[1].startswith(f"ERROR {bad}: layers[0][0].prompt_format") and "few_shot_completion" in lines[1]
    assert lines[2].startswith(f"ERROR {chat_shots}: layers[0][0]") and "shots" in lines[2]
