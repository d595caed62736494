"""The annual wheel as a picture: the year as a circle, months as sectors, activities by kind.

Drawn with matplotlib's Agg canvas (no pyplot) into PNG bytes, 1080 px wide, with large type
so that it reads on a phone. `wheel_layout` decides what is drawn: an item that comes back
every week or so is a band on its ring (not one dot a week); the others are numbered dots,
and below the wheel each number is listed with the item's name and dates.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
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
    ActivityKind.CHAIRS_MEETING: "#7f8c8d",
    ActivityKind.STUDY_CIRCLE: "#27ae60",
    ActivityKind.LECTURE: "#c2185b",
}
TODAY = "#e4002b"
HOLE = 2.2
SIZE_PX = 1080
DPI = 100
BAND_FROM = 13  # more dates than months in the year: drawn as a band
DATES_LISTED = 4  # an item with more dates is listed by its rule ("sista fredagen i ...")
BAND_GAP = timedelta(days=15)  # a longer break (a summer) splits a band
TITLE_PX, WHEEL_PX, LEGEND_ROW_PX, LINE_PX, MARGIN_PX = 90, 900, 36, 34, 30


@dataclass(frozen=True)
class Band:
    """An item that comes back every week or so: arcs on its ring, from first to last date."""

    name: str
    kind: ActivityKind
    spans: tuple[tuple[date, date], ...]
    rule: str  # 'varje torsdag': as the template writes it


@dataclass(frozen=True)
class Mark:
    """An item with a few dates a year: a numbered dot on each, its name and dates listed."""

    number: int
    name: str
    kind: ActivityKind
    days: tuple[tuple[date, date], ...]  # first and last local day of each occurrence
    rule: str


@dataclass(frozen=True)
class Layout:
    bands: tuple[Band, ...]
    marks: tuple[Mark, ...]
    lines: tuple[tuple[str, ActivityKind], ...]  # listed below the wheel: a band or a mark each


def _short(day: date, t: Translator) -> str:
    return format_date(day, "d MMM", locale=t.language).rstrip(".")


def wheel_layout(
    occurrences: Sequence[Occurrence], *, year: int, zone: ZoneInfo, t: Translator
) -> Layout:
    by_key: dict[str, list[tuple[date, date]]] = {}
    first: dict[str, Occurrence] = {}
    for occurrence in occurrences:
        begins = occurrence.start.astimezone(zone).date()
        if begins.year != year:
            continue
        # A campaign week from Monday 17:00 for 5 days ends on the Friday, as announced.
        length = occurrence.end - occurrence.start
        last = (
            (occurrence.end - timedelta(days=1)).astimezone(zone).date()
            if length >= timedelta(days=1)
            else begins
        )
        by_key.setdefault(occurrence.key, []).append((begins, min(last, date(year, 12, 31))))
        first.setdefault(occurrence.key, occurrence)
    bands: list[Band] = []
    marks: list[Mark] = []
    lines: list[tuple[str, ActivityKind]] = []
    for key, days in by_key.items():
        activity = first[key].item.activity
        if len(days) >= BAND_FROM:
            spans: list[tuple[date, date]] = []
            for begins, ends in sorted(days):
                if spans and begins - spans[-1][1] <= BAND_GAP:
                    spans[-1] = (spans[-1][0], ends)
                else:
                    spans.append((begins, ends))
            bands.append(Band(activity.name, activity.kind, tuple(spans), activity.when.text))
            lines.append((f"▬ {activity.name}: {activity.when.text}", activity.kind))
            continue
        number = len(marks) + 1
        marks.append(Mark(number, activity.name, activity.kind, tuple(days), activity.when.text))
        if len(days) > DATES_LISTED:
            dates = activity.when.text
        else:
            dates = ", ".join(
                _short(b, t) if b == e else f"{_short(b, t)}–{_short(e, t)}" for b, e in days
            )
        lines.append((f"{number}. {activity.name}: {dates}", activity.kind))
    return Layout(tuple(bands), tuple(marks), tuple(lines))


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
    layout = wheel_layout(occurrences, year=year, zone=zone, t=t)
    drawn: list[Band | Mark] = [*layout.bands, *layout.marks]
    kinds = [k for k in ActivityKind if any(item.kind is k for item in drawn)]
    ring = {kind: 1.0 + i for i, kind in enumerate(kinds)}
    outer = max(len(kinds), 1) + 1.0
    showing_today = today is not None and today.year == year
    legend_rows = math.ceil((len(kinds) + showing_today) / 2)
    height = (
        TITLE_PX
        + WHEEL_PX
        + legend_rows * LEGEND_ROW_PX
        + len(layout.lines) * LINE_PX
        + 2 * MARGIN_PX
    )

    def from_top(px: float) -> float:
        return 1 - px / height

    # The Agg canvas directly, no pyplot: no global state, so it may run in a worker thread.
    figure = Figure(figsize=(SIZE_PX / DPI, height / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = cast(
        PolarAxes,
        figure.add_axes(
            (0.08, from_top(TITLE_PX + WHEEL_PX), 0.84, WHEEL_PX / height), projection="polar"
        ),
    )
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
    # A faint ring per kind, so the marks of one kind read as one track.
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
    day_width = 2 * math.pi / 365
    # A weekly item: a band over the weeks it runs, broken where it pauses.
    for band in layout.bands:
        for begins, ends in band.spans:
            arc = _arc(_angle(begins, year), _angle(ends, year) + day_width)
            axes.plot(
                arc,
                [ring[band.kind]] * len(arc),
                color=COLOURS[band.kind],
                linewidth=16,
                alpha=0.55,
                solid_capstyle="butt",
                zorder=3,
            )
    # The others: a numbered dot on each date, an arc for those lasting days.
    for mark in layout.marks:
        radius, colour = ring[mark.kind], COLOURS[mark.kind]
        for begins, ends in mark.days:
            theta = _angle(begins, year)
            if ends > begins:
                arc = _arc(theta, _angle(ends, year) + day_width)
                axes.plot(
                    arc, [radius] * len(arc), color=colour, linewidth=14, solid_capstyle="round"
                )
            axes.scatter(
                [theta],
                [radius],
                s=420,
                color=colour,
                edgecolors="white",
                linewidths=1.5,
                zorder=4,
            )
            axes.text(
                theta,
                radius,
                str(mark.number),
                ha="center",
                va="center",
                fontsize=11,
                fontweight="bold",
                color="white",
                zorder=5,
            )
    if today is not None and showing_today:
        theta = _angle(today, year)
        axes.plot(
            [theta, theta],
            [0.2, outer + 0.25],
            color=TODAY,
            linewidth=5,
            zorder=6,
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
        from_top(TITLE_PX / 2 + 10),
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
    legend_top = TITLE_PX + WHEEL_PX
    if handles:
        figure.legend(
            handles=handles,
            loc="upper center",
            ncol=2 if len(handles) > 3 else len(handles),
            fontsize=19,
            frameon=False,
            bbox_to_anchor=(0.5, from_top(legend_top)),
            handletextpad=0.3,
            columnspacing=1.6,
            labelspacing=0.3,
        )
    # The list: each band and numbered mark with its name and dates, in its kind's colour.
    list_top = legend_top + legend_rows * LEGEND_ROW_PX + MARGIN_PX
    for row, (line, kind) in enumerate(layout.lines):
        figure.text(
            0.06,
            from_top(list_top + (row + 0.5) * LINE_PX),
            line,
            ha="left",
            va="center",
            fontsize=17,
            color=COLOURS[kind],
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _arc(start: float, end: float) -> list[float]:
    """Angles from `start` to `end`, close enough together to draw a curve."""
    steps = max(2, int((end - start) / (2 * math.pi) * 360))
    return [start + (end - start) * i / steps for i in range(steps + 1)]
