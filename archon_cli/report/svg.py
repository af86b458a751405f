"""Small SVG charts for the HTML report (``report.view``): written here as text, so the page needs no
chart library and no script to show them, opens from disk, and stays small. Every label is escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 44
ACCENT, MUTED, FRONT = "#2563eb", "#94a3b8", "#dc2626"


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    low: float | None = None  # the y interval, drawn as a bar
    high: float | None = None
    label: str = ""
    strong: bool = False  # drawn in the accent colour (the best, a front member)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * step:
            step *= m
            break
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.3g}"


def _frame(title: str, x_label: str, y_label: str, x_range: tuple[float, float], y_range: tuple[float, float]) -> tuple[list[str], object, object]:
    x0, x1 = x_range
    y0, y1 = y_range
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 <= y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * w

    def sy(y: float) -> float:
        return TOP + h - (y - y0) / (y1 - y0) * h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<text x="{LEFT}" y="18" class="chart-title">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{w}" height="{h}" fill="none" stroke="#cbd5e1"/>',
    ]
    for t in _ticks(y0, y1):
        if y0 <= t <= y1:
            parts.append(f'<line x1="{LEFT}" x2="{LEFT + w}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#eef2f7"/>')
            parts.append(f'<text x="{LEFT - 6}" y="{sy(t) + 4:.1f}" text-anchor="end" class="tick">{_fmt(t)}</text>')
    for t in _ticks(x0, x1):
        if x0 <= t <= x1:
            parts.append(
                f'<text x="{sx(t):.1f}" y="{TOP + h + 16}" text-anchor="middle" class="tick">{_fmt(t)}</text>'
            )
    parts.append(f'<text x="{LEFT + w / 2}" y="{HEIGHT - 6}" text-anchor="middle" class="axis">{escape(x_label)}</text>')
    parts.append(
        f'<text x="14" y="{TOP + h / 2}" text-anchor="middle" class="axis" '
        f'transform="rotate(-90 14 {TOP + h / 2})">{escape(y_label)}</text>'
    )
    return parts, sx, sy


def scatter(
    points: Sequence[Point],
    title: str,
    x_label: str,
    y_label: str,
    *,
    line_through_strong: bool = False,
    label_strong: bool = True,
) -> str:
    """Points with their intervals; the strong ones coloured (and joined, for a Pareto front)."""
    if not points:
        return f'<p class="empty">{escape(title)}: nothing to draw</p>'
    ys = [v for p in points for v in (p.y, p.low, p.high) if v is not None]
    xs = [p.x for p in points]
    pad_x = (max(xs) - min(xs)) * 0.05 or 0.5
    pad_y = (max(ys) - min(ys)) * 0.08 or 0.05
    parts, sx, sy = _frame(
        title, x_label, y_label, (min(xs) - pad_x, max(xs) + pad_x), (min(ys) - pad_y, max(ys) + pad_y)
    )
    if line_through_strong:
        front = sorted((p for p in points if p.strong), key=lambda p: p.x)
        if len(front) > 1:
            path = " ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in front)  # type: ignore[operator]
            parts.append(f'<polyline points="{path}" fill="none" stroke="{FRONT}" stroke-width="1.5"/>')
    for p in points:
        colour = FRONT if (p.strong and line_through_strong) else (ACCENT if p.strong else MUTED)
        cx, cy = sx(p.x), sy(p.y)  # type: ignore[operator]
        if p.low is not None and p.high is not None:
            parts.append(
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{sy(p.low):.1f}" y2="{sy(p.high):.1f}" '  # type: ignore[operator]
                f'stroke="{colour}" stroke-opacity="0.5"/>'
            )
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{colour}"><title>{escape(p.label)}: '
            f"{p.y:.4f}</title></circle>"
        )
        if p.strong and label_strong and p.label:
            # Near the right edge the label goes to the left of its point, so it is not cut off.
            anchor, dx = ("end", -6) if cx > WIDTH * 0.7 else ("start", 6)
            parts.append(
                f'<text x="{cx + dx:.1f}" y="{cy - 6:.1f}" text-anchor="{anchor}" class="point-label">'
                f"{escape(p.label[:40])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bars(items: Sequence[tuple[str, float, float | None, float | None]], title: str, value_label: str) -> str:
    """Horizontal bars: (label, value, interval low, interval high), one a row, zero at the left
    (or at the middle for signed values)."""
    if not items:
        return f'<p class="empty">{escape(title)}: nothing to draw</p>'
    row, label_w = 26, 180
    height = TOP + row * len(items) + 34
    values = [v for _, value, low, high in items for v in (value, low, high) if v is not None]
    lo, hi = min(0.0, *values), max(0.0, *values)
    if hi <= lo:
        hi = lo + 1.0
    w = WIDTH - label_w - RIGHT - 8

    def sx(x: float) -> float:
        return label_w + (x - lo) / (hi - lo) * w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<text x="8" y="18" class="chart-title">{escape(title)}</text>',
        f'<line x1="{sx(0):.1f}" x2="{sx(0):.1f}" y1="{TOP - 4}" y2="{height - 30}" stroke="#64748b"/>',
    ]
    for i, (label, value, low, high) in enumerate(items):
        y = TOP + i * row
        x_a, x_b = sorted((sx(0), sx(value)))
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="tick">{escape(label[:28])}</text>')
        parts.append(
            f'<rect x="{x_a:.1f}" y="{y + 4}" width="{max(x_b - x_a, 1):.1f}" height="{row - 10}" fill="{ACCENT}" '
            f'fill-opacity="0.75"><title>{escape(label)}: {value:.4f}</title></rect>'
        )
        if low is not None and high is not None:
            parts.append(
                f'<line x1="{sx(low):.1f}" x2="{sx(high):.1f}" y1="{y + row / 2 - 1}" y2="{y + row / 2 - 1}" '
                f'stroke="#0f172a" stroke-width="1.5"/>'
            )
        parts.append(
            f'<text x="{min(x_b + 4, WIDTH - 40):.1f}" y="{y + 15}" class="tick">{_fmt(value)}</text>'
        )
    for t in _ticks(lo, hi):
        if lo <= t <= hi:
            parts.append(f'<text x="{sx(t):.1f}" y="{height - 16}" text-anchor="middle" class="tick">{_fmt(t)}</text>')
    parts.append(f'<text x="{label_w + w / 2}" y="{height - 2}" text-anchor="middle" class="axis">{escape(value_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
