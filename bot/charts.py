"""Bar charts as PNG attachments, for any capability (poll results, figures).

Drawn with matplotlib's Agg canvas directly (no pyplot, so no global state
and nothing that wants a display). The output is deterministic for the same
input and library version: no timestamps or software tag in the file.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from bot.messages import Attachment

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
