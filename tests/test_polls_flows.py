"""Polls through the real paths: anonymity on every output an organiser has, erasure, the demo poll."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.clock import VirtualClock
from bot.context import Effects
from bot.polls.service import merge_votes
from bot.privacy.service import export_person
from storage.database import Database, sqlite_url
from storage.polls import poll_ballots, poll_participation, poll_secrets, polls
from tests.conftest import START, Console

# samtal.cli keeps these at WARNING: their DEBUG lines carry SQL parameters.
SILENCED_DRIVERS = ("aiosqlite", "asyncpg", "sqlalchemy")
# Import-time chatter (font cache, plugins) that the first world logs and the second does not.
IMPORT_CHATTER = ("matplotlib", "PIL")

QUESTION = "Vilket tema ska vi ha i april?"
CREATE_ANONYMOUS = f"""
@bertil: /ny_omrostning
@bertil: [Enkelval]
@bertil: {QUESTION}
@bertil: Skolan; Vården; Jobben
@bertil: [Klart]
@bertil: fredag 18:00
@bertil: [Anonym]
@bertil: [Även gäster]
@bertil: 50
@bertil: [Publicera]
"""


def _votes(first: str, second: str) -> str:
    """Anna and Cecilia vote (Anna changes her mind once); which option is whose is the variable."""
    return f"""
@anna#allmant: [Rösta]
@anna: [Jobben]
@anna: [{first}]
@cecilia#allmant: [Rösta]
@cecilia: [{second}]
@david#allmant: [Rösta]
@david: [Jobben]
"""


# Everything an organiser (or the data controller) can do to learn about the poll.
ORGANISER_PATHS = """
@bertil: /omrostningar
@bertil: [Resultat]
@bertil#allmant: /omrostningar
@bertil#allmant: [Resultat]
@bertil: /mina_uppgifter
@bertil: [Stäng nu]
@bertil: /omrostningar
@anna: /mina_uppgifter
@anna: [Skolan]
"""


def _without_tokens(value: Any) -> Any:
    """Button tokens are random per run (by design); everything else must match."""
    if isinstance(value, dict):
        return {k: _without_tokens(v) for k, v in value.items() if k != "token"}
    if isinstance(value, list):
        return [_without_tokens(v) for v in value]
    return value


def _readable(data: bytes) -> Any:
    """A JSON file (the /mina_uppgifter export) without tokens, or the bytes (a chart)."""
    try:
        return _without_tokens(json.loads(data))
    except ValueError:
        return data


async def _world(
    tmp_path: Path, name: str, first: str, second: str, caplog: pytest.LogCaptureFixture
) -> dict[str, Any]:
    """Runs the whole story in a database of its own and returns everything observable."""
    database = Database(sqlite_url(tmp_path / f"{name}.db"))
    await database.upgrade()
    try:
        console = Console(database, VirtualClock(START))
        await console.samtal.start()
        await console.seed_demo()
        caplog.clear()
        output = await console.run(CREATE_ANONYMOUS + _votes(first, second) + ORGANISER_PATHS)
        logs = [
            f"{record.name}: {record.getMessage()}"
            for record in caplog.records
            if not record.name.startswith(SILENCED_DRIVERS + IMPORT_CHATTER)
        ]
        async with database.engine.connect() as connection:
            ballots = (await connection.execute(sa.select(poll_ballots))).mappings().all()
            poll_rows = (
                (await connection.execute(sa.select(polls).where(polls.c.question == QUESTION)))
                .mappings()
                .all()
            )
            secrets = (
                await connection.execute(
                    sa.select(poll_secrets).where(poll_secrets.c.poll_id == poll_rows[0]["id"])
                )
            ).all()
            participants = (
                (await connection.execute(sa.select(poll_participation.c.person_id)))
                .scalars()
                .all()
            )
        exports = {}
        async with database.unit_of_work() as uow:
            for person in ("anna", "cecilia", "bertil"):
                found = await uow.people.by_identity("console", person)
                assert found is not None and found.id is not None
                exports[person] = await export_person(uow, found.id)
        attachments = [
            _readable(d.message.attachment.data)
            for d in console.gateway.delivered
            if d.message.attachment
        ]
        said = [line for line in output.splitlines() if not line.startswith("@")]
        return {
            "output": said,
            "transcript": output,
            "logs": logs,
            "ballots": sorted((b["choice"], b["person_id"], b["voter_key"]) for b in ballots),
            "poll": [dict(p) for p in poll_rows],
            "participants": sorted(participants),
            "secrets": secrets,
            "exports": _without_tokens(exports),
            "attachments": attachments,
        }
    finally:
        await database.dispose()


async def test_no_output_path_tells_who_chose_what(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two worlds where Anna and Cecilia swap their choices look the same from every path.

    Everything the bot sent to anyone (organiser's listings, results, the close
    messages, /mina_uppgifter files, the voters' own confirmations), the GDPR
    export of each person, the logs and the stored rows are compared.
    """
    caplog.set_level(logging.DEBUG)
    one = await _world(tmp_path, "one", "Skolan", "Vården", caplog)
    two = await _world(tmp_path, "two", "Vården", "Skolan", caplog)
    assert "Vilket tema ska vi ha i april?" in one["transcript"]
    assert "Skolan: 1" in one["transcript"] and "Vården: 1" in one["transcript"]
    assert one["attachments"], "the result chart was sent"
    for key in ("output", "logs", "ballots", "poll", "participants", "exports", "attachments"):
        assert one[key] == two[key], key
    # After close the ballots carry nothing that points at anyone, and the secret is gone.
    assert all(person is None and key is None for _, person, key in one["ballots"])
    assert one["secrets"] == []
    # Voting after close was refused and changed nothing.
    assert "så din röst räknades inte" in one["transcript"]


async def test_erased_voters_stay_counted_and_unlinked(console: Console) -> None:
    await console.run(
        """
@bertil: /ny_omrostning
@bertil: [Enkelval]
@bertil: Synlig fråga
@bertil: Ja; Nej
@bertil: [Klart]
@bertil: fredag 18:00
@bertil: [Synliga]
@bertil: [Bara medlemmar]
@bertil: [Löpande]
@bertil: [Inget kvorum]
@bertil: [Publicera]
@anna#allmant: [Rösta]
@anna: [Ja]
"""
        + CREATE_ANONYMOUS
        + """
@anna#allmant: [Rösta]
@anna: [Vården]
@anna: /glom_mig
@anna: [1]
"""
    )
    async with console.database.engine.connect() as connection:
        ballots = (await connection.execute(sa.select(poll_ballots))).mappings().all()
        participation = (await connection.execute(sa.select(poll_participation))).all()
    assert len(ballots) == 2  # both votes still count
    assert all(b["person_id"] is None for b in ballots)  # the visible one lost its person
    assert participation == []  # the person's own record went with them
    output = await console.run("@clock: 2026-03-06T18:00")
    assert "Ja: 1 (100 %)" in output
    assert "Vården: 1 (100 %)" in output


async def test_anonymity_is_fixed_once_someone_has_voted(console: Console) -> None:
    output = await console.run(
        CREATE_ANONYMOUS
        + """
@bertil: /omrostningar
@bertil: [Gör synlig]
@bertil: /omrostningar
@bertil: [Gör anonym]
@anna#allmant: [Rösta]
@anna: [Skolan]
@bertil: [Gör anonym]
@bertil: /omrostningar
"""
    )
    assert "Rösterna i omröstningen är nu synliga." in output
    assert "Anonymiteten går inte att ändra när första rösten är lagd." in output
    assert "Omröstningen är nu anonym." in output
    assert output.rstrip().endswith("[Stäng nu]")  # no switch offered once a vote is in
    async with console.database.engine.connect() as connection:
        poll = (
            (await connection.execute(sa.select(polls).where(polls.c.question == QUESTION)))
            .mappings()
            .one()
        )
        secret = (
            await connection.execute(
                sa.select(poll_secrets.c.secret).where(poll_secrets.c.poll_id == poll["id"])
            )
        ).scalar_one()
        ballot = (
            (
                await connection.execute(
                    sa.select(poll_ballots).where(poll_ballots.c.poll_id == poll["id"])
                )
            )
            .mappings()
            .one()
        )
    assert poll["anonymous"] and len(secret) == 64
    assert ballot["person_id"] is None and ballot["voter_key"]


async def test_two_accounts_merged_into_one_person_keep_one_anonymous_vote(
    console: Console,
) -> None:
    """What /koppla must do (merge_votes before PeopleRepository.merge): one vote per person."""
    await console.run(
        CREATE_ANONYMOUS
        + """
@annatg: /start join_sandviken
@annatg: [Jag godkänner]
@ceciliatg: /start join_sandviken
@ceciliatg: [Jag godkänner]
@anna#allmant: [Rösta]
@anna: [Skolan]
@annatg#allmant: [Rösta]
@annatg: [Vården]
@ceciliatg#allmant: [Rösta]
@ceciliatg: [Jobben]
"""
    )
    async with console.database.unit_of_work() as uow:
        ids = {}
        for name in ("anna", "annatg", "cecilia", "ceciliatg"):
            person = await uow.people.by_identity("console", name)
            assert person is not None and person.id is not None
            ids[name] = person.id
        effects = Effects(uow, console.clock)
        for keep, drop in (("anna", "annatg"), ("cecilia", "ceciliatg")):
            await merge_votes(effects, ids[keep], ids[drop])
            await uow.people.merge(ids[keep], ids[drop])
        await uow.commit()
    # Cecilia's vote came from her other account; changing it now, from either, replaces it.
    # (The ballot goes to the account she used last, the other one.)
    changed = await console.run("@cecilia#allmant: [Rösta]\n@ceciliatg: [Vården]")
    assert "Din röst är räknad" in changed, changed
    async with console.database.engine.connect() as connection:
        poll_id = (
            await connection.execute(sa.select(polls.c.id).where(polls.c.question == QUESTION))
        ).scalar_one()
        choices = sorted(
            (
                await connection.execute(
                    sa.select(poll_ballots.c.choice).where(poll_ballots.c.poll_id == poll_id)
                )
            ).scalars()
        )
        voters = set(
            (
                await connection.execute(
                    sa.select(poll_participation.c.person_id).where(
                        poll_participation.c.poll_id == poll_id
                    )
                )
            ).scalars()
        )
    assert choices == [[0], [1]]  # Anna's own Skolan won over her other account's Vården
    assert voters == {ids["anna"], ids["cecilia"]}
