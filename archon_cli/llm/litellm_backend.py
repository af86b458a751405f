"""The only module that imports LiteLLM. Every model call in archon ends here.

LiteLLM routes any provider string (``openai/...``, ``anthropic/...``, ``hosted_vllm/...`` with
``api_base``, ...). Embedded models (``local/...``) are answered by the backend's own pool of
in-process llama.cpp models, without LiteLLM. Provider exceptions are mapped to two kinds:
transient (retried by the gateway) and permanent.
"""

from __future__ import annotations

import gc
import os
import re
import threading
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from archon_cli.errors import ArchonError, ProviderError, TransientProviderError, UserError
from archon_cli.llm.local_models import LocalModelPool, local_name
from archon_cli.llm.samples import MAX_SAMPLES_PER_REQUEST
from archon_cli.llm.types import PURPOSE_HEADER, CompletionRequest, Usage

_setup_lock = threading.Lock()
_litellm: Any = None

# Placeholder key for OpenAI-compatible servers that need none (llama.cpp, vLLM on loopback).
_NO_KEY = "sk-no-key-required"
# Sampling parameters dropped for a model that does not take them (never max_tokens: it bounds a send).
_DROPPABLE = ("temperature", "stop")


def _lib() -> Any:
    """Import and configure LiteLLM once, on first use (the import takes seconds)."""
    global _litellm
    if _litellm is not None:  # every call after the first: no lock
        return _litellm
    with _setup_lock:
        if _litellm is None:
            # LiteLLM reads these at import: the bundled price map (no download), quiet logs.
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            os.environ.setdefault("LITELLM_LOG", "ERROR")
            # LiteLLM's own HTTP handler for the openai/ route instead of the OpenAI SDK (LiteLLM's
            # switch, read on every call): the SDK's request transform and response models cost
            # about 2 ms of CPU per request here (bench/RESULTS.md, figure 1's notes). Same
            # requests, usage and error classes; set it to "false" to go through the SDK.
            os.environ.setdefault("EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER", "true")
            # No collections during the import: it builds some 300,000 objects that live as long
            # as the process, and each collection on the way walks them again for nothing: about
            # 0.6 of its 2.5 s here (bench/RESULTS.md, figure 7's notes).
            collecting = gc.isenabled()
            gc.disable()
            try:
                import litellm
            finally:
                if collecting:
                    gc.enable()

            litellm.suppress_debug_info = True
            # Off: with drop_params on, LiteLLM answers an HTTP 422 by sending the request again
            # (OpenAIChatCompletion.acompletion's "for _ in range(2)" loop), a send our door never
            # sees or counts. Parameters a model does not take are dropped here instead (see
            # LiteLLMBackend.complete), before anything is sent.
            litellm.drop_params = False
            litellm.telemetry = False
            # The import leaves some 300,000 objects (the price map, provider tables, pydantic
            # models) that live as long as the process. Python's full collections walk every
            # object each time, about 75 ms here, several times a minute under load; frozen, they
            # are left out of every collection (bench/RESULTS.md, figure 1's notes).
            gc.freeze()
            _litellm = litellm
    return _litellm


def load_litellm() -> Any:
    """LiteLLM, imported and configured (for the Router and for workers that warm up)."""
    return _lib()


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
    variables (each exactly, whatever its length; an ``sk-`` key also without its prefix, as some
    providers quote it), and anything shaped like a bearer token or an ``sk-`` key. Provider error
    messages may echo request headers; they are stored in results and printed, so they pass through here."""
    values = {v.strip() for k, v in os.environ.items() if _SECRET_NAME.search(k)} | {s.strip() for s in secrets if s}
    values |= {v[3:] for v in values if v.startswith("sk-")}
    for value in sorted((v for v in values if v), key=len, reverse=True):
        if len(value) >= 8:
            text = text.replace(value, "***")
        else:  # a short key only where it stands alone, so "1" does not shred "HTTP 401"
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", "***", text)
    return _SECRET_TEXT.sub(lambda m: (m.group(1) or "") + "***", text)


# Refusals that the same request would meet again: bad request, key, permission, model, parameters.
PERMANENT_STATUS = frozenset({400, 401, 403, 404, 422})


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
    status = getattr(exc, "status_code", None)
    if isinstance(exc, permanent) or status in PERMANENT_STATUS:
        return ProviderError(f"{model}: {type(exc).__name__} {status or ''}: {message}".replace(" :", ":"))
    transient = (
        lib.RateLimitError,
        lib.InternalServerError,
        lib.ServiceUnavailableError,
        lib.APIConnectionError,
        lib.Timeout,
        lib.BadGatewayError,
    )
    if isinstance(exc, transient) or (isinstance(status, int) and (status >= 500 or status in (408, 409, 429))):
        return TransientProviderError(f"{model}: {type(exc).__name__}: {message}", retry_after=_retry_after(exc))
    if isinstance(exc, lib.APIError):  # e.g. a body that is not JSON: a server fault, worth a retry
        return TransientProviderError(f"{model}: {type(exc).__name__}: {message}")
    return ProviderError(f"{model}: {type(exc).__name__}: {message}")


def _cost(lib: Any, response: Any) -> float:
    """The reply's cost in dollars: LiteLLM works it out for every reply (``response_cost`` in its
    hidden parameters); asked again only when it is missing. Models missing from the price table
    cost what we cannot know: 0."""
    hidden = getattr(response, "_hidden_params", None) or {}
    if isinstance(hidden, dict) and "response_cost" in hidden:
        # LiteLLM's own answer, None included: asking again would only repeat its failed search
        # of the price map (about 0.3 ms per request for a model it has no price for).
        return float(hidden["response_cost"] or 0.0)
    cost = getattr(hidden, "response_cost", None)
    if cost is None:
        try:
            cost = lib.completion_cost(completion_response=response)
        except Exception:
            cost = 0.0
    return float(cost or 0.0)


def read_reply(lib: Any, request: CompletionRequest, response: Any, n: int = 1) -> tuple[list[str], Usage]:
    """The texts of a LiteLLM reply's first ``n`` choices and its usage and cost (for the plain
    backend and the Router alike)."""
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise TransientProviderError(f"{request.model}: reply had no choices")
    # a chat reply's text is its message's content; a text completion's, the choice's text
    if request.prompt is None:
        texts = [choice.message.content or "" for choice in choices[:n]]
    else:
        texts = [getattr(choice, "text", None) or "" for choice in choices[:n]]
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    return texts, Usage(prompt_tokens, completion_tokens, _cost(lib, response))


class _OsView:
    """``os`` as ``litellm.validate_environment`` sees it: with the given environment."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def _missing_keys(lib: Any, model: str) -> list[str]:
    """The key variables ``model`` needs and lacks. LiteLLM only checks that a variable exists; an
    empty one is a missing key here, so LiteLLM's check runs against the environment without the
    blank ``*_KEY`` variables (a copy of its function with its own view of ``os``: the process
    environment is never changed)."""
    validate = lib.validate_environment
    blank = {k for k, v in os.environ.items() if k.endswith("_KEY") and not v.strip()}
    if blank:
        view = _OsView({k: v for k, v in os.environ.items() if k not in blank})
        validate = types.FunctionType(
            validate.__code__, {**validate.__globals__, "os": view}, validate.__name__, validate.__defaults__
        )
    try:
        env = validate(model=model)
    except Exception:
        return []
    return list(env.get("missing_keys") or [])


class LiteLLMBackend:
    """Sends one request through ``litellm.acompletion`` with LiteLLM's own retries off; embedded
    models through ``local_models``, the pool this backend owns."""

    def __init__(self, local_models: LocalModelPool | None = None) -> None:
        self.local_models = local_models or LocalModelPool()
        self._dropped: dict[str, set[str]] = {}  # per model: sampling parameters it does not take
        self._env_keys: dict[str, bool] = {}  # per model: its provider's key is in the environment
        self._priced: set[str] = set()  # models whose price LiteLLM can look up without a search

    async def complete(self, request: CompletionRequest) -> tuple[str, Usage]:
        name = local_name(request.model)
        if name is not None:
            return await self._complete_local(name, request)
        texts, usage = await self._complete(request, 1)
        return texts[0], usage

    def samples_per_request(self, request: CompletionRequest) -> int:
        """How many samples one request may carry: ``MAX_SAMPLES_PER_REQUEST`` where LiteLLM lists
        ``n`` among the route's OpenAI parameters (OpenAI, vLLM, OpenAI-compatible servers), else 1
        (Anthropic, the embedded model, a route LiteLLM cannot name). The gateway asks once per
        route (``llm/samples.py``: ``SampleCaps``)."""
        if local_name(request.model) is not None:
            return 1
        lib = _lib()
        try:
            model, provider, _, _ = lib.get_llm_provider(model=request.model, api_base=request.api_base)
            params = lib.get_supported_openai_params(model=model, custom_llm_provider=provider) or []
        except Exception:
            params = []
        return MAX_SAMPLES_PER_REQUEST if "n" in params else 1

    async def complete_samples(self, request: CompletionRequest, n: int) -> tuple[list[str], Usage]:
        """One request with ``n`` for ``n`` samples: the choices' texts (a server that ignores ``n``
        sends fewer) and the request's usage (the prompt once, the completions summed)."""
        return await self._complete(request, n)

    async def _complete(self, request: CompletionRequest, n: int) -> tuple[list[str], Usage]:
        return await self.send(request, n, _lib())

    def request_arguments(self, request: CompletionRequest, n: int, routed: bool = False) -> dict[str, Any]:
        """LiteLLM's keyword arguments for ``request`` with ``n`` samples: the one builder, for this
        backend and the Router (``routed``: the Router's deployment gives the server and its key)."""
        kwargs: dict[str, Any] = {
            "model": request.model,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "timeout": request.timeout,
            "num_retries": 0,
            "max_retries": 0,
            "drop_params": False,
        }
        if request.prompt is None:
            kwargs["messages"] = [dict(m) for m in request.messages]
        else:  # a plain completion (few-shot transcript): the provider's text-completion endpoint
            kwargs["prompt"] = request.prompt
        if n > 1:
            kwargs["n"] = n
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if request.purpose:
            kwargs["extra_headers"] = {PURPOSE_HEADER: request.purpose}
        if routed:
            return kwargs
        if request.api_base:
            kwargs["api_base"] = request.api_base
        key = _api_key(request)
        if key:
            kwargs["api_key"] = key
        elif request.api_base and not self._env_key(request.model):
            kwargs["api_key"] = _NO_KEY
        if request.api_base and request.model not in self._priced:
            self._price_self_hosted(_lib(), request.model)
        return kwargs

    async def send(
        self,
        request: CompletionRequest,
        n: int,
        through: Any,
        routed: bool = False,
        translate: Callable[[Exception], Exception | None] | None = None,
    ) -> tuple[list[str], Usage]:
        """Send ``request`` (``n`` samples) through ``through`` (LiteLLM, or a Router: whatever has
        ``acompletion`` and ``atext_completion``) and read the reply. A parameter the model does
        not take is dropped for that model and the request sent again; any other failure is
        classified (``translate`` first, for the Router's own), with the keys redacted."""
        lib = _lib()
        kwargs = self.request_arguments(request, n, routed)
        send = through.acompletion if request.prompt is None else through.atext_completion
        secrets = (_api_key(request), kwargs.get("api_key"))
        dropped = self._dropped.setdefault(request.model, set())
        while True:
            try:
                response = await send(**{k: v for k, v in kwargs.items() if k not in dropped})
                break
            except (ProviderError, UserError):
                raise
            except lib.UnsupportedParamsError as exc:
                # Raised before anything is sent: a parameter the model does not take (o-series
                # temperature, gpt-5 stop). Dropped for this model, as LiteLLM's drop_params would.
                unsupported = {p for p in _DROPPABLE if p in str(exc) and p in kwargs} - dropped
                if not unsupported:
                    raise _classify(exc, request.model, secrets) from None
                dropped |= unsupported
            except Exception as exc:  # every provider failure is classified, none escapes raw
                raise (translate and translate(exc)) or _classify(exc, request.model, secrets) from None
        return read_reply(lib, request, response, n)

    def _price_self_hosted(self, lib: Any, model: str) -> None:
        """A model on a server of one's own (``api_base``) that LiteLLM's price map lacks costs what
        we cannot know: 0, as its replies are counted. LiteLLM does not remember a failed lookup, so
        it would search its whole map (provider prefixes, generalisation rules) twice per reply to
        find nothing, about 0.3 ms of CPU each time; registered once at price 0, each reply's lookup
        is a hit in its cache. A model the map has keeps its price."""
        self._priced.add(model)
        try:
            lib.get_model_info(model=model)
            return  # priced (or at least known) already
        except Exception:
            pass
        try:
            _, provider, _, _ = lib.get_llm_provider(model=model)
            lib.register_model(
                {
                    model: {
                        "input_cost_per_token": 0.0,
                        "output_cost_per_token": 0.0,
                        "litellm_provider": provider,
                        "mode": "chat",
                    }
                }
            )
        except Exception:
            pass  # LiteLLM keeps searching: slower, the same cost (0)

    def price(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollars for these tokens at LiteLLM's price for ``model``: 0 for embedded models and for
        models missing from its price map (their replies cost 0 too)."""
        if local_name(model) is not None:
            return 0.0
        try:
            prompt_cost, completion_cost = _lib().cost_per_token(
                model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        except Exception:
            return 0.0
        return float(prompt_cost) + float(completion_cost)

    async def _complete_local(self, name: str, request: CompletionRequest) -> tuple[str, Usage]:
        try:
            reply = await self.local_models.get(name).complete(request)
        except ArchonError:
            raise
        except Exception as exc:  # a llama.cpp failure: retried, like any provider's server fault
            message = (str(exc).strip().splitlines() or [""])[0][:300] or type(exc).__name__
            if "exceed context window" in message:  # the same prompt can never fit: permanent
                raise ProviderError(f"{request.model}: the prompt does not fit the context window: {message}") from None
            raise TransientProviderError(f"{request.model}: {type(exc).__name__}: {message}") from None
        return reply.text, Usage(reply.prompt_tokens, reply.completion_tokens, 0.0)

    def _env_key(self, model: str) -> bool:
        known = self._env_keys.get(model)
        if known is None:
            try:
                env = _lib().validate_environment(model=model)
            except Exception:
                env = {}
            known = self._env_keys[model] = bool(env.get("keys_in_environment"))
        return known

    def check_route(self, model: str, api_base: str | None = None, api_key_env: str | None = None) -> None:
        """Raise UserError if no provider routes ``model`` or its API key is missing."""
        name = local_name(model)
        if name is not None:
            self.local_models.check(name)
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
        missing = _missing_keys(lib, model)
        if missing:
            raise UserError(f"missing API key for '{model}': set {' or '.join(missing)}")
