"""`make install`: exact pins, a portable llama.cpp build that pip's cache cannot replace, and an
install check that turns a crashing build into one line."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CONSTRAINTS = ROOT / "requirements" / "constraints.txt"


def _pins() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{CONSTRAINTS}: {line!r} is not an exact pin"
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_installed_package_is_pinned_at_its_installed_version() -> None:
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    pins = _pins()
    unpinned, different = [], []
    for line in frozen:
        if not line.strip() or line.startswith("#"):
            continue
        if "==" not in line:  # installed from a path or URL: a hand-made install, not `make install`
            unpinned.append(line)
            continue
        name, version = line.split("==", 1)
        pinned = pins.get(_canonical(name))
        if pinned is None:
            unpinned.append(line)
        elif pinned != version:
            different.append(f"{name} {version} installed, {pinned} pinned")
    assert not unpinned, f"installed but not pinned in {CONSTRAINTS.name}: {unpinned} (run `make lock`)"
    assert not different, f"installed versions differ from the pins: {different}"


def test_the_project_and_the_makefile_agree_on_the_llama_cpp_version() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    version = re.search(r"^LLAMA_VERSION := (\S+)$", makefile, re.M)
    assert version is not None
    assert _pins()["llama-cpp-python"] == version.group(1)
    assert f"llama-cpp-python[server]=={version.group(1)}" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def _dry_run(*variables: str) -> str:
    """What `make install` would run in an empty venv folder, without running it."""
    proc = subprocess.run(
        ["make", "-n", "install", "VENV=/nonexistent/venv", "WHEEL_HOME=/nonexistent/wheels", *variables],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return proc.stdout.replace("\\\n", " ")  # one line per command


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_llama_cpp_wheel_is_built_portably_outside_pips_cache_in_a_folder_keyed_by_its_flags() -> None:
    plan = _dry_run()
    build = next(line for line in plan.splitlines() if "pip wheel" in line)
    assert "--no-cache-dir" in build and "--no-binary llama-cpp-python" in build
    if os.uname().machine == "x86_64":
        assert "-DGGML_NATIVE=OFF" in build and "-DGGML_AVX2=ON" in build
        assert "-DGGML_AVX512=OFF" in build and "-DGGML_AMX_TILE=OFF" in build
    folder = re.search(r"-w (\S+)", build)
    assert folder is not None and folder.group(1).startswith("/nonexistent/wheels/llama-cpp-python-")
    # The install takes llama-cpp-python only as that wheel, and replaces any other build in the venv.
    install = [line for line in plan.splitlines() if "llama-cpp-python==" in line and "pip install" in line]
    assert install and all(folder.group(1) in line for line in install)
    assert any("--force-reinstall" in line and "--no-index" in line for line in install)
    assert "--only-binary llama-cpp-python" in plan
    assert "scripts/check_install.py" in plan
    # Other flags, another folder: a wheel built with one set of flags is never taken for another.
    other = _dry_run("LLAMA_CMAKE_ARGS=-DGGML_NATIVE=ON")
    other_folder = re.search(r"-w (\S+)", next(line for line in other.splitlines() if "pip wheel" in line))
    assert other_folder is not None and other_folder.group(1) != folder.group(1)


def _load_check_install():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("check_install", ROOT / "scripts" / "check_install.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("signal_name", "expected"),
    [("SEGV", "llama.cpp crashed (segmentation fault)"), ("ILL", "instruction this CPU lacks")],
)
def test_a_build_that_crashes_fails_the_install_check_in_one_line(
    tmp_path: Path, signal_name: str, expected: str
) -> None:
    # A stand-in interpreter that dies of a real signal, as a bad llama.cpp build does.
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nkill -{signal_name} $$\n", encoding="utf-8")
    fake.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = (
        "import sys, runpy; sys.argv = ['check_install.py']; real = sys.executable; "
        f"sys.executable = {str(fake)!r}; runpy.run_path({str(ROOT / 'scripts' / 'check_install.py')!r}, run_name='__main__')"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("install check failed: local/smollm2-135m: ")
    assert expected in lines[0] and "make rebuild-llama" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.local_model
def test_the_install_check_passes_on_this_build(local_model_available: None) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_install.py")], capture_output=True, text=True, timeout=700
    )
    assert proc.returncode == 0, proc.stderr
    assert re.match(r"embedded models OK: local/smollm2-135m \d+ tokens in .*; local/gemma-3-270m \d+ tokens", proc.stdout)
