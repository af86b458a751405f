"""The judge model of judge-based benchmarks, called through the same gateway (cached, counted).

Which judge: the one asked for (``--judge``); else the benchmark's official judge (MT-Bench:
FastChat's GPT-4; Arena-Hard and AlpacaEval: the models of their official settings) when its
provider key is set; else the embedded model, with a warning: it rarely writes a readable verdict,
so it checks the plumbing, not the architectures. Its settings (max_tokens, temperature) are the
official ones unless ``--judge-max-tokens`` says otherwise; the embedded judge is held to
``EMBEDDED_MAX_TOKENS`` (it cannot use more, and would take minutes per judgment).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from archon_cli.benchmarks.base import Benchmark, Judge
from archon_cli.llm.accountant import CallStats
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest, Message

DEFAULT_JUDGE = "local/smollm2-135m"
EMBEDDED_MAX_TOKENS = 512
_LOCAL_PREFIX = "local/"


class GatewayJudge(Judge):
    """Judge calls with the judge's settings; ``stats`` collects the calls of one question (kept
    apart from the architecture's calls, so calls per query stay the architecture's own)."""

    def __init__(
        self,
        gateway: LLMGateway,
        model: str = DEFAULT_JUDGE,
        stats: CallStats | None = None,
        max_tokens: int = EMBEDDED_MAX_TOKENS,
        api_base: str | None = None,
        api_key_env: str | None = None,
        temperature: float = 0.0,
    ) -> None:
        self.gateway = gateway
        self.model = model
        self.stats = stats or CallStats()
        self.max_tokens = max_tokens
        self.api_base = api_base
        self.api_key_env = api_key_env
        self.temperature = temperature

    def for_question(self) -> GatewayJudge:
        return GatewayJudge(
            self.gateway, self.model, CallStats(), self.max_tokens, self.api_base, self.api_key_env, self.temperature
        )

    async def ask(self, messages: Sequence[Message], sample_index: int = 0) -> str:
        request = CompletionRequest(
            model=self.model,
            messages=tuple(dict(m) for m in messages),
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            sample_index=sample_index,
            api_base=self.api_base,
            api_key_env=self.api_key_env,
            purpose="judge",
        )
        completion = await self.gateway.complete(request, self.stats)
        return completion.text

    def check_route(self) -> None:
        self.gateway.check_routes([(self.model, self.api_base, self.api_key_env)])


@dataclass(frozen=True)
class JudgeChoice:
    """The judge a run uses, why ("requested", "official" or "embedded"), its settings, and a
    warning for the user when it is the embedded fallback."""

    model: str
    origin: str
    max_tokens: int
    temperature: float = 0.0
    warning: str | None = None

    @property
    def weak(self) -> bool:
        """An embedded model: too small to judge (see the module docstring)."""
        return self.model.startswith(_LOCAL_PREFIX)


def choose_judge(
    benchmark: Benchmark,
    requested: str | None,
    provider_keys: Collection[str] = (),
    max_tokens: int | None = None,
) -> JudgeChoice | None:
    """The benchmark's judge (see the module docstring); None when it is scored without one.
    ``provider_keys``: the names of the API-key variables set in the environment."""
    if not benchmark.needs_judge and not (benchmark.judge_optional and requested):
        return None
    official = benchmark.official_judge()
    warning = None
    if requested:
        model, origin = requested, "requested"
    elif official is not None and (not official.key_env or official.key_env in provider_keys):
        model, origin = official.model, "official"
    else:
        model, origin = DEFAULT_JUDGE, "embedded"
        wanted = f"the official judge is {official.model} (set {official.key_env})" if official else "no official judge"
        warning = (
            f"{benchmark.name} is judged by the embedded {DEFAULT_JUDGE}: {wanted}, or pass --judge. "
            "The embedded model rarely writes a readable verdict: its scores check the plumbing, "
            "they do not rank architectures"
        )
    tokens = max_tokens if max_tokens is not None else (official.max_tokens if official else EMBEDDED_MAX_TOKENS)
    if max_tokens is None and model.startswith(_LOCAL_PREFIX):
        tokens = min(tokens, EMBEDDED_MAX_TOKENS)
    temperature = official.temperature if official is not None and origin == "official" else 0.0
    return JudgeChoice(model, origin, tokens, temperature, warning)


def judge_model_for(benchmark: Benchmark, requested: str | None) -> str | None:
    """The judge model a benchmark is scored with when no provider key is known: the one asked
    for, else the embedded default; None for benchmarks scored without a judge."""
    choice = choose_judge(benchmark, requested)
    return choice.model if choice else None


def make_judge(gateway: LLMGateway, choice: JudgeChoice | None) -> GatewayJudge | None:
    """The chosen judge, its route and key checked before any call (None without a judge)."""
    if choice is None:
        return None
    judge = GatewayJudge(gateway, choice.model, max_tokens=choice.max_tokens, temperature=choice.temperature)
    judge.check_route()
    return judge
