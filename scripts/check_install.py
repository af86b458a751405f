"""The last step of `make install`: each embedded model writes a short answer, through the real
`archon run`, in a child process. A build of llama.cpp that crashes on this CPU dies there, not in
the user's first command; the install then fails with one line saying what happened and what to do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("local/smollm2-135m", "local/gemma-3-270m")
PROMPT = "What is 3 + 4?"
TIMEOUT_S = 300


def architecture(model: str, folder: Path) -> Path:
    path = folder / f"check-{model.split('/')[-1]}.yaml"
    path.write_text(
        f"name: install-check\nlayers:\n  - - {{type: generator, model: {model}, temperature: 0.0, max_tokens: 8}}\n",
        encoding="utf-8",
    )
    return path


def why(returncode: int) -> str:
    if returncode == -signal.SIGSEGV:
        return (
            "llama.cpp crashed (segmentation fault): this build does not run on this CPU. "
            "Run `make rebuild-llama`; if it still crashes, report `lscpu` and try "
            "`make rebuild-llama LLAMA_CMAKE_ARGS=-DGGML_NATIVE=OFF`"
        )
    if returncode == -signal.SIGILL:
        return (
            "llama.cpp used an instruction this CPU lacks (illegal instruction; AVX2 is needed): "
            "run `make rebuild-llama LLAMA_CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF'`"
        )
    if returncode < 0:
        return f"the child process died of signal {signal.Signals(-returncode).name}: run `make rebuild-llama`"
    return ""


def check(model: str, folder: Path) -> tuple[bool, str]:
    command = [sys.executable, "-m", "archon_cli", "run", str(architecture(model, folder)), "--prompt", PROMPT]
    command += ["--no-cache", "--json"]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        return False, f"{model}: no answer within {TIMEOUT_S} s (is the machine overloaded?); run `make install` again"
    seconds = time.perf_counter() - started
    crash = why(proc.returncode)
    if crash:
        return False, f"{model}: {crash}"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        return False, f"{model}: `archon run` exited {proc.returncode}: {last}"
    try:
        record = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return False, f"{model}: `archon run --json` printed no JSON record: {proc.stdout[-200:]!r}"
    tokens = int(record.get("completion_tokens") or 0)
    if tokens < 1:
        return False, f"{model}: the model generated no tokens (answer {record.get('answer')!r})"
    return True, f"{model} {tokens} tokens in {seconds:.1f} s"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="archon-install-check-") as tmp:
        done = []
        for model in MODELS:
            ok, message = check(model, Path(tmp))
            if not ok:
                print(f"install check failed: {message}", file=sys.stderr)
                return 1
            done.append(message)
    print("embedded models OK: " + "; ".join(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
