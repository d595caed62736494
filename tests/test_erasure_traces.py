"""After an erasure no value anywhere names the person, and every figure is what it was.

Nora joins, goes through her first month (her answers and her wish reach her
member officer), blocks a proposal with a reason (the organiser's result names
her vote), reports harassment and voter conversations; then she is erased, by
herself in chat or by the data controller with `samtal gdpr erase`. The scan
reads every text and JSON column of every table in the schema, so a table
added later is checked without anyone remembering it.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.context import Effects
from bot.insights.service import gather
from bot.polls.model import PollKind
from bot.polls.service import tally_of
from storage import tables
from storage.database import Database
from tests.conftest import Console

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = Path(__file__).parent / "transcripts"

WISH = "Jag skriver gärna insändare om skolan!"  # in welcome_first_month.txt
REASON = "Lördagar krockar med torgmötena i Storvik."
REPORT = "Någon skrek åt mig efter mötet i Folkets hus."

PROPOSAL = """\
@bertil: /ny_omrostning
@bertil: [Förslag]
@bertil: Arbetarekommunen håller öppet hus varje lördag i Sosserian under hösten.
@bertil: imorgon kl 20
@bertil: [Synliga]
@bertil: [Bara medlemmar]
@bertil: [Löpande]
@bertil: [Inget kvorum]
@bertil: [Publicera]
@cecilia#allmant: [Rösta]
@cecilia: [Instämmer]
@nora#allmant: [Rösta]
@nora: [Blockerar]
"""


def _first_month() -> str:
    text = (TRANSCRIPTS / "welcome_first_month.txt").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if line.startswith(("@", "#")))


# Button tokens are random (`secrets.token_urlsafe`) and can't name anyone, but one in
# a hundred thousand spells "nora" by chance, and a run makes hundreds; people never read them.
RANDOM_TOKEN = "token"


def _readable(value: Any) -> str:
    """A stored value as a person would read it: JSON as text, text files decoded."""
    if isinstance(value, dict | list):
        return json.dumps(_files_decoded(value), ensure_ascii=False)
    return str(value)


def _files_decoded(value: Any) -> Any:
    if isinstance(value, list):
        return [_files_decoded(item) for item in value]
    if isinstance(value, dict):
        if isinstance(value.get("media_type"), str) and isinstance(value.get("data"), str):
            data = base64.b64decode(value["data"])
            textual = value["media_type"].startswith("text/") or value["media_type"].endswith(
                "json"
            )
            return {**value, "data": data.decode("utf-8") if textual else "(picture)"}
        return {key: _files_decoded(item) for key, item in value.items() if key != RANDOM_TOKEN}
    return value


async def _what_names(database: Database, needles: list[str]) -> list[str]:
    """Every text or JSON value in every table that contains one of the needles (any case)."""
    wanted = [n.casefold() for n in needles]
    found = []
    async with database.engine.connect() as connection:
        for table in tables.metadata.sorted_tables:
            columns = [
                c
                for c in table.columns
                if isinstance(c.type, sa.String | sa.Text | sa.JSON) and c.name != RANDOM_TOKEN
            ]
            if not columns:
                continue
            for row in await connection.execute(sa.select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    text = _readable(value).casefold()
                    for needle in wanted:
                        if needle in text:
                            found.append(f"{table.name}.{column.name}: {needle!r} in {text[:300]}")
    return found


async def _figures(console: Console) -> dict[str, object]:
    async with console.database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None and org.id is not None
        figures = await gather(uow, org, console.clock.now())
        poll = await uow.polls.get(2)  # the demo has poll 1; Bertil's proposal is the next
        assert poll is not None and poll.kind is PollKind.PROPOSAL
        result = await tally_of(Effects(uow, console.clock), poll)
        return {
            "new members this year": figures.new_members_this_year,
            "guests who joined": figures.guests_joined,
            "welcome": figures.welcome,
            "conversations": figures.conversations,
            "study hours": figures.study_hours,
            "poll": (result.counts, poll.status),
        }


def _erase_with_the_command(database_url: str, person_id: int, tmp_path: Path) -> str:
    config = tmp_path / "samtal.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "gdpr", "erase", "--person", str(person_id), "--yes"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"SAMTAL_CONFIG": str(config), "SAMTAL_DATA_DIR": str(tmp_path / "data")},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("how", ["chat", "command"])
async def test_nothing_names_an_erased_member_and_the_figures_stay(
    console: Console, database_url: str, tmp_path: Path, how: str
) -> None:
    await console.run(_first_month())
    await console.run(PROPOSAL)
    await console.run(f"@nora: {REASON}\n@nora: /anmal {REPORT}\n@nora: /samtal 12")
    closed = await console.run("@clock: +2d")
    assert f"Nora blockerar: {REASON}" in closed  # the organiser saw her name and reason
    async with console.database.unit_of_work() as uow:
        nora = await uow.people.by_identity("console", "nora")
    assert nora is not None and nora.id is not None
    traces = ["nora", WISH, REASON, REPORT]
    assert len(await _what_names(console.database, traces)) > 10
    before = await _figures(console)
    assert before["new members this year"] == 1 and before["conversations"] == 12

    if how == "chat":
        await console.run("@nora: /glom_mig\n@nora: [Ja, radera allt]")
    else:
        said = _erase_with_the_command(database_url, nora.id, tmp_path)
        assert "counts only" in said

    assert await _what_names(console.database, traces) == []
    assert await _figures(console) == before
