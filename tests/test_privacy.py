"""Retention, the flood limit, and reports: members' data kept only as long as needed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.bootstrap import build_registry
from bot.clock import VirtualClock
from bot.core import Samtal
from bot.domain.delivery import OutboxStatus
from bot.domain.people import Identity, Person
from bot.events import Chat, Sender, TextReceived
from bot.messages import message
from bot.outbox import enqueue
from bot.settings import Settings
from storage.database import Database
from tests.conftest import START, STOCKHOLM, Console
from tests.test_delivery import RecordingGateway


async def test_long_unseen_guests_and_old_deliveries_are_removed_at_night(console: Console) -> None:
    async with console.database.unit_of_work() as uow:
        stale = await uow.people.add(
            Person(
                "Gammal gäst",
                created_at=START - timedelta(days=500),
                last_seen_at=START - timedelta(days=400),
            )
        )
        assert stale.id is not None
        await uow.people.add_identity(Identity(stale.id, "console", "gammal"))
        await enqueue(
            uow,
            key="old",
            platform="console",
            chat_id="anna",
            direct=True,
            message=message("x"),
            now=START - timedelta(days=40),
        )
        await uow.commit()
    await console.samtal.run_due()  # delivers "old" (created 40 days ago, sent now)
    async with console.database.unit_of_work() as uow:
        entry = await uow.outbox.get(1)
        assert entry is not None and entry.status is OutboxStatus.SENT
    await console.run("@clock: +1d")  # past 03:30: the nightly run
    async with console.database.unit_of_work() as uow:
        assert await uow.people.get(stale.id) is None
        assert await uow.people.by_identity("console", "david") is not None  # seen recently
        assert await uow.people.by_identity("console", "anna") is not None  # a member
        assert await uow.outbox.get(1) is None
        assert await uow.timers.next_due() is not None  # the next night is armed
    await console.run("@clock: +1d")
    async with console.database.unit_of_work() as uow:
        due = await uow.timers.next_due()
    assert due is not None and due > START + timedelta(days=2)


async def test_a_flood_gets_one_warning_and_then_silence(database: Database) -> None:
    clock = VirtualClock(START)
    gateway = RecordingGateway()
    samtal = Samtal(
        database.unit_of_work,
        clock,
        build_registry(),
        {"console": gateway},
        Settings(flood_limit=3),
    )
    for number in range(6):
        await samtal.handle(
            TextReceived(
                f"e{number}",
                Sender("console", "zed", "Zed"),
                Chat("console", "zed", True),
                "/hjalp",
            )
        )
    await samtal.run_due()
    assert len(gateway.sent) == 4
    assert "Vänta en minut" in gateway.sent[-1][1]
    clock.advance(timedelta(minutes=1))
    await samtal.handle(
        TextReceived("e9", Sender("console", "zed", "Zed"), Chat("console", "zed", True), "/hjalp")
    )
    await samtal.run_due()
    assert len(gateway.sent) == 5


async def test_a_report_reaches_only_the_organisers(console: Console) -> None:
    output = await console.run("@anna: /anmal Någon skickar elaka meddelanden till mig.")
    assert "-> bertil: " in output and "Någon skickar elaka meddelanden till mig." in output
    assert "-> #allmant" not in output and "-> cecilia" not in output and "-> erik" not in output
    assert "-> anna: Tack för att du berättar" in output


async def test_people_who_left_and_finished_introductions_are_cleaned_up(console: Console) -> None:
    from bot.welcome.model import FlowStatus, WelcomeFlow

    async with console.database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        anna = await uow.people.by_identity("console", "anna")
        oliver = await uow.people.by_identity("console", "oliver")
        assert sandviken and sandviken.id and anna and anna.id and oliver and oliver.id
        await uow.people.leave(anna.id, [sandviken.id])  # she left the party
        anna.last_seen_at = START - timedelta(days=100)
        for person_id, consented in ((oliver.id, True), (anna.id, False)):
            await uow.welcome.add(
                WelcomeFlow(
                    person_id,
                    sandviken.id,
                    FlowStatus.COMPLETED,
                    START - timedelta(days=200),
                    completed_at=START - timedelta(days=120),
                    contacted_at=START - timedelta(days=190),
                    interests=["klimat"],
                    ways=["skriva"],
                    tasks_consent=consented,
                    checkin_done=["ett möte"],
                    checkin_wish="Mer om skolan",
                )
            )
        await uow.commit()
    await console.run("@clock: +1d")
    async with console.database.unit_of_work() as uow:
        assert await uow.people.get(anna.id) is None
        flow = await uow.welcome.of_person(oliver.id)
        assert flow is not None
        assert (flow.checkin_wish, flow.checkin_done) == (None, [])
        assert flow.interests == ["klimat"]  # he agreed to be asked about tasks
        assert flow.contacted_at is not None and flow.completed_at is not None  # the figures stay


def test_every_table_about_a_person_has_a_readable_name_in_mydata() -> None:
    from bot.privacy.entry import RECORD_LABELS
    from storage.mapping import start_mappers
    from storage.tables import outbox, personal_tables

    start_mappers()
    tables = {table.name for table, _column in personal_tables() if table is not outbox}
    assert tables - set(RECORD_LABELS) == set(), "add a readable name in bot/privacy/entry.py"


async def _export(console: Console, name: str) -> dict[str, Any]:
    from bot.privacy.service import export_person

    async with console.database.unit_of_work() as uow:
        person = await uow.people.by_identity("console", name)
        assert person is not None and person.id is not None
        return await export_person(uow, person.id)


async def test_an_export_holds_the_messages_sent_and_never_another_persons_answers(
    console: Console,
) -> None:
    text = (Path(__file__).parent / "transcripts/welcome_first_month.txt").read_text("utf-8")
    await console.run("\n".join(line for line in text.splitlines() if line.startswith("@")))
    wish = "Jag skriver gärna insändare om skolan!"

    nora = await _export(console, "nora")
    assert len(nora["welcome_flows"]) == 1 and nora["welcome_flows"][0]["checkin_wish"] == wish
    sent = [m["text"] for m in nora["outbox"]]
    assert any(t.startswith("Nu har du varit medlem i en månad") for t in sent)  # the check-in
    assert all(m["status"] == "sent" and m["platform"] == "console" for m in nora["outbox"])

    # Cecilia is Nora's contact person: her export says so, and holds nothing of Nora's.
    cecilia = await _export(console, "cecilia")
    assert "welcome_flows" not in cecilia
    flow_id = nora["welcome_flows"][0]["id"]
    assert cecilia["named_in"] == [
        {"table": "welcome_flows", "id": flow_id, "as": ["officer_id", "contacted_by"]}
    ]
    # Not even through the messages the bot sent her about Nora: those are Nora's news.
    everything = json.dumps(cecilia, ensure_ascii=False)
    for nora_said in (wish, "climate", "Klimat", "checkin_wish", "Nora (console @nora)"):
        assert nora_said not in everything
    reply = await console.said("@cecilia: /mina_uppgifter")
    assert "Andra personers uppgifter som nämner dig, t.ex. som kontaktperson: 1" in reply


async def _armed(database: Database, prefix: str) -> list[tuple[str, str]]:
    """The pending timers whose key starts so: (key without its date, local due time)."""
    import sqlalchemy as sa

    from storage.tables import timers

    async with database.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(timers.c.key, timers.c.due_at)
            .where(timers.c.done_at.is_(None), timers.c.key.startswith(prefix))
            .order_by(timers.c.key)
        )
        return [
            (key.rsplit(":", 1)[0], due.astimezone(STOCKHOLM).isoformat(timespec="minutes"))
            for key, due in rows
        ]


async def test_a_failing_night_leaves_the_other_steps_done_and_the_next_night_armed(
    database: Database,
) -> None:
    # A retention of a billion days makes the erasure of people fail (the date overflows):
    # that rolled back the whole night, and the next night, armed in the same transaction.
    clock = VirtualClock(START)
    gateway = RecordingGateway()
    samtal = Samtal(
        database.unit_of_work,
        clock,
        build_registry(),
        {"console": gateway},
        Settings(guest_retention_days=10**9),
    )
    await samtal.start()
    async with database.unit_of_work() as uow:
        await enqueue(
            uow,
            key="old",
            platform="console",
            chat_id="anna",
            direct=True,
            message=message("x"),
            now=START - timedelta(days=40),
        )
        await uow.commit()
    await samtal.run_due()
    for night in (3, 4, 5):
        armed = await _armed(database, "housekeeping:")
        assert armed, f"nothing armed for night {night}"
        assert {due for _, due in armed} == {f"2026-03-0{night}T03:30+01:00"}
        clock.advance(timedelta(days=1))  # past 03:30
        await samtal.run_due()
        async with database.unit_of_work() as uow:
            assert await uow.outbox.get(1) is None  # purged although the erasure failed
    assert await _armed(database, "welcome:guests:") == [
        ("welcome:guests", "2026-03-06T04:15+01:00")
    ]
