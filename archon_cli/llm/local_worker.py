"""The child process that runs llama.cpp for the embedded models: ``python -m archon_cli.llm.local_worker``.

llama.cpp is native code: a build that does not suit the CPU dies of a signal (a segmentation
fault on some AVX-512/AMX Xeons) and would take the whole command with it, with no message. In
its own process, a crash is an EOF the parent can see and explain in one line, while everything
the parent already wrote stays on disk.

Protocol: one JSON object per line. The parent writes requests on the child's stdin,
``{"path", "chat", "n_ctx", "threads", "messages" | "prompt", "params"}``; the child answers on its
stdout, ``{"text", "prompt_tokens", "completion_tokens"}`` or ``{"error": "Type: message"}``. The
child moves the protocol off fd 1 before loading llama.cpp, whose native code prints to fds 1 and
2, and sends those to /dev/null. It exits when its stdin closes (the parent ended, even by kill -9).
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any


def _protocol_streams() -> tuple[IO[str], IO[str]]:
    """Our own copies of stdin/stdout for the protocol; fds 1 and 2 then point at /dev/null."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    return requests, replies


class _Models:
    """Each GGUF loaded once, on first use, with the settings of its first request."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}

    def get(self, path: str, n_ctx: int, threads: int) -> Any:
        llama = self._loaded.get(path)
        if llama is None:
            from llama_cpp import Llama

            llama = Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, verbose=False)
            self._loaded[path] = llama
        return llama


def answer(models: _Models, request: dict[str, Any]) -> dict[str, Any]:
    llama = models.get(request["path"], int(request["n_ctx"]), int(request["threads"]))
    params = request["params"]
    if request["chat"]:
        result = llama.create_chat_completion(messages=request["messages"], **params)
        text = result["choices"][0]["message"]["content"] or ""
    else:
        result = llama.create_completion(prompt=request["prompt"], **params)
        text = result["choices"][0]["text"] or ""
    usage = result.get("usage") or {}
    return {
        "text": text,
        "prompt_tokens": int(usage.get("prompt_tokens", 0)),
        "completion_tokens": int(usage.get("completion_tokens", 0)),
    }


def main() -> int:
    requests, replies = _protocol_streams()
    models = _Models()
    for line in requests:
        try:
            reply = answer(models, json.loads(line))
        except Exception as exc:  # reported to the parent, which decides whether to retry
            message = (str(exc).strip().splitlines() or [""])[0][:300]
            reply = {"error": f"{type(exc).__name__}: {message}" if message else type(exc).__name__}
        replies.write(json.dumps(reply, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
