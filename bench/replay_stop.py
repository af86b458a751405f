"""Replay the recorded samples (bench/record_samples.py) under the vote's stopping rules: the full
20-sample vote against Adaptive-Consistency's beta rule and ESC's window rule, each drawing the
samples in their recorded order (sample slot 0, 1, ...), as the engine draws them.

    python bench/replay_stop.py                       # the table of bench/RESULTS.md
    python bench/replay_stop.py --json                # the same figures as JSON

No model is called: the rules, the rounds and the stopping decision are the engine's own
(``archon_cli.engine.rounds.rounds`` and each rule's ``decided``), on the answers the vote extracts.
Per rule: accuracy, its paired difference from the full vote (95% percentile bootstrap over the
questions), the mean samples drawn and their share of the full count. Fixed votes of k samples
(the first k) show what the same spend buys without a rule.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from archon_cli.components.majority_vote import BetaStop, StopRule, WindowStop
from archon_cli.engine.rounds import rounds

ROOT = Path(__file__).resolve().parent.parent
RULES: dict[str, StopRule | None] = {
    "full vote": None,
    "beta 0.95": BetaStop(confidence=0.95),
    "beta 0.9": BetaStop(confidence=0.9),
    "window 3": WindowStop(size=3),
    "window 4": WindowStop(size=4),
}


def vote_right(answers: list[str | None], right: list[int]) -> int:
    """Whether the vote over these samples is right: the most common stated answer (ties to the
    one seen first), its first sample's score; with no stated answer, the first sample's."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return right[0]
    winner = max(counts, key=lambda k: counts[k])
    return right[answers.index(winner)]


def drawn(answers: list[str | None], rule: StopRule | None) -> int:
    """How many samples the rule draws before it stops (all of them without a rule)."""
    if rule is None:
        return len(answers)
    seen = 0
    for (count,) in rounds([len(answers)], rule):
        seen += count
        if rule.decided(answers[:seen], count):
            break
    return seen


def paired_ci(a: np.ndarray, b: np.ndarray, seed: int = 0, resamples: int = 4000) -> tuple[float, float, float]:
    """Mean of a - b with its 95% percentile bootstrap interval (questions resampled)."""
    diff = a - b
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[picks].mean(axis=1)
    return float(diff.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def replay(rows: list[dict[str, Any]], samples: int) -> dict[str, Any]:
    rows = [r for r in rows if len(r["answers"]) >= samples]
    full = np.array([vote_right(r["answers"][:samples], r["right"][:samples]) for r in rows], dtype=float)
    out: dict[str, Any] = {"questions": len(rows), "samples": samples, "rules": {}, "fixed": {}}
    for name, rule in RULES.items():
        counts = [drawn(r["answers"][:samples], rule) for r in rows]
        right = np.array([vote_right(r["answers"][:k], r["right"][:k]) for r, k in zip(rows, counts, strict=True)])
        diff, low, high = paired_ci(right.astype(float), full)
        out["rules"][name] = {
            "accuracy": float(right.mean()),
            "difference_points": round(100 * diff, 2),
            "ci_low_points": round(100 * low, 2),
            "ci_high_points": round(100 * high, 2),
            "mean_samples": float(np.mean(counts)),
            "share_of_full": float(np.mean(counts)) / samples,
        }
    for k in (1, 3, 5, 7, 10, 15, samples):
        right = np.array([vote_right(r["answers"][:k], r["right"][:k]) for r in rows], dtype=float)
        out["fixed"][k] = float(right.mean())
    out["per_sample_accuracy"] = float(np.mean([np.mean(r["right"][:samples]) for r in rows]))
    return out


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['questions']} questions, {result['samples']} samples each "
        f"(one sample right {result['per_sample_accuracy']:.3f} of the time)",
        "",
        "| rule | accuracy | vs full vote, points (95% CI) | samples per question | share of full |",
        "|---|---|---|---|---|",
    ]
    for name, r in result["rules"].items():
        versus = (
            "-"
            if name == "full vote"
            else f"{r['difference_points']:+.2f} ({r['ci_low_points']:+.2f} to {r['ci_high_points']:+.2f})"
        )
        lines.append(
            f"| {name} | {r['accuracy']:.3f} | {versus} | {r['mean_samples']:.2f} | {r['share_of_full']:.3f} |"
        )
    lines += [
        "",
        "fixed votes of the first k samples: " + ", ".join(f"k={k} {a:.3f}" for k, a in result["fixed"].items()),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=Path, default=ROOT / "bench/data/replay_tiny_arith_test.jsonl")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.table.read_text().splitlines() if line.strip()]
    result = replay(rows, args.samples)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
