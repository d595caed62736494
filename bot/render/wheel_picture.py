"""The annual wheel as a picture: the year as a circle, months as sectors, activities by kind.

Drawn with matplotlib's Agg canvas (no pyplot) into PNG bytes, about 1080 px square, with
large type and few words so that it reads on a phone.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from babel.dates import format_date
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.projections.polar import PolarAxes

from bot.i18n import Translator
from bot.wheel.model import KIND_NAMES, ActivityKind, Occurrence

COLOURS: dict[ActivityKind, str] = {
    ActivityKind.THEMED_MEETING: "#e4002b",  # the party's red
    ActivityKind.CAMPAIGN: "#f28c00",
    ActivityKind.ARGUMENTATION: "#8e44ad",
    ActivityKind.SOCIAL: "#2e86de",
    ActivityKind.OPEN_HOUSE: "#16a085",
    ActivityKind.MEMBER_MEETING: "#5d4037",
    ActivityKind.ANNUAL_MEETING: "#222222",
    ActivityKind.STUDY_CIRCLE: "#27ae60",
    ActivityKind.LECTURE: "#c2185b",
}
TODAY = "#e4002b"
HOLE = 2.2
SIZE_PX = 1080
DPI = 100


def _angle(day: date, year: int) -> float:
    """Clockwise from the top: 1 January at 0, the year round to 2π."""
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    return 2 * math.pi * (day - first).days / days


def render_wheel(
    occurrences: Sequence[Occurrence],
    *,
    year: int,
    zone: ZoneInfo,
    t: Translator,
    title: str,
    today: date | None = None,
) -> bytes:
    kinds = [k for k in ActivityKind if any(o.item.activity.kind is k for o in occurrences)]
    ring = {kind: 1.0 + i for i, kind in enumerate(kinds)}
    outer = max(len(kinds), 1) + 1.0
    # The Agg canvas directly, no pyplot: no global state, so it may run in a worker thread.
    figure = Figure(figsize=(SIZE_PX / DPI, SIZE_PX / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = cast(PolarAxes, figure.add_axes((0.08, 0.25, 0.84, 0.66), projection="polar"))
    axes.set_theta_zero_location("N")
    axes.set_theta_direction(-1)
    axes.set_rorigin(-HOLE)  # an empty hub in the middle, for the year
    axes.set_ylim(0, outer + 0.9)
    axes.set_axis_off()
    # Months: alternating sectors, names outside the rings.
    for month in range(1, 13):
        start = _angle(date(year, month, 1), year)
        end = _angle(date(year + (month == 12), month % 12 + 1, 1), year)
        axes.bar(
            (start + end) / 2,
            outer + 0.2,
            width=end - start,
            bottom=0.2,
            color="#f3f3f3" if month % 2 else "#e2e2e2",
            edgecolor="white",
            linewidth=2,
        )
        name = format_date(date(year, month, 1), "LLL", locale=t.language).rstrip(".")
        axes.text(
            (start + end) / 2,
            outer + 0.5,
            name.capitalize(),
            ha="center",
            va="center",
            fontsize=21,
            fontweight="bold",
            color="#333333",
        )
    # A faint ring per kind, so the dots of one kind read as one track.
    full_circle = [2 * math.pi * i / 360 for i in range(361)]
    for kind, radius in ring.items():
        axes.plot(
            full_circle,
            [radius] * len(full_circle),
            color=COLOURS[kind],
            linewidth=1.5,
            alpha=0.3,
            zorder=2,
        )
    # Activities: a dot per occurrence, an arc for those lasting days.
    for occurrence in occurrences:
        kind = occurrence.item.activity.kind
        local = occurrence.start.astimezone(zone)
        if local.year != year:
            continue
        theta = _angle(local.date(), year)
        radius = ring[kind]
        colour = COLOURS[kind]
        length = occurrence.end - occurrence.start
        if length >= timedelta(days=1):
            last = (occurrence.end - timedelta(seconds=1)).astimezone(zone).date()
            end_theta = _angle(min(last, date(year, 12, 31)), year) + 2 * math.pi / 365
            axes.plot(
                [theta, end_theta],
                [radius, radius],
                color=colour,
                linewidth=14,
                solid_capstyle="round",
            )
        else:
            axes.scatter(
                [theta],
                [radius],
                s=230,
                color=colour,
                edgecolors="white",
                linewidths=1.5,
                zorder=3,
            )
    showing_today = today is not None and today.year == year
    if today is not None and showing_today:
        theta = _angle(today, year)
        axes.plot(
            [theta, theta],
            [0.2, outer + 0.25],
            color=TODAY,
            linewidth=5,
            zorder=4,
            solid_capstyle="round",
        )
    axes.text(
        0,
        -HOLE,
        str(year),
        ha="center",
        va="center",
        fontsize=30,
        fontweight="bold",
        color="#222222",
    )
    figure.text(
        0.5,
        0.955,
        title,
        ha="center",
        va="center",
        fontsize=36,
        fontweight="bold",
        color="#222222",
    )
    handles = [
        Line2D(
            [0],
            [0],
            marker="o",
            linestyle="",
            markersize=17,
            color=COLOURS[kind],
            label=t(KIND_NAMES[kind]),
        )
        for kind in kinds
    ]
    if showing_today:
        handles.append(Line2D([0], [0], color=TODAY, linewidth=5, label=t("Today")))
    if handles:
        figure.legend(
            handles=handles,
            loc="lower center",
            ncol=2 if len(handles) > 3 else len(handles),
            fontsize=20,
            frameon=False,
            bbox_to_anchor=(0.5, 0.01),
            handletextpad=0.3,
            columnspacing=1.6,
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
