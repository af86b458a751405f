"""Model calls spread over replicas (``--router FILE``): a ``litellm.Router`` behind the one door.

The file is a LiteLLM Router model list, as LiteLLM's proxy config writes it::

    model_list:                       # several deployments may share a model_name
      - model_name: smollm            # the name architectures and --models use
        litellm_params:
          model: openai/smollm        # any LiteLLM route
          api_base: http://10.0.0.5:8000/v1
          api_key: os.environ/VLLM_KEY   # optional; LiteLLM reads the variable
          rpm: 600                    # optional per-deployment limits
          tpm: 200000
    routing_strategy: simple-shuffle  # or least-busy, usage-based-routing-v2, latency-based-routing
    router_settings:                  # optional: allowed_fails, cooldown_time, enable_pre_call_checks
      cooldown_time: 30

A request for a ``model_name`` of the file goes through the Router, which picks a deployment;
anything else goes to the plain LiteLLM backend. The gateway's retry and budget stay the only retry
loop and the only counters: the Router is built with ``num_retries=0`` and no fallbacks (a file that
asks for either is refused), so each send the gateway counts is one request to one replica. A
replica that fails is put in cooldown by the Router after ``allowed_fails`` failures (default here
1, cooldown 30 s), so the gateway's retry of that request lands on another replica.
The cache key is the model name, not the replica: replicas of one model share cached replies.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archon_cli.errors import ProviderError, TransientProviderError, UserError
from archon_cli.llm.litellm_backend import LiteLLMBackend, load_litellm
from archon_cli.llm.local_models import LocalModelPool
from archon_cli.llm.types import CompletionRequest, Usage


class RouterBackend:
    """A gateway Backend: the Router for the file's model names, plain LiteLLM for the rest.
    ``config`` is a checked router file (``config.router_file.load_router_file``)."""

    def __init__(self, config: dict[str, Any], local_models: LocalModelPool | None = None) -> None:
        self.config = config
        self.names = frozenset(entry["model_name"] for entry in config["model_list"])
        self.fallback = LiteLLMBackend(local_models)
        self.local_models = self.fallback.local_models
        self._router: Any = None
        self._last_failure: dict[str, str] = {}  # per model name: why its replicas were cooled down

    @property
    def router(self) -> Any:
        if self._router is None:
            lib = load_litellm()
            try:
                self._router = lib.Router(
                    model_list=[dict(entry) for entry in self.config["model_list"]],
                    routing_strategy=self.config["routing_strategy"],
                    num_retries=0,
                    fallbacks=[],
                    retry_after=0,
                    set_verbose=False,
                    **self.config["router_settings"],
                )
            except Exception as exc:
                raise UserError(f"the router file was refused by LiteLLM: {str(exc).splitlines()[0][:300]}") from None
        return self._router

    def deployments(self, model: str) -> list[dict[str, Any]]:
        return [dict(e["litellm_params"]) for e in self.config["model_list"] if e["model_name"] == model]

    def check_route(self, model: str, api_base: str | None = None, api_key_env: str | None = None) -> None:
        if model in self.names:
            self.router  # noqa: B018 (builds it: a bad list fails before any call)
            return
        self.fallback.check_route(model, api_base, api_key_env)

    def price(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """The dearest replica's price (a send may land on any)."""
        if model not in self.names:
            return self.fallback.price(model, prompt_tokens, completion_tokens)
        return max(
            (self.fallback.price(d["model"], prompt_tokens, completion_tokens) for d in self.deployments(model)),
            default=0.0,
        )

    def samples_per_request(self, request: CompletionRequest) -> int:
        """``n`` where every replica of the model takes it (a send may land on any)."""
        if request.model not in self.names:
            return self.fallback.samples_per_request(request)
        return min(
            (self.fallback.samples_per_request(replace(request, model=d["model"])) for d in self.deployments(request.model)),
            default=1,
        )

    async def complete(self, request: CompletionRequest) -> tuple[str, Usage]:
        if request.model not in self.names:
            return await self.fallback.complete(request)
        texts, usage = await self._send(request, 1)
        return texts[0], usage

    async def complete_samples(self, request: CompletionRequest, n: int) -> tuple[list[str], Usage]:
        if request.model not in self.names:
            return await self.fallback.complete_samples(request, n)
        return await self._send(request, n)

    async def _send(self, request: CompletionRequest, n: int) -> tuple[list[str], Usage]:
        """Through the Router, with the plain backend's request builder and error handling."""
        try:
            return await self.fallback.send(
                request, n, self.router, routed=True, translate=lambda exc: self._busy(exc, request.model)
            )
        except ProviderError as exc:
            if not getattr(exc, "cooling", False):  # why the replicas were cooled down, named later
                self._last_failure[request.model] = str(exc)[:300]
            raise

    def _busy(self, exc: Exception, model: str) -> Exception | None:
        """Every replica cooling down or at its limit: worth a retry after a while."""
        if "No deployments available" in str(exc) or isinstance(exc, getattr(load_litellm(), "RouterRateLimitError", ())):
            wait = float(self.config["router_settings"].get("cooldown_time") or 1.0)
            last = self._last_failure.get(model)
            busy = TransientProviderError(
                f"{model}: every replica is cooling down or at its rpm/tpm limit"
                + (f" (the last failure: {last})" if last else ""),
                retry_after=min(wait, 5.0),
            )
            busy.cooling = True  # type: ignore[attr-defined]
            return busy
        return None
