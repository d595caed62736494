"""The repositories on a real database: people, linking, erasure, timers, backups."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import VirtualClock
from bot.demo.seed import seed_demo
from bot.domain.delivery import Timer
from bot.domain.people import Consent, Identity, Person, Role, RoleAssignment, Status
from storage.database import Database
from tests.conftest import START


async def _person(
    database: Database, name: str, platform: str = "console", **fields: object
) -> int:
    async with database.unit_of_work() as uow:
        person = await uow.people.add(Person(display_name=name, created_at=START, **fields))  # type: ignore[arg-type]
        assert person.id is not None
        await uow.people.add_identity(
            Identity(person.id, platform, name.lower(), username=name.lower())
        )
        await uow.commit()
        return person.id


async def test_the_organisation_tree(database: Database) -> None:
    await seed_demo(database.unit_of_work, VirtualClock(START))
    async with database.unit_of_work() as uow:
        jarbo = await uow.orgs.by_slug("jarbo")
        district = await uow.orgs.by_slug("gavleborg")
        assert (
            jarbo is not None
            and jarbo.id is not None
            and district is not None
            and district.id is not None
        )
        assert [o.slug for o in await uow.orgs.lineage(jarbo.id)] == [
            "jarbo",
            "sandviken",
            "gavleborg",
            "socialdemokraterna",
        ]
        below = {o.slug for o in await uow.orgs.subtree(district.id)}
        assert below == {
            "gavleborg",
            "sandviken",
            "gavle",
            "sandviken-centrum",
            "jarbo",
            "gavle-syd",
        }
        assert jarbo.timezone == "Europe/Stockholm" and jarbo.language == "sv"


async def test_seeding_the_demo_twice_changes_nothing(database: Database) -> None:
    assert await seed_demo(database.unit_of_work, VirtualClock(START)) is True
    assert await seed_demo(database.unit_of_work, VirtualClock(START)) is False


async def test_linking_two_accounts_makes_one_person(database: Database) -> None:
    await seed_demo(database.unit_of_work, VirtualClock(START))
    telegram_id = await _person(database, "Anna", platform="telegram")
    async with database.unit_of_work() as uow:
        web = await uow.people.by_identity("console", "anna")
        assert web is not None and web.id is not None
        await uow.people.add_consent(Consent(telegram_id, "v1", given_at=START))
        await uow.people.merge(keep_id=web.id, drop_id=telegram_id)
        await uow.commit()
    async with database.unit_of_work() as uow:
        kept = await uow.people.by_identity("telegram", "anna")
        assert kept is not None and kept.id == web.id and kept.status is Status.MEMBER
        assert {i.platform for i in await uow.people.identities_of(web.id)} == {
            "console",
            "telegram",
        }
        assert len(await uow.people.consents_of(web.id)) == 2
        assert await uow.people.get(telegram_id) is None


async def test_merging_keeps_one_row_where_both_had_the_same(database: Database) -> None:
    await seed_demo(database.unit_of_work, VirtualClock(START))
    async with database.unit_of_work() as uow:
        bertil = await uow.people.by_identity("console", "bertil")
        sandviken = await uow.orgs.by_slug("sandviken")
        assert (
            bertil is not None
            and bertil.id is not None
            and sandviken is not None
            and sandviken.id is not None
        )
        second = await uow.people.add(Person(display_name="Bertil", created_at=START))
        assert second.id is not None
        await uow.people.grant(
            RoleAssignment(second.id, sandviken.id, Role.ORGANISER, granted_at=START)
        )
        await uow.people.merge(keep_id=bertil.id, drop_id=second.id)
        await uow.commit()
    async with database.unit_of_work() as uow:
        roles = await uow.people.roles_of(bertil.id)
        assert [(r.org_id, r.role) for r in roles] == [(sandviken.id, Role.ORGANISER)]


async def test_erasing_a_person_removes_everything_that_names_them(database: Database) -> None:
    await seed_demo(database.unit_of_work, VirtualClock(START))
    async with database.unit_of_work() as uow:
        anna = await uow.people.by_identity("console", "anna")
        assert anna is not None and anna.id is not None
        await uow.people.erase(anna.id)
        await uow.commit()
    from storage.tables import personal_tables

    async with database.engine.connect() as connection:
        for table, column in personal_tables():
            rows = (await connection.execute(table.select().where(column == anna.id))).all()
            assert rows == [], f"{table.name}.{column.name} still names the erased person"
        assert (await connection.execute(personal_tables()[0][0].select())).first() is not None


async def test_timers_are_idempotent_by_key_and_never_rearmed(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.timers.schedule(Timer("t1", "kind", START + timedelta(hours=2)))
        await uow.timers.schedule(Timer("t1", "kind", START + timedelta(hours=1)))  # moved
        await uow.timers.schedule(Timer("t2", "kind", START + timedelta(hours=3)))
        await uow.timers.cancel("t2")
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.timers.next_due() == START + timedelta(hours=1)
        due = await uow.timers.due(START + timedelta(hours=5), 10)
        assert [t.key for t in due] == ["t1"]
        due[0].done_at = START + timedelta(hours=1)
        await uow.commit()
    async with database.unit_of_work() as uow:
        await uow.timers.schedule(Timer("t1", "kind", START + timedelta(hours=9)))
        await uow.commit()
        assert await uow.timers.next_due() is None


async def test_an_online_backup_is_a_working_copy(database: Database, tmp_path: Path) -> None:
    await seed_demo(database.unit_of_work, VirtualClock(START))
    target = tmp_path / "backups" / ("copy.db" if database.is_sqlite else "copy.dump")
    async with database.unit_of_work():  # the bot keeps a session open meanwhile
        await database.backup(target)
    assert target.stat().st_size > 0
    if database.is_sqlite:
        with sqlite3.connect(target) as copy:
            assert copy.execute("select count(*) from organisations").fetchone() == (7,)
    else:
        assert target.read_bytes().startswith(b"PGDMP")


def test_naive_datetimes_are_refused() -> None:
    from datetime import datetime

    from storage.tables import UtcDateTime

    with pytest.raises(ValueError, match="naive"):
        UtcDateTime().process_bind_param(datetime(2026, 3, 2, 9, 0), None)  # type: ignore[arg-type]
