"""Rådslag: the rules, each anonymity setting in every output (messages, exports, logs),
erasure, the person's export, the figures, and the CLI export."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.consultations import export
from bot.consultations.model import (
    Visibility,
    parse_question_ref,
    reminder_at,
    shown_name,
)
from bot.i18n import Translator
from tests.conftest import Console

LABELS = {
    Visibility.NAMED: "Visas med namn",
    Visibility.ANONYMOUS: "Visas utan namn",
    Visibility.ORGANISERS: "Bara för organisatörer",
}
ANSWER = "Fler händer i hemtjänsten"  # Anna's own answer
SAID = "Trygghetsboenden behövs i Järbo"  # what Anna said at the meeting, marked by Bertil


def test_question_references_read_f_and_q_numbers_within_the_questions() -> None:
    assert parse_question_ref("F2", 3) == 1
    assert parse_question_ref("q1", 3) == 0
    assert parse_question_ref("F4", 3) is None
    assert parse_question_ref("F²", 3) is None


def test_the_reminder_comes_two_days_before_or_halfway_if_sooner() -> None:
    opened = datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert reminder_at(opened, opened + timedelta(days=10)) == opened + timedelta(days=8)
    assert reminder_at(opened, opened + timedelta(days=2)) == opened + timedelta(days=1)


def test_only_the_named_setting_names_anyone() -> None:
    assert shown_name(Visibility.NAMED, "Anna") == "Anna"
    assert shown_name(Visibility.ANONYMOUS, "Anna") is None
    assert shown_name(Visibility.ORGANISERS, "Anna") is None


def _script(visibility: Visibility) -> str:
    return f"""
@per: /nytt_radslag
@per: Välfärd
@per: Vad behöver äldreomsorgen?
@per: [Klart]
@per: hoppa över
@per: hoppa över
@per: 20/3
@per: gavleborg
@per: [{LABELS[visibility]}]
@per: [Öppna]
@anna: [Svara]
@anna: {ANSWER}
@anna: [Lämna in]
@bertil: /radslag_mote 1 1
@clock: 2026-03-11T18:30
@bertil#allmant: /bidrag 1 F1 Anna: {SAID}
@bertil: /radslag 1
@bertil: [Sandvikens arbetarekommun: gemensamt svar]
@bertil: [Skriv arbetarekommunens svar]
@bertil: Mer personal.
@bertil: [Lämna in]
@bertil: [Lämna in]
@sara: /radslag 1
@sara: [Översikt]
@sara: [MD]
@sara: [CSV]
@sara: [PDF]
@per: /radslag 1
@per: [Översikt]
@per: [MD]
"""


def _text(message: Any) -> str:
    return "".join(span.text for span in message.spans)


async def _walk(console: Console, visibility: Visibility) -> None:
    await console.run(_script(visibility))


@pytest.mark.parametrize("visibility", list(Visibility))
async def test_each_anonymity_setting_holds_in_every_output(
    console: Console, visibility: Visibility, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await _walk(console, visibility)
    delivered = console.gateway.delivered
    to_others = [d for d in delivered if d.chat_id != "anna"]
    files = {
        d.message.attachment.filename: d.message.attachment.data
        for d in delivered
        if d.message.attachment
    }
    assert set(files) == {"radslag-1.md", "radslag-1.csv", "radslag-1.pdf"}
    exported = files["radslag-1.md"].decode() + files["radslag-1.csv"].decode()
    overviews = [_text(d.message) for d in to_others if d.chat_id in ("sara", "per")]
    branch_views = [_text(d.message) for d in to_others if d.chat_id == "bertil"]
    everything_else = "\n".join(_text(d.message) for d in to_others)
    # The logs never carry anyone's answer or name, whatever the setting.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ANSWER not in logged and SAID not in logged and "Anna" not in logged
    assert "Mer personal." in exported  # the branch's answer always goes up
    if visibility is Visibility.NAMED:
        assert f"Anna: {ANSWER}" in exported and f"Anna: {SAID}" in exported
        assert any(f"Anna: {ANSWER}" in v for v in branch_views)
    elif visibility is Visibility.ANONYMOUS:
        assert ANSWER in exported and SAID in exported
        assert "Anna" not in exported
        assert "Anna" not in everything_else.replace("Anna:", "")  # (Bertil typed "Anna:" himself)
        assert not any("Anna" in v for v in branch_views if ANSWER in v or SAID in v)
    else:  # seen only by the branch's organisers: counts and the branch's answer go up
        assert ANSWER not in exported and SAID not in exported and "Anna" not in exported
        assert not any(ANSWER in o or SAID in o for o in overviews)
        assert any(f"Anna: {ANSWER}" in v for v in branch_views)
        rows = list(csv.reader(io.StringIO(files["radslag-1.csv"].decode())))
        assert [r[3] for r in rows[1:]] == ["branch_answer"]
    # The answer's text reaches no one but Anna and the organisers who may see it.
    readers = {d.chat_id for d in delivered if ANSWER in _text(d.message)}
    allowed = (
        {"anna", "bertil"}
        if visibility is Visibility.ORGANISERS
        else {"anna", "bertil", "sara", "per"}
    )
    assert readers <= allowed
    assert files["radslag-1.pdf"].startswith(b"%PDF")


async def _person_id(console: Console, name: str) -> int:
    async with console.database.unit_of_work() as uow:
        person = await uow.people.by_identity("console", name)
        assert person is not None and person.id is not None
        return person.id


@pytest.mark.parametrize("visibility", list(Visibility))
async def test_erasure_keeps_answers_only_as_anonymous_text_where_allowed(
    console: Console, visibility: Visibility
) -> None:
    from bot.privacy.service import export_person

    await _walk(console, visibility)
    anna = await _person_id(console, "anna")
    async with console.database.unit_of_work() as uow:
        mine = await export_person(uow, anna)
        assert [a["text"] for a in mine["consultation_answers"]] == [ANSWER]
        assert [k["text"] for k in mine["consultation_contributions"]] == [SAID]
        await uow.people.erase(anna)
        await uow.commit()
    async with console.database.unit_of_work() as uow:
        answers = await uow.consultations.answers(1)
        contributions = await uow.consultations.contributions(1)
    if visibility is Visibility.ANONYMOUS:
        assert [(a.text, a.person_id) for a in answers] == [(ANSWER, None)]
        assert [(k.text, k.person_id) for k in contributions] == [(SAID, None)]
    else:
        assert answers == [] and contributions == []


async def test_a_draft_is_the_authors_alone_and_is_removed_on_erasure(console: Console) -> None:
    await console.run(_script(Visibility.ANONYMOUS).split("@anna: [Lämna in]")[0])
    output = await console.said("@anna: [Spara som utkast]")
    assert "utkast" in output
    anna = await _person_id(console, "anna")
    async with console.database.unit_of_work() as uow:
        [draft] = await uow.consultations.answers(1)
        assert not draft.final
        await uow.people.erase(anna)
        await uow.commit()
    async with console.database.unit_of_work() as uow:
        assert await uow.consultations.answers(1) == []


async def test_answering_counts_as_taking_part_in_the_last_30_days(console: Console) -> None:
    from bot.insights.service import _activity

    await _walk(console, Visibility.NAMED)
    anna = await _person_id(console, "anna")
    now = console.clock.now()
    async with console.database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None and sandviken.id is not None
        activity, _hours = await _activity(uow, [sandviken.id], now - timedelta(days=30), now)
    assert anna in {a.person_id for a in activity}


async def test_a_submitted_answer_is_read_only_and_a_closed_rådslag_takes_no_answers(
    console: Console,
) -> None:
    await _walk(console, Visibility.NAMED)
    refused = await console.said("@bertil: [Skriv arbetarekommunens svar]")
    assert "kan inte längre ändras" in refused
    await console.run("@clock: 2026-03-21T09:00")
    assert "stängt" in await console.said("@anna: /radslag 1")
    refused = await console.said("@cecilia#allmant: /bidrag 1 F1 Sent")
    assert "Sparat till fråga" not in refused


async def test_only_party_and_district_organisers_open_one(console: Console) -> None:
    assert "Bara organisatörer i partiet" in await console.said("@bertil: /nytt_radslag")
    assert "Vad heter rådslaget?" in await console.said("@sara: /nytt_radslag")


async def test_the_export_reads_the_same_in_every_format(console: Console) -> None:
    await _walk(console, Visibility.NAMED)
    async with console.database.unit_of_work() as uow:
        c = await uow.consultations.get(1)
        district = await uow.orgs.by_slug("gavleborg")
        assert c is not None and district is not None
        data = await export.gather(console_effects(console, uow), c, district)
    t = Translator("sv")
    md = export.markdown(t, data).decode()
    assert "## 1. Vad behöver äldreomsorgen?" in md and "### Gävle arbetarekommun" in md
    rows = list(csv.reader(io.StringIO(export.csv_bytes(t, data).decode())))
    assert rows[0] == list(export.CSV_HEADER)
    assert [
        "1",
        "Vad behöver äldreomsorgen?",
        "Sandvikens arbetarekommun",
        "answer",
        "Anna",
        ANSWER,
    ] in rows


def console_effects(console: Console, uow: Any) -> Any:
    from bot.context import Effects

    return Effects(uow, console.clock)


async def test_the_cli_exports_a_rådslag_for_the_party_or_one_district(
    console: Console, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from samtal import consultation_cli
    from samtal.cli import build_parser
    from samtal.usage import exit_status

    await _walk(console, Visibility.ANONYMOUS)

    async def radslag(*argv: str) -> int:
        args = build_parser().parse_args(["radslag", "export", *argv])
        return await exit_status(consultation_cli.run(console.database, console.clock, args))

    out = tmp_path / "radslag.md"
    assert await radslag("--id", "1", "--format", "md", "--out", str(out)) == 0
    text = out.read_text(encoding="utf-8")
    assert ANSWER in text and "Anna" not in text and "Gävle arbetarekommun" in text
    pdf = tmp_path / "radslag.pdf"
    assert (
        await radslag("--id", "1", "--format", "pdf", "--org", "gavleborg", "--out", str(pdf)) == 0
    )
    assert pdf.read_bytes().startswith(b"%PDF")
    assert await radslag("--id", "9", "--format", "csv", "--out", str(out)) == 2
    assert await radslag("--id", "1", "--format", "csv", "--org", "jarbo", "--out", str(out)) == 2
    assert "did not go to any branch below jarbo" in capsys.readouterr().err


@pytest.mark.parametrize("visibility", [Visibility.NAMED, Visibility.ANONYMOUS])
async def test_anonymous_answers_are_never_listed_in_the_order_people_answered(
    console: Console, visibility: Visibility
) -> None:
    opening = _script(visibility).split("@anna: [Svara]")[0]
    await console.run(opening)
    for name, said in (("anna", "Zebra"), ("cecilia", "Apa")):
        await console.run(f"@{name}: [Svara]\n@{name}: {said}\n@{name}: [Lämna in]")
    async with console.database.unit_of_work() as uow:
        c = await uow.consultations.get(1)
        sandviken = await uow.orgs.by_slug("sandviken")
        assert c is not None and sandviken is not None
        from bot.consultations.service import summaries

        [row] = await summaries(console_effects(console, uow), c, [sandviken], in_branch=True)
    texts = [said for _name, said in row.answers]
    assert texts == (["Apa", "Zebra"] if visibility is Visibility.ANONYMOUS else ["Zebra", "Apa"])
