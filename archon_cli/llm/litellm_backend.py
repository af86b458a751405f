"""The only module that imports LiteLLM. Every model call in archon ends here.

LiteLLM routes any provider string (``openai/...``, ``anthropic/...``, ``hosted_vllm/...`` with
``api_base``, ...). The embedded models are registered as the LiteLLM custom provider ``local``.
Provider exceptions are mapped to two kinds: transient (retried by the gateway) and permanent.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import Any

from archon_cli.errors import ProviderError, TransientProviderError, UserError
from archon_cli.llm.local_models import POOL, PROVIDER, local_name
from archon_cli.llm.types import PURPOSE_HEADER, CompletionRequest, Usage

_setup_lock = threading.Lock()
_litellm: Any = None

# Placeholder key for OpenAI-compatible servers that need none (llama.cpp, vLLM on loopback).
_NO_KEY = "sk-no-key-required"


def _lib() -> Any:
    """Import and configure LiteLLM once, on first use (the import takes seconds)."""
    global _litellm
    with _setup_lock:
        if _litellm is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            os.environ.setdefault("LITELLM_LOG", "ERROR")
            import litellm

            litellm.suppress_debug_info = True
            litellm.drop_params = True
            litellm.telemetry = False
            litellm.custom_provider_map = [{"provider": PROVIDER, "custom_handler": _make_local_handler(litellm)}]
            _litellm = litellm
    return _litellm


def _make_local_handler(litellm: Any) -> Any:
    from litellm.types.utils import Choices, Message, ModelResponse
    from litellm.types.utils import Usage as LiteUsage

    class LocalHandler(litellm.CustomLLM):  # type: ignore[misc, name-defined]
        """Serves ``local/<name>`` from the in-process llama.cpp pool."""

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            optional = kwargs.get("optional_params") or {}
            request = CompletionRequest(
                model=f"{PROVIDER}/{model}",
                messages=tuple(messages),
                temperature=float(optional.get("temperature", 0.0)),
                max_tokens=int(optional.get("max_tokens", 256)),
                sample_index=int(optional.get("seed", 1000)) - 1000,
                stop=tuple(optional.get("stop") or ()),
            )
            reply = await POOL.get(model).complete(request)
            return ModelResponse(
                model=f"{PROVIDER}/{model}",
                choices=[Choices(index=0, finish_reason="stop", message=Message(role="assistant", content=reply.text))],
                usage=LiteUsage(
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                    total_tokens=reply.prompt_tokens + reply.completion_tokens,
                ),
            )

    return LocalHandler()


def _api_key(request: CompletionRequest) -> str | None:
    """The key named by ``api_key_env``; otherwise LiteLLM reads the provider's usual variable."""
    return os.environ.get(request.api_key_env) if request.api_key_env else None


def _retry_after(exc: Exception) -> float | None:
    # LiteLLM keeps the provider's headers in ``litellm_response_headers``; its ``response`` has none.
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    ):
        value = headers.get("retry-after") if headers is not None else None
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None
    return None


_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$|API_?KEY", re.I)
_SECRET_TEXT = re.compile(
    r"((?:authorization|x-api-key|api[-_]?key)[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?|bearer\s+)[^\s,;\"'}\]]+"
    r"|\bsk-[A-Za-z0-9_\-]{8,}",
    re.I,
)


def redact_secrets(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with API keys replaced by ``***``: ``secrets``, the values of key-like environment
    variables, and anything shaped like a bearer token or an ``sk-`` key. Provider error messages
    may echo request headers; they are stored in results and printed, so they pass through here."""
    values = {v for k, v in os.environ.items() if _SECRET_NAME.search(k)} | {s for s in secrets if s}
    for value in sorted({v.strip() for v in values if len(v.strip()) >= 8}, key=len, reverse=True):
        text = text.replace(value, "***")
    return _SECRET_TEXT.sub(lambda m: (m.group(1) or "") + "***", text)


def _classify(exc: Exception, model: str, secrets: Iterable[str | None] = ()) -> Exception:
    """A provider exception as TransientProviderError (retry) or ProviderError (give up now)."""
    lib = _lib()
    raw = redact_secrets(str(getattr(exc, "message", None) or exc), secrets)
    message = raw.strip().splitlines()[0][:300] if raw.strip() else type(exc).__name__
    permanent = (
        lib.AuthenticationError,
        lib.BadRequestError,
        lib.NotFoundError,
        lib.PermissionDeniedError,
        lib.UnprocessableEntityError,
    )
    if isinstance(exc, permanent):
        status = getattr(exc, "status_code", "")
        return ProviderError(f"{model}: {type(exc).__name__} {status}: {message}".replace("  ", " "))
    transient = (
        lib.RateLimitError,
        lib.InternalServerError,
        lib.ServiceUnavailableError,
        lib.APIConnectionError,
        lib.Timeout,
        lib.BadGatewayError,
    )
    status = getattr(exc, "status_code", None)
    if isinstance(exc, transient) or (isinstance(status, int) and (status >= 500 or status in (408, 409, 429))):
        return TransientProviderError(f"{model}: {type(exc).__name__}: {message}", retry_after=_retry_after(exc))
    if isinstance(exc, lib.APIError):  # e.g. a body that is not JSON: a server fault, worth a retry
        return TransientProviderError(f"{model}: {type(exc).__name__}: {message}")
    return ProviderError(f"{model}: {type(exc).__name__}: {message}")


class LiteLLMBackend:
    """Sends one request through ``litellm.acompletion`` with LiteLLM's own retries off."""

    async def complete(self, request: CompletionRequest) -> tuple[str, Usage]:
        lib = _lib()
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": [dict(m) for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "timeout": request.timeout,
            "num_retries": 0,
            "max_retries": 0,
        }
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if request.purpose:
            kwargs["extra_headers"] = {PURPOSE_HEADER: request.purpose}
        if local_name(request.model):
            kwargs["seed"] = 1000 + request.sample_index
        if request.api_base:
            kwargs["api_base"] = request.api_base
        key = _api_key(request)
        if key:
            kwargs["api_key"] = key
        elif request.api_base and not local_name(request.model) and not self._env_key(request.model):
            kwargs["api_key"] = _NO_KEY
        try:
            response = await lib.acompletion(**kwargs)
        except (ProviderError, UserError):
            raise
        except Exception as exc:  # every provider failure is classified, none escapes raw
            raise _classify(exc, request.model, (key, kwargs.get("api_key"))) from None
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise TransientProviderError(f"{request.model}: reply had no choices")
        text = choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = 0.0
        if not local_name(request.model):
            try:
                cost = float(lib.completion_cost(completion_response=response) or 0.0)
            except Exception:  # models missing from the price table cost what we cannot know
                cost = 0.0
        return text, Usage(prompt_tokens, completion_tokens, cost)

    def _env_key(self, model: str) -> bool:
        try:
            env = _lib().validate_environment(model=model)
        except Exception:
            return False
        return bool(env.get("keys_in_environment"))

    def check_route(self, model: str, api_base: str | None = None, api_key_env: str | None = None) -> None:
        """Raise UserError if no provider routes ``model`` or its API key is missing."""
        name = local_name(model)
        if name is not None:
            POOL.check(name)
            return
        lib = _lib()
        try:
            lib.get_llm_provider(model=model, api_base=api_base)
        except Exception:
            raise UserError(
                f"model '{model}' cannot be routed: no provider known for it "
                "(prefix it with a LiteLLM provider, e.g. openai/, anthropic/, together_ai/, hosted_vllm/)"
            ) from None
        if api_key_env:
            if not os.environ.get(api_key_env):
                raise UserError(f"missing API key for '{model}': set {api_key_env}")
            return
        if api_base:
            return  # self-hosted OpenAI-compatible servers usually need no key
        # An empty variable is a missing key; LiteLLM only checks that the variable exists.
        blank = {k: v for k, v in os.environ.items() if k.endswith("_KEY") and not v.strip()}
        try:
            for k in blank:
                del os.environ[k]
            env = lib.validate_environment(model=model)
        except Exception:
            return
        finally:
            os.environ.update(blank)
        missing = env.get("missing_keys") or []
        if missing:
            raise UserError(f"missing API key for '{model}': set {' or '.join(missing)}")
