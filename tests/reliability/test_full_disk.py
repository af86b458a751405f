"""A disk that fills up mid-run: one line naming the file, exit 2, what was written kept (a resume
sets a torn last line aside)."""

from __future__ import annotations

import resource
import signal
import subprocess
from pathlib import Path

from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import ROOT
from tests.reliability import cli_command, cli_env, eval_args, only_run_dir, read_records, write_architecture


def _small_disk() -> None:
    """In the child: files cannot grow past 6 kB (EFBIG, as a full disk's ENOSPC, on the write)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (6_000, 6_000))


def test_eval_on_a_full_disk_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(seed=5)) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base)
        args = [a for a in eval_args(arch, tmp_path / "results", tmp_path / "cache", 60) if a != str(tmp_path / "cache")]
        args[args.index("--cache-dir")] = "--no-cache"
        proc = subprocess.run(
            cli_command(*args), cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=180,
            preexec_fn=_small_disk,
        )  # fmt: skip
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and ".jsonl: " in lines[0], proc.stderr
    assert read_records(only_run_dir(tmp_path / "results"))  # what was written is kept
