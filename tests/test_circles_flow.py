"""Study circles through the real paths: the attendance list parsed, privacy, the APIs others call."""

from __future__ import annotations

import argparse
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.circles.model import (
    LIST_CONSENT_VERSION,
    EducationKind,
    EnrolmentState,
    PlannedSession,
)
from bot.circles.service import (
    CircleDraft,
    attendance_list,
    create_circle,
    offer_circles,
    open_circles,
)
from bot.context import Effects
from bot.i18n import Translator
from bot.messages import OutgoingMessage
from samtal import circle_cli
from storage.circles import circle_changes, circle_threads
from storage.tables import timers
from tests.conftest import Console

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def _inputs(name: str) -> str:
    text = (TRANSCRIPTS / name).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if line.startswith(("@", "#")))


def _attachments(console: Console, chat_id: str, suffix: str) -> list[OutgoingMessage]:
    return [
        d.message
        for d in console.gateway.delivered
        if d.chat_id == chat_id
        and d.message.attachment
        and d.message.attachment.filename.endswith(suffix)
    ]


def _sections(data: bytes) -> list[list[list[str]]]:
    """The CSV's blocks, split at its empty rows."""
    blocks: list[list[list[str]]] = [[]]
    for row in csv.reader(io.StringIO(data.decode("utf-8"))):
        if not row:
            blocks.append([])
        else:
            blocks[-1].append(row)
    return [b for b in blocks if b]


async def test_the_attendance_csv_of_the_sessions_transcript(console: Console) -> None:
    # The same flow as tests/transcripts/circles_sessions.txt, then the CSV Erik got.
    await console.run(_inputs("circles_sessions.txt"))
    [sent] = _attachments(console, "erik", ".csv")
    assert sent.attachment is not None
    assert sent.attachment.media_type == "text/csv"
    head, people, sessions, changes, notes = _sections(sent.attachment.data)

    assert dict((row[0], row[1]) for row in head) == {
        "Studiecirkel": "Medlemsutbildning steg 2",
        "Typ": "Medlemsutbildning steg 2",
        "Organisation": "Sandvikens arbetarekommun",
        "Ledare": "Erik",
        "Plats": "Folkets hus, Sandviken",
        "Studietimmar": "9",
    }

    header, *rows = people
    assert header[:2] == ["Namn", "Roll"]
    assert header[-3:] == ["Träffar närvarande", "Studietimmar", "Räknas som deltagare"]
    assert header[2:5] == [
        "Träff 1 2026-03-17",
        "Träff 2 2026-03-24",
        "Träff 3 2026-04-01",
    ]
    by_name = {row[0]: row for row in rows}
    assert by_name["Erik"][1:] == [
        "Ledare", "närvarande", "närvarande", "närvarande", "3", "9", "ledare",
    ]  # fmt: skip
    # Anna: all three sessions, 9 study hours: she counts.
    assert by_name["Anna"][1:] == [
        "Deltagare", "närvarande", "närvarande", "närvarande", "3", "9", "ja",
    ]  # fmt: skip
    # Bertil was marked present at the first session only (the check-in closed for the second).
    assert by_name["Bertil"][1:] == [
        "Deltagare", "närvarande", "frånvarande", "frånvarande", "1", "3", "nej",
    ]  # fmt: skip
    # Oliver said no to being named: he is on the list, without his name anywhere in it.
    anonymous = by_name["Deltagare 1 (utan namn)"]
    assert anonymous[1:] == [
        "Deltagare", "närvarande", "frånvarande", "närvarande", "2", "6", "nej",
    ]  # fmt: skip
    assert b"Oliver" not in sent.attachment.data

    assert sessions[0] == ["Träff", "Datum", "Tid", "Studietimmar", "Närvarande"]
    assert sessions[1:] == [
        ["1", "2026-03-17", "18:00-20:15", "3", "4"],
        ["2", "2026-03-24", "18:00-20:15", "3", "2"],
        ["3", "2026-04-01", "18:00-20:15", "3", "3"],
    ]

    assert changes[0] == ["Ändringar sedan start"]
    assert changes[1] == ["När", "Vad", "Vem eller vad"]
    what = [(row[1], row[2]) for row in changes[2:]]
    assert what[:3] == [
        ("anmälde sig", "Anna"),
        ("anmälde sig", "Deltagare 1 (utan namn)"),
        ("anmälde sig", "Bertil"),
    ]
    assert what[3][0] == "ny plats för träff"
    assert what[3][1] == "Folkets hus, Sandviken → ABF-huset, Köpmangatan 5"
    assert what[4][0] == "träff flyttad"
    assert "31 mars" in what[4][1] and "1 april" in what[4][1]

    assert [row[0] for row in notes] == ["Obs", "Obs"]
    assert "bara 2 närvarande" in notes[0][1]
    assert "1 deltagare" in notes[1][1] and "utan namn" in notes[1][1]

    [page] = _attachments(console, "erik", ".html")
    assert page.attachment is not None
    html_text = page.attachment.data.decode("utf-8")
    assert html_text.startswith("<!DOCTYPE html>")
    assert "<td>Deltagare 1 (utan namn)</td>" in html_text
    assert "Oliver" not in html_text


async def test_the_list_escapes_what_people_typed(console: Console) -> None:
    await console.run(
        """
@erik: /ny_cirkel
@erik: <b>Fett</b> & sånt
@erik: [Annan studiecirkel]
@erik: -
@erik: -
@erik: jag
@erik: 17/3 18:00-20:15 x3
@erik: Folkets <hus>
@erik: 2-5
@erik: -
@erik: [Skapa cirkeln]
@erik: /narvarolista 2
"""
    )
    [page] = _attachments(console, "erik", ".html")
    assert page.attachment is not None
    text = page.attachment.data.decode("utf-8")
    assert "&lt;b&gt;Fett&lt;/b&gt; &amp; sånt" in text
    assert "Folkets &lt;hus&gt;" in text and "<hus>" not in text


async def test_the_csv_list_runs_no_formula_someone_typed(console: Console) -> None:
    # OWASP CSV injection: a cell starting with = + - @ (or tab/CR) is shown as text.
    await console.run(
        """
@erik: /ny_cirkel
@erik: =HYPERLINK("http://evil.example","klick")
@erik: [Annan studiecirkel]
@erik: -
@erik: -
@erik: jag
@erik: 17/3 18:00-20:15 x3
@erik: @SUM(1+1)*cmd|' /C calc'!A0
@erik: 2-5
@erik: -
@erik: [Skapa cirkeln]
@erik: /narvarolista 2
"""
    )
    [sent] = _attachments(console, "erik", ".csv")
    assert sent.attachment is not None
    head = dict((row[0], row[1]) for row in _sections(sent.attachment.data)[0])
    assert head["Studiecirkel"] == '\'=HYPERLINK("http://evil.example","klick")'
    assert head["Plats"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    cells = [cell for block in _sections(sent.attachment.data) for row in block for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


async def test_consent_to_the_list_is_stored_with_time_and_version(console: Console) -> None:
    await console.run(_inputs("circles_signup.txt"))
    async with console.database.unit_of_work() as uow:
        anna = await uow.people.by_identity("console", "anna")
        oliver = await uow.people.by_identity("console", "oliver")
        assert anna and anna.id and oliver and oliver.id
        mine = await uow.circles.enrolment(2, anna.id)
        his = await uow.circles.enrolment(2, oliver.id)
    assert mine is not None and his is not None
    assert mine.list_consent and not his.list_consent
    assert mine.list_consent_version == his.list_consent_version == LIST_CONSENT_VERSION
    assert his.list_consent_at == console.clock.now()
    # Anna left and signed up again: she waits behind Cecilia.
    assert mine.state is EnrolmentState.WAITLISTED


async def test_an_erased_person_leaves_no_name_on_the_list(console: Console) -> None:
    await console.run(_inputs("circles_signup.txt"))
    async with console.database.unit_of_work() as uow:
        bertil = await uow.people.by_identity("console", "bertil")
        assert bertil and bertil.id
        await uow.people.erase(bertil.id)
        await uow.commit()
    async with console.database.unit_of_work() as uow:
        assert await uow.circles.enrolment(2, bertil.id) is None
        circle = await uow.circles.get(2)
        assert circle is not None
        sheet = await attendance_list(Effects(uow, console.clock), circle, Translator("en"))
        anonymous_changes = (
            await uow.session.execute(  # type: ignore[attr-defined]
                sa.select(sa.func.count()).where(circle_changes.c.person_id.is_(None))
            )
        ).scalar_one()
    data = sheet.to_csv(Translator("en")).decode("utf-8")
    assert "Bertil" not in data
    assert "Former participant" in data
    assert anonymous_changes == 2  # he joined the waitlist, then got a place


async def test_the_welcome_flow_can_offer_step_one_with_a_sign_up_button(
    console: Console,
) -> None:
    async with console.database.unit_of_work() as uow:
        anna = await uow.people.by_identity("console", "anna")
        assert anna is not None
        effects = Effects(uow, console.clock)
        offered = await offer_circles(
            effects, anna, EducationKind.MEMBER_EDUCATION_1, key="welcome:test:education"
        )
        again = await offer_circles(
            effects, anna, EducationKind.MEMBER_EDUCATION_1, key="welcome:test:education"
        )
        none = await offer_circles(
            effects, anna, EducationKind.LEADERSHIP, key="welcome:test:leadership"
        )
        await uow.commit()
    assert (offered, again, none) == (1, 1, 0)
    await console.samtal.run_due()
    offer = [d for d in console.gateway.delivered if d.chat_id == "anna"]
    assert len(offer) == 1  # the key sends it once
    assert "Medlemsutbildning steg 1: anmäl dig" in offer[0].message.plain_text
    reply = await console.said("@anna: [Anmäl mig: Medlemsutbildning steg 1]")
    assert "Får jag skriva ditt namn" in reply
    reply = await console.said("@anna: [Ja, ta med mitt namn]")
    assert reply.startswith("-> anna: Du är anmäld till Medlemsutbildning steg 1.")


async def test_a_circle_from_a_template_without_a_dialog(console: Console) -> None:
    start = datetime(2026, 4, 7, 16, 0, tzinfo=UTC)
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("gavle")
        fatima = await uow.people.by_identity("console", "fatima")
        assert org and org.id and fatima
        circle = await create_circle(
            Effects(uow, console.clock),
            CircleDraft(
                org_id=org.id,
                title="Ledarskap i föreningen",
                kind=EducationKind.LEADERSHIP,
                sessions=[
                    PlannedSession(start + timedelta(weeks=w), start + timedelta(weeks=w, hours=3))
                    for w in range(4)
                ],
                min_participants=4,
                max_participants=15,
                leader_id=fatima.id,
                link="https://meet.example.org/ledarskap",
            ),
        )
        await uow.commit()
    assert circle.is_digital
    assert circle.signup_deadline == start - timedelta(days=7)
    async with console.database.unit_of_work() as uow:
        session = uow.session  # type: ignore[attr-defined]
        threads = (await session.execute(sa.select(circle_threads))).all()
        keys = (await session.execute(sa.select(timers.c.key, timers.c.kind))).all()
    assert [(t.platform, t.chat_id, t.outbox_key) for t in threads] == [
        ("console", "gavle", f"circle:{circle.id}:announce:console:gavle")
    ]
    mine = [k for k in keys if k.key.startswith(f"circle:{circle.id}:")]
    assert sorted({k.kind for k in mine}) == [
        "circle.end",
        "circle.lowcheck",
        "circle.reminder",
        "circle.start",
    ]
    assert sum(1 for k in mine if k.kind == "circle.reminder") == 4
    await console.samtal.run_due()
    [post] = [d for d in console.gateway.delivered if d.chat_id == "gavle"]
    assert "Ny studiecirkel: Ledarskap i föreningen" in post.message.plain_text
    # Members in Gävle see it; members in Sandviken don't.
    async with console.database.unit_of_work() as uow:
        anna = await uow.people.by_identity("console", "anna")
        assert fatima is not None and anna is not None
        effects = Effects(uow, console.clock)
        assert [c.id for c in await open_circles(effects, fatima, EducationKind.LEADERSHIP)] == [
            circle.id
        ]
        assert await open_circles(effects, anna, EducationKind.LEADERSHIP) == []


async def test_a_circle_elsewhere_is_out_of_reach(console: Console) -> None:
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("gavle")
        assert org and org.id
        start = datetime(2026, 4, 7, 16, 0, tzinfo=UTC)
        await create_circle(
            Effects(uow, console.clock),
            CircleDraft(
                org_id=org.id,
                title="Gävles cirkel",
                kind=EducationKind.OTHER,
                sessions=[PlannedSession(start, start + timedelta(hours=2))],
                min_participants=2,
                max_participants=5,
            ),
            announce=False,
        )
        await uow.commit()
    # Gävle's circle (number 2) is not Anna's to list, nor Erik's, who organises in Sandviken.
    reply = await console.said("@anna: /narvarolista 2")
    assert "organisatörer med rätt roll" in reply
    reply = await console.said("@erik: /narvarolista 2")
    assert "Jag hittar inte den studiecirkeln" in reply


async def test_the_cli_writes_the_list(console: Console, tmp_path: Path) -> None:
    await console.run(_inputs("circles_signup.txt"))
    for name in ("list.csv", "list.html"):
        out = tmp_path / name
        args = argparse.Namespace(circle=2, out=str(out), language="en")
        assert await circle_cli.run(console.database, console.clock, args) == 0
        text = out.read_text(encoding="utf-8")
        assert "Välfärdens framtid" in text and "Bertil" in text and "Oliver" not in text
    missing = argparse.Namespace(circle=99, out=str(tmp_path / "x.csv"), language=None)
    assert await circle_cli.run(console.database, console.clock, missing) == 2
