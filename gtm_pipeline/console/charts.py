"""Server-rendered SVG charts (no JavaScript, no CDN): the funnel and the weekly reply rates."""

from __future__ import annotations

from html import escape
from typing import Any


def funnel_svg(stages: list[tuple[str, int]], width: int = 520, bar: int = 22) -> str:
    """Horizontal bars, one per stage, scaled to the first stage."""
    top = max((n for _label, n in stages), default=0) or 1
    height = len(stages) * (bar + 8) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="funnel">'
    ]
    for i, (label, n) in enumerate(stages):
        y = 8 + i * (bar + 8)
        w = int((width - 200) * n / top)
        parts.append(f'<text x="0" y="{y + bar - 6}" font-size="13">{escape(label)}</text>')
        parts.append(f'<rect x="100" y="{y}" width="{max(w, 1)}" height="{bar}" fill="#3b6ea5"/>')
        parts.append(f'<text x="{106 + w}" y="{y + bar - 6}" font-size="13">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def rates_svg(weeks: list[dict[str, Any]], width: int = 520, height: int = 180) -> str:
    """Two lines: reply rate and positive-reply rate per week (0 to the highest rate seen)."""
    if not weeks:
        return '<p class="muted">No sends yet.</p>'
    top = max(max(w["reply_rate"] for w in weeks), 0.01)
    step = (width - 60) / max(len(weeks) - 1, 1)

    def points(key: str) -> str:
        return " ".join(
            f"{40 + i * step:.1f},{height - 30 - (height - 50) * w[key] / top:.1f}"
            for i, w in enumerate(weeks)
        )

    def dots(key: str, colour: str) -> str:  # markers, so a single week still shows
        return "".join(
            f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"><title>{escape(w["week"])}: '
            f"{w[key]:.1%}</title></circle>"
            for w, (x, y) in zip(weeks, (pt.split(",") for pt in points(key).split()), strict=True)
        )

    labels = "".join(
        f'<text x="{40 + i * step:.1f}" y="{height - 10}" font-size="10" text-anchor="middle">'
        f"{escape(w['week'][-3:])}</text>"
        for i, w in enumerate(weeks)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="weekly reply rates">'
        f'<text x="0" y="14" font-size="11">{top:.0%}</text>'
        f'<polyline fill="none" stroke="#3b6ea5" stroke-width="2" points="{points("reply_rate")}"/>'
        f'<polyline fill="none" stroke="#2e8b57" stroke-width="2" points="{points("positive_rate")}"/>'
        f"{dots('reply_rate', '#3b6ea5')}{dots('positive_rate', '#2e8b57')}"
        f"{labels}</svg>"
    )
