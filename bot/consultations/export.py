"""A rådslag's export for the district or the party, per question and branch: Markdown,
CSV and a PDF a board can read (fpdf2, with the DejaVu font matplotlib ships, so every
letter members type prints).

Anonymity holds here as everywhere (`bot.consultations.model`): names only with
`NAMED`, individual answers only where they may leave the branch.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

from bot.consultations.model import Consultation, QuestionSummary
from bot.consultations.service import BranchStatus, overview, summaries
from bot.consultations.views import VISIBILITY_NAMES, counts_line
from bot.context import Effects
from bot.domain.organisations import Organisation
from bot.formatting import when
from bot.i18n import Translator
from bot.meetings.views import _md as plain_md
from bot.messages import Attachment
from bot.spreadsheet import SafeCsvWriter

CSV_HEADER = ("question_number", "question", "branch", "kind", "author", "text")
MEDIA_TYPES = {"md": "text/markdown", "csv": "text/csv", "pdf": "application/pdf"}


@dataclass
class ExportData:
    consultation: Consultation
    opener: Organisation
    statuses: list[BranchStatus]
    per_branch: list[tuple[Organisation, list[QuestionSummary]]]


async def gather(fx: Effects, c: Consultation, scope: Organisation) -> ExportData:
    """Everything below `scope` (the party, or one district) for the export."""
    statuses = await overview(fx, c, scope)
    per_branch = [(s.branch, await summaries(fx, c, [s.branch], in_branch=False)) for s in statuses]
    return ExportData(c, scope, statuses, per_branch)


def _lines(t: Translator, data: ExportData) -> list[tuple[str, str]]:
    """The export as (style, text) lines: 'h1', 'h2', 'h3', 'p', 'li'."""
    c, opener = data.consultation, data.opener
    out: list[tuple[str, str]] = [("h1", c.title)]
    out.append(
        (
            "p",
            f"{opener.name}. "
            + t("Deadline: {when}.").format(when=when(c.deadline, opener.zone, t)),
        )
    )
    out.append(
        ("p", t("Individual answers: {setting}.").format(setting=t(VISIBILITY_NAMES[c.visibility])))
    )
    out.append(("h2", t("Branches")))
    for s in data.statuses:
        state = t("submitted") if s.submitted else t("not submitted")
        out.append(
            (
                "li",
                t("{branch}: {invited} invited, {took} took part, {state}").format(
                    branch=s.branch.name, invited=s.invited, took=s.took_part, state=state
                ),
            )
        )
    for number, question in enumerate(c.questions):
        out.append(("h2", f"{number + 1}. {question}"))
        for branch, rows in data.per_branch:
            row = rows[number]
            out.append(("h3", branch.name))
            own = [a for b, a in row.branch_answers if b == branch.name]
            out.append(("p", t("Branch's answer") + ": " + (own[0] if own else t("(no answer)"))))
            out.append(("p", counts_line(t, row)))
            for name, said in row.answers:
                out.append(("li", f"{name}: {said}" if name else said))
            for name, said in row.contributions:
                label = t("(meeting) ")
                out.append(("li", label + (f"{name}: {said}" if name else said)))
    return out


def markdown(t: Translator, data: ExportData) -> bytes:
    prefix = {"h1": "# ", "h2": "## ", "h3": "### ", "p": "", "li": "- "}
    lines: list[str] = []
    for style, text in _lines(t, data):
        if style != "li" and lines and lines[-1]:
            lines.append("")
        lines.append(prefix[style] + plain_md(text))
    return ("\n".join(lines) + "\n").encode("utf-8")


def csv_bytes(t: Translator, data: ExportData) -> bytes:
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for number, question in enumerate(data.consultation.questions):
        for branch, rows in data.per_branch:
            row = rows[number]
            for b, answer in row.branch_answers:
                writer.writerow((number + 1, question, b, "branch_answer", "", answer))
            for name, said in row.answers:
                writer.writerow((number + 1, question, branch.name, "answer", name or "", said))
            for name, said in row.contributions:
                writer.writerow(
                    (number + 1, question, branch.name, "contribution", name or "", said)
                )
    return buffer.getvalue().encode("utf-8")


def _font_dir() -> str:
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf")


def pdf_bytes(t: Translator, data: ExportData) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creator("Samtal")
    pdf.set_title(data.consultation.title)
    pdf.set_creation_date(data.consultation.deadline)  # deterministic: no wall clock
    fonts = _font_dir()
    pdf.add_font("DejaVu", "", os.path.join(fonts, "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", os.path.join(fonts, "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    sizes = {"h1": (16, "B"), "h2": (13, "B"), "h3": (11, "B"), "p": (10, ""), "li": (10, "")}
    for style, text in _lines(t, data):
        size, weight = sizes[style]
        pdf.set_font("DejaVu", weight, size)
        if style.startswith("h"):
            pdf.ln(2)
        pdf.multi_cell(0, size * 0.55, ("• " if style == "li" else "") + text)
        pdf.set_x(pdf.l_margin)
    return bytes(pdf.output())


def export_file(t: Translator, data: ExportData, kind: str) -> Attachment:
    build = {"md": markdown, "csv": csv_bytes, "pdf": pdf_bytes}[kind]
    name = f"radslag-{data.consultation.id}.{kind}"
    return Attachment(name, MEDIA_TYPES[kind], build(t, data))


def kinds() -> Sequence[str]:
    return tuple(MEDIA_TYPES)
