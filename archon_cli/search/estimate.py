"""What a search's settings will cost, said before any call: stage 1, the baseline, the search
stage (rung by rung), the final test evaluation. Nominal calls, before the response cache's
savings (architectures sharing samples send fewer), and model calls only (a judge adds its own)."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean

from archon_cli.search.fidelity import expected_architectures


@dataclass(frozen=True)
class CallEstimate:
    stage1: int
    baseline: int
    search: int
    final: int
    per_rung: list[tuple[int, int]]  # (questions, architectures) per rung

    @property
    def total(self) -> int:
        return self.stage1 + self.baseline + self.search + self.final

    def as_dict(self) -> dict[str, object]:
        return {
            "stage1": self.stage1,
            "baseline": self.baseline,
            "search": self.search,
            "final": self.final,
            "total": self.total,
            "rungs": [{"questions": q, "architectures": a} for q, a in self.per_rung],
        }

    def describe(self, cap: int | None) -> str:
        rungs = ", ".join(f"{a} x {q}q" for q, a in self.per_rung)
        line = (
            f"estimated calls (before cache reuse): about {self.total:,} = stage 1 {self.stage1:,} + "
            f"baseline {self.baseline:,} + search {self.search:,} ({rungs}) + final {self.final:,}"
        )
        if cap is not None:
            verb = "is below" if cap < self.total else "covers"
            line += f"; --search-calls {cap:,} {verb} it"
            if cap < self.total:
                line += " (the cache may save enough; otherwise the search stops with exit 3 and resumes when re-run)"
        return line


def estimate_calls(
    *,
    pool_size: int,
    dev: int,
    test: int,
    rungs: tuple[int, ...],
    trials: int,
    final_k: int,
    architecture_calls: list[int],
) -> CallEstimate:
    """``architecture_calls``: calls per query of every feasible architecture (the search's average
    is their mean); ``rungs`` the rung sizes (the last is ``dev``)."""
    per_query = mean(architecture_calls) if architecture_calls else 0.0
    trials = min(trials, len(architecture_calls))
    counts = expected_architectures(trials, rungs, final_k if test else 0)
    search = 0.0
    previous = 0
    for size, count in zip(rungs, counts, strict=True):
        search += count * (size - previous) * per_query  # a promotion adds only the new questions
        previous = size
    finals = min(final_k, trials) if test else 0
    return CallEstimate(
        stage1=pool_size * dev,
        baseline=test,  # on dev the baseline is stage 1's run of the best model (the cache answers it)
        search=round(search),
        final=round(finals * test * per_query),
        per_rung=list(zip(rungs, counts, strict=True)),
    )
