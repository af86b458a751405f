"""report.md for a pull request: the comparison table, the paired verdicts and the plot images."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join(" --- " if i < 2 else " ---: " for i in range(len(header))) + "|")
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def write_report(
    path: Path,
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    comparisons: Sequence[dict[str, Any]],
    plots: Sequence[Path],
    warnings: Sequence[str] = (),
) -> Path:
    """Write the report; images are linked relative to the report, so the folder can be moved whole."""
    parts = [
        f"# {title}",
        "",
        markdown_table(header, rows),
        "",
        "★ best (highest score); ◆ on the score/calls Pareto front.",
    ]
    if warnings:
        parts += ["", "**Warnings**", ""] + [f"- {w}" for w in warnings]
    if comparisons:
        parts += ["", "## Paired comparisons", "", "On the questions both runs share; 95% paired bootstrap CI.", ""]
        parts += [f"- {c['verdict']} (n={c['shared_questions']})" for c in comparisons]
    if plots:
        parts += ["", "## Plots", ""]
        for plot in plots:
            rel = Path(os.path.relpath(plot, path.parent)).as_posix()
            parts += [f"![{plot.stem.replace('_', ' ')}]({rel})", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")
    return path
