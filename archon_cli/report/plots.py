"""Comparison plots as PNG files, drawn with matplotlib's Agg canvas (no display, no pyplot state).

Every plot is WIDTH_PX x HEIGHT_PX pixels (800 x 500: 8 x 5 inches at 100 dpi), so reports and
tests can rely on the size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from archon_cli.report.stats import pareto_front

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_PX, HEIGHT_PX, DPI = 800, 500, 100
# Grouped bars stay readable up to this many runs; the best ones are shown.
MAX_CATEGORY_RUNS = 8

Row = dict[str, Any]


def import_matplotlib() -> None:
    """Import the parts of matplotlib the plots draw with (a few tenths of a second), ahead of the
    first plot: commands do it in a thread while they wait on the network (commands/common.py)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401


def _figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    # No bbox_inches="tight": it would crop the canvas and change the pixel size.
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _groups(rows: Sequence[Row]) -> dict[tuple[str, str], list[Row]]:
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row["score"] is not None:
            groups.setdefault((row["benchmark"], row["split"]), []).append(row)
    return groups


def _score_label(rows: Sequence[Row]) -> str:
    metrics = sorted({str(r["metric"]) for r in rows})
    return " / ".join(metrics) + " (95% CI)"


def plot_score_versus(
    rows: Sequence[Row],
    x_key: str,
    x_label: str,
    title: str,
    path: Path,
    *,
    labels: Literal["all", "front"] = "all",
    series: str = "runs",
) -> Path:
    """Score against a cost measure (lower is better), with the Pareto front of each benchmark group.
    ``labels``: name every point, or only those on the front (a search's many trials); ``series``
    names the points in the legend when there is one group."""
    fig = _figure()
    ax: Axes = fig.add_subplot()
    groups = _groups(rows)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:olive"]
    for n, ((benchmark, split), members) in enumerate(groups.items()):
        color = colors[n % len(colors)]
        xs = [float(r[x_key] or 0.0) for r in members]
        ys = [float(r["score"]) for r in members]
        lows = [max(0.0, y - (r["ci95"] or [y, y])[0]) for y, r in zip(ys, members, strict=True)]
        highs = [max(0.0, (r["ci95"] or [y, y])[1] - y) for y, r in zip(ys, members, strict=True)]
        name = f"{benchmark} ({split})" if len(groups) > 1 else series
        ax.errorbar(xs, ys, yerr=[lows, highs], fmt="o", color=color, ecolor="0.7", capsize=3, label=name, zorder=3)
        front = sorted(pareto_front(list(zip(xs, ys, strict=True))), key=lambda i: (xs[i], ys[i]))
        ax.plot(
            [xs[i] for i in front],
            [ys[i] for i in front],
            linestyle="--",
            marker="o",
            markersize=12,
            markerfacecolor="none",
            color="tab:red",
            label="Pareto front" if n == 0 else None,
            zorder=2,
        )
        for i, (x, y, row) in enumerate(zip(xs, ys, members, strict=True)):
            if labels == "front" and i not in front:
                continue
            text = row["label"] + ("  (best)" if row["best"] else "")
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(7, 5), fontsize=8)
    all_x = [float(r[x_key] or 0.0) for m in groups.values() for r in m]
    ax.margins(x=0.2, y=0.1)
    if all_x and max(all_x) == 0:
        title += f" (every run: {x_label} 0)"
    # Costs are never negative: keep the axis from showing negative values around a run at 0.
    _, right = ax.get_xlim()
    ax.set_xlim(-0.04 * right, right)
    ax.set_xlabel(x_label)
    ax.set_ylabel(_score_label(rows))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def has_categories(rows: Sequence[Row]) -> bool:
    return any(len(r["per_category"]) > 1 for r in rows)


def plot_categories(rows: Sequence[Row], path: Path) -> Path:
    """Per-category scores of each run side by side (grouped bars), best runs first."""
    import numpy as np

    shown = [r for r in rows if r["per_category"]][:MAX_CATEGORY_RUNS]
    categories = sorted({c for r in shown for c in r["per_category"]})
    fig = _figure()
    ax: Axes = fig.add_subplot()
    x = np.arange(len(categories))
    width = 0.8 / max(1, len(shown))
    for i, row in enumerate(shown):
        values = [row["per_category"].get(c, {}).get("score", float("nan")) for c in categories]
        ax.bar(x + (i - (len(shown) - 1) / 2) * width, values, width, label=row["label"])
    ax.set_xticks(x, categories)
    ax.set_ylabel(_score_label(shown).replace(" (95% CI)", ""))
    extra = f" (best {len(shown)} of {len(rows)} runs)" if len(shown) < len(rows) else ""
    ax.set_title(f"Score per category{extra}")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def make_plots(rows: Sequence[Row], out_dir: Path) -> list[Path]:
    """Write the comparison plots into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [
        plot_score_versus(
            rows, "calls_per_query", "calls per query", "Score vs calls per query", out_dir / "score_vs_calls.png"
        ),
        plot_score_versus(
            rows, "cost_per_query", "cost per query ($)", "Score vs cost per query", out_dir / "score_vs_cost.png"
        ),
    ]
    if has_categories(rows):
        paths.append(plot_categories(rows, out_dir / "per_category.png"))
    return paths
