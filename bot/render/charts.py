"""Bar charts as PNG attachments, for any capability (poll results, figures).

Drawn with matplotlib's Agg canvas directly (no pyplot, so no global state
and nothing that wants a display). The output is deterministic for the same
input and library version: no timestamps or software tag in the file.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import TYPE_CHECKING

from bot.messages import Attachment

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PALETTE = ("#e8112d", "#f6a2ad", "#9e9e9e")  # the party's red, a light red, grey


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, filename: str = "chart.png"
) -> Attachment:
    """Horizontal bars, one row per label, series stacked; legend when there are several."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    rows = len(labels)
    figure = Figure(figsize=(6.4, 1.4 + 0.5 * rows), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(rows))[::-1]  # the first label on top
    left = [0] * rows
    for index, one in enumerate(series):
        axes.barh(
            positions,
            list(one.values),
            left=left,
            color=PALETTE[index % len(PALETTE)],
            label=one.label,
            height=0.6,
        )
        left = [a + b for a, b in zip(left, one.values, strict=True)]
    axes.set_yticks(positions, [textwrap.shorten(label, 32, placeholder="…") for label in labels])
    axes.set_title(textwrap.shorten(title, 70, placeholder="…"), fontsize=11)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlim(0, max([*left, 1]) * 1.15)
    for y, total in zip(positions, left, strict=True):
        axes.text(total, y, f" {total}", va="center", fontsize=9)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if len(series) > 1:
        axes.legend(loc="lower right", fontsize=8, frameon=False)
    figure.tight_layout()
    buffer = BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return Attachment(filename, "image/png", buffer.getvalue())


def _phone_figure() -> tuple[Figure, Axes]:
    """A 900×675 picture with large type: it is read on a phone, often without zooming."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4.5), dpi=150)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _png(figure: Figure) -> bytes:
    buffer = BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def share_by_month_chart(
    title: str, months: Sequence[str], percents: Sequence[float | None], *, filename: str
) -> Attachment:
    """Vertical bars, one per month, 0–100 %, each labelled with its value ('–': no members)."""
    figure, axes = _phone_figure()
    positions = list(range(len(months)))
    values = [p or 0 for p in percents]
    axes.bar(positions, values, color=PALETTE[0], width=0.7)
    for x, value in zip(positions, percents, strict=True):
        text = "–" if value is None else f"{round(value)}"
        axes.text(x, (value or 0) + 1.5, text, ha="center", va="bottom", fontsize=10)
    axes.set_xticks(positions, list(months), fontsize=10)
    axes.set_ylim(0, 108)
    axes.set_yticks([0, 25, 50, 75, 100], ["0 %", "25 %", "50 %", "75 %", "100 %"], fontsize=10)
    axes.set_title(textwrap.shorten(title, 48, placeholder="…"), fontsize=14)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return Attachment(filename, "image/png", _png(figure))


def accumulated_chart(
    title: str,
    days: Sequence[date],
    totals: Sequence[int],
    *,
    goal: tuple[date, date, int] | None,
    done_label: str,
    goal_label: str,
    month_labels: Sequence[tuple[date, str]],
    filename: str,
) -> Attachment:
    """The running total as a filled line, and the goal as a dashed line from 0 to the target."""
    from matplotlib.ticker import MaxNLocator

    figure, axes = _phone_figure()
    origin = goal[0] if goal is not None else (days[0] if days else date(1970, 1, 1))

    def x(day: date) -> float:
        return float((day - origin).days)

    xs = [x(d) for d in days]
    axes.plot(xs, list(totals), color=PALETTE[0], linewidth=3, label=done_label)
    axes.fill_between(xs, list(totals), color=PALETTE[1], alpha=0.5)
    top = max([*totals, 1])
    if goal is not None:
        start, deadline, target = goal
        axes.plot(
            [x(start), x(deadline)],
            [0, target],
            color=PALETTE[2],
            linewidth=2,
            linestyle="--",
            label=goal_label,
        )
        axes.annotate(
            f"{target}",
            (x(deadline), target),
            textcoords="offset points",
            xytext=(-4, 8),
            ha="right",
            fontsize=12,
            color="#616161",
        )
        top = max(top, target)
        axes.set_xlim(x(start), x(deadline))
    if xs:
        axes.annotate(
            f"{totals[-1]}",
            (xs[-1], totals[-1]),
            textcoords="offset points",
            xytext=(4, 6),
            fontsize=12,
            fontweight="bold",
            color=PALETTE[0],
        )
    axes.set_ylim(0, top * 1.12)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    axes.tick_params(labelsize=10)
    if month_labels:
        axes.set_xticks([x(d) for d, _ in month_labels], [label for _, label in month_labels])
    axes.set_title(textwrap.shorten(title, 48, placeholder="…"), fontsize=14)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(loc="upper left", fontsize=10, frameon=False)
    return Attachment(filename, "image/png", _png(figure))
