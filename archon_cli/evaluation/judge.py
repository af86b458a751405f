"""The judge model of judge-based benchmarks, called through the same gateway (cached, counted)."""

from __future__ import annotations

from collections.abc import Sequence

from archon_cli.benchmarks.base import Benchmark, Judge
from archon_cli.llm.accountant import CallStats
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest, Message

DEFAULT_JUDGE = "local/smollm2-135m"


class GatewayJudge(Judge):
    """Greedy judge calls; ``stats`` collects the calls of one question (kept apart from the
    architecture's calls, so calls per query stay the architecture's own)."""

    def __init__(
        self,
        gateway: LLMGateway,
        model: str = DEFAULT_JUDGE,
        stats: CallStats | None = None,
        max_tokens: int = 512,
        api_base: str | None = None,
        api_key_env: str | None = None,
    ) -> None:
        self.gateway = gateway
        self.model = model
        self.stats = stats or CallStats()
        self.max_tokens = max_tokens
        self.api_base = api_base
        self.api_key_env = api_key_env

    def for_question(self) -> GatewayJudge:
        return GatewayJudge(self.gateway, self.model, CallStats(), self.max_tokens, self.api_base, self.api_key_env)

    async def ask(self, messages: Sequence[Message], sample_index: int = 0) -> str:
        request = CompletionRequest(
            model=self.model,
            messages=tuple(dict(m) for m in messages),
            temperature=0.0,
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


def judge_model_for(benchmark: Benchmark, requested: str | None) -> str | None:
    """The judge model a benchmark is scored with: the one asked for, else the default; None for
    benchmarks scored without a judge."""
    return (requested or DEFAULT_JUDGE) if benchmark.needs_judge else None


def make_judge(
    benchmark: Benchmark, gateway: LLMGateway, requested: str | None, max_tokens: int = 512
) -> GatewayJudge | None:
    """The benchmark's judge, its route and key checked before any call (None without a judge)."""
    model = judge_model_for(benchmark, requested)
    if model is None:
        return None
    judge = GatewayJudge(gateway, model, max_tokens=max_tokens)
    judge.check_route()
    return judge
