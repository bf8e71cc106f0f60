"""Server-rendered SVG charts (no JavaScript, no CDN) a person reads at a glance.

The console runs under a CSP without inline styles, so every mark carries a class that
``static/console.css`` colours; the SVG itself holds only geometry and text. Each chart has a
title, axes with labelled ticks and the figures written beside the marks, so nothing needs a
hover to be read (the points also carry a ``<title>`` for screen readers and tooltips).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from gtm_pipeline.funnel.stats import Rate

LABEL_W = 110  # room for a stage's name left of its bar
VALUE_W = 200  # room for "1,234 · 100% · 100% of prev" right of the bar
CI_W = 190  # and, when intervals are given, for " [95% CI 12.5%-99%] small sample"


def funnel_svg(
    stages: list[tuple[str, int]],
    width: int = 660,
    bar: int = 24,
    intervals: Sequence[Rate | None] | None = None,
) -> str:
    """Horizontal bars, one per stage, on a count axis from 0 to the first stage's count; beside each
    bar its count, its share of the first stage and its conversion from the stage before, and (with
    ``intervals``, one per stage) that conversion's 95 % interval, flagged when its sample is small."""
    if intervals is not None:
        width += CI_W
    top = max((n for _label, n in stages), default=0)
    scale_top = _nice_ceiling(top) if top else 1
    gap = 10
    plot_w = width - LABEL_W - VALUE_W - (CI_W if intervals is not None else 0)
    plot_h = len(stages) * (bar + gap)
    height = plot_h + 46
    first = stages[0][1] if stages else 0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart funnel" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="funnel: {_summary(stages)}">'
    ]
    x0, y_axis = LABEL_W, plot_h + 4
    for tick in _ticks(scale_top):
        x = x0 + plot_w * tick / scale_top
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{y_axis}"/>')
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{y_axis + 16}" text-anchor="middle">{_count(tick)}</text>'
        )
    previous: int | None = None
    for i, (label, n) in enumerate(stages):
        y = i * (bar + gap) + 2
        w = plot_w * n / scale_top
        share = f"{n / first:.0%}" if first else "-"
        step = f" · {n / previous:.0%} of prev" if previous else ""
        parts.append(
            f'<text class="stage" x="{LABEL_W - 8}" y="{y + bar / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        parts.append(f'<rect class="bar-track" x="{x0}" y="{y}" width="{plot_w}" height="{bar}"/>')
        parts.append(
            f'<rect class="bar stage-{i}" x="{x0}" y="{y}" width="{max(w, 1 if n else 0):.1f}" '
            f'height="{bar}"><title>{escape(label)}: {n} ({share} of {escape(stages[0][0])})</title></rect>'
        )
        rate = intervals[i] if intervals is not None and i < len(intervals) else None
        parts.append(
            f'<text x="{x0 + plot_w + 8}" y="{y + bar / 2 + 4:.1f}"><tspan class="value">{_count(n)}</tspan>'
            f'<tspan class="rate"> · {share}{step}</tspan>{_ci_tspan(rate)}</text>'
        )
        previous = n
    parts.append(f'<line class="axis" x1="{x0}" y1="0" x2="{x0}" y2="{y_axis}"/>')
    parts.append(f'<line class="axis" x1="{x0}" y1="{y_axis}" x2="{x0 + plot_w}" y2="{y_axis}"/>')
    parts.append(
        f'<text class="axis-title" x="{x0 + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">'
        "prospects that ever reached the stage</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


SERIES = (("reply_rate", "reply", "reply rate"), ("positive_rate", "positive", "positive-reply rate"))


def rates_svg(weeks: list[dict[str, Any]], width: int = 760, height: int = 300) -> str:
    """Reply and positive-reply rate per ISO week as two lines with a point per week, on a
    percentage axis from 0; every week in the range is a point (a week without sends is 0)."""
    if not weeks:
        return '<p class="muted" id="rates-empty">No sends yet: the chart starts with the first send.</p>'
    left, right, top_pad, bottom = 56, 16, 16, 64
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    highest = max(max(w["reply_rate"], w["positive_rate"]) for w in weeks)
    scale_top = _nice_rate(highest)
    step = plot_w / max(len(weeks) - 1, 1)
    y_axis = top_pad + plot_h

    def x_of(i: int) -> float:
        return left + (i * step if len(weeks) > 1 else plot_w / 2)

    def y_of(rate: float) -> float:
        return y_axis - plot_h * rate / scale_top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart rates" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="weekly reply and positive-reply rates, '
        f'{escape(weeks[0]["week"])} to {escape(weeks[-1]["week"])}">'
    ]
    for tick in _rate_ticks(scale_top):
        y = y_of(tick)
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick y-tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.0%}</text>'
        )
    for i, w in enumerate(weeks):
        x = x_of(i)
        parts.append(
            f'<text class="tick x-tick" x="{x:.1f}" y="{y_axis + 16}" text-anchor="middle">'
            f"{escape(str(w['week'])[-3:])}</text>"
        )
        parts.append(
            f'<text class="tick sent" x="{x:.1f}" y="{y_axis + 30}" text-anchor="middle">{w["sent"]}</text>'
        )
    parts.append(f'<line class="axis" x1="{left}" y1="{top_pad}" x2="{left}" y2="{y_axis}"/>')
    parts.append(f'<line class="axis" x1="{left}" y1="{y_axis}" x2="{left + plot_w}" y2="{y_axis}"/>')
    for key, css, name in SERIES:
        points = " ".join(f"{x_of(i):.1f},{y_of(w[key]):.1f}" for i, w in enumerate(weeks))
        parts.append(
            f'<polyline class="line series-{css}" points="{points}"><title>{name}</title></polyline>'
        )
        for i, w in enumerate(weeks):
            parts.append(
                f'<circle class="point series-{css}" data-week="{escape(str(w["week"]))}" '
                f'cx="{x_of(i):.1f}" cy="{y_of(w[key]):.1f}" r="3.5"><title>{escape(str(w["week"]))}: '
                f"{name} {w[key]:.1%} ({w['replies' if css == 'reply' else 'positive']} of {w['sent']} sent)"
                "</title></circle>"
            )
    parts.append(
        f'<text class="axis-title" x="{left - 44}" y="{top_pad + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 {left - 44} {top_pad + plot_h / 2:.1f})">share of sends</text>'
    )
    parts.append(
        f'<text class="axis-title" x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        "ISO week (the figure under each is the number of sends)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _ci_tspan(rate: Rate | None) -> str:
    """ " [95% CI a-b]" after a conversion (and "small sample" when n < 30); nothing without one."""
    interval = rate.interval if rate is not None else None
    if rate is None or interval is None:
        return ""
    flag = ' <tspan class="small-sample">small sample</tspan>' if rate.small_sample else ""
    return f'<tspan class="rate ci"> [95% CI {_pct(interval[0])}-{_pct(interval[1])}]</tspan>{flag}'


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if 0 < x < 0.1 else f"{100 * x:.0f}%"


def rate_ci_svg(rows: list[tuple[str, Rate]], *, what: str, width: int = 760, row_h: int = 28) -> str:
    """One row per group (a signal kind, say): a dot at the rate and a whisker over its 95 % Wilson
    interval, on a percentage axis from 0, with "hits of n · rate [CI]" written beside it and a
    small sample flagged in words. Groups with no sample are listed with "no sample yet"."""
    if not rows:
        return f'<p class="muted rate-ci-empty">Nothing to show yet: no {escape(what)}.</p>'
    left, value_w, top_pad = 170, 330, 8
    plot_w = width - left - value_w
    highs = [r.interval[1] for _label, r in rows if r.interval is not None]
    scale_top = _nice_rate(max(highs, default=0.05))
    plot_h = len(rows) * row_h
    y_axis = top_pad + plot_h
    height = y_axis + 40

    def x_of(rate: float) -> float:
        return left + plot_w * min(rate, scale_top) / scale_top

    label = escape(f"{what}: " + ", ".join(f"{name} {r.hits} of {r.n}" for name, r in rows))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart rate-ci" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{label}">'
    ]
    for tick in _rate_ticks(scale_top):
        x = x_of(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top_pad}" x2="{x:.1f}" y2="{y_axis}"/>')
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{y_axis + 16}" text-anchor="middle">{tick:.0%}</text>'
        )
    for i, (name, rate) in enumerate(rows):
        y = top_pad + i * row_h + row_h / 2
        parts.append(
            f'<text class="stage" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(name)}</text>'
        )
        interval = rate.interval
        if interval is None:
            parts.append(
                f'<text class="rate" x="{left + plot_w + 8}" y="{y + 4:.1f}">0 of 0 · no sample yet</text>'
            )
            continue
        low, high = interval
        parts.append(
            f'<line class="axis ci-whisker" x1="{x_of(low):.1f}" y1="{y:.1f}" '
            f'x2="{x_of(high):.1f}" y2="{y:.1f}"/>'
        )
        for end in (low, high):
            parts.append(
                f'<line class="axis ci-whisker" x1="{x_of(end):.1f}" y1="{y - 5:.1f}" '
                f'x2="{x_of(end):.1f}" y2="{y + 5:.1f}"/>'
            )
        parts.append(
            f'<circle class="point series-positive" cx="{x_of(rate.value or 0.0):.1f}" cy="{y:.1f}" r="4.5">'
            f"<title>{escape(name)}: {escape(rate.words)}</title></circle>"
        )
        flag = ' <tspan class="small-sample">small sample</tspan>' if rate.small_sample else ""
        parts.append(
            f'<text x="{left + plot_w + 8}" y="{y + 4:.1f}">'
            f'<tspan class="value">{rate.hits} of {rate.n}</tspan><tspan class="rate"> · '
            f"{_pct(rate.value or 0.0)} [95% CI {_pct(low)}-{_pct(high)}]</tspan>{flag}</text>"
        )
    parts.append(f'<line class="axis" x1="{left}" y1="{top_pad}" x2="{left}" y2="{y_axis}"/>')
    parts.append(f'<line class="axis" x1="{left}" y1="{y_axis}" x2="{left + plot_w}" y2="{y_axis}"/>')
    parts.append(
        f'<text class="axis-title" x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">'
        f"{escape(what)} (dot: the rate; line: its 95% interval)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _summary(stages: list[tuple[str, int]]) -> str:
    return escape(", ".join(f"{label} {n}" for label, n in stages))


def _count(n: float) -> str:
    return f"{int(n):,}"


def _nice_ceiling(n: int) -> int:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``n`` (a round axis end)."""
    magnitude = 10 ** max(0, math.floor(math.log10(n)))
    for factor in (1, 2, 2.5, 5, 10):
        if n <= factor * magnitude and float(factor * magnitude).is_integer():
            return int(factor * magnitude)
    return 10 * magnitude


def _ticks(top: int) -> list[int]:
    """Four or five round ticks from 0 to ``top`` (whole numbers only: these are counts)."""
    step = max(1, top // 4) if top % 4 == 0 else max(1, top // 5) if top % 5 == 0 else max(1, top // 2)
    return list(range(0, top + 1, step))


def _nice_rate(rate: float) -> float:
    """A round top for a percentage axis: 5%, 10%, 20%, 25%, 50% or 100%."""
    for top in (0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if rate <= top:
            return top
    return 1.0


def _rate_ticks(top: float) -> list[float]:
    count = 5 if top in (0.05, 0.1, 0.25, 0.5, 1.0) else 4
    return [top * i / count for i in range(count + 1)]
