"""The wheel's scheduler through the real paths: console, core timers, outbox, database."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from bot.clock import VirtualClock
from bot.messages import OutgoingMessage
from bot.wheel.views import RSVP
from storage.database import Database, sqlite_url
from tests.conftest import START, STOCKHOLM, Console
from tests.forged_buttons import STALE, forge_buttons, press_with

YEAR_END = datetime(2026, 7, 1, 12, 0, tzinfo=STOCKHOLM)  # far enough, and keeps the test quick


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=STOCKHOLM)


async def started(console: Console) -> None:
    await console.run("@bertil#allmant: /arshjul_start")


def channel_posts(console: Console) -> list[str]:
    return [d.message.plain_text for d in console.gateway.delivered if not d.direct]


def record_times(console: Console) -> list[tuple[datetime, str]]:
    """Every message the console's platform receives, with the virtual time it was sent."""
    times: list[tuple[datetime, str]] = []
    send = console.gateway.send

    async def timed(chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
        moment = console.clock.now().astimezone(STOCKHOLM)
        times.append(
            (moment, message.plain_text if direct is False else f"@{chat_id} {message.plain_text}")
        )
        return await send(chat_id, message, direct=direct)

    console.gateway.send = timed  # type: ignore[method-assign]
    return times


async def test_announcements_and_reminders_come_at_local_times_across_dst(
    console: Console,
) -> None:
    times = record_times(console)
    await console.run("@bertil#allmant: /arshjul_hoppa oppet-hus")
    await started(console)
    await console.session.move_clock_to(at("2026-06-01T00:00"))
    sent = [(moment, text.split("\n")[0], text) for moment, text in times]

    def when_sent(first_line: str, containing: str = "") -> list[datetime]:
        return [m for m, line, text in sent if line == first_line and containing in text]

    # Three weeks ahead on the wall clock: 7 April 18:00 (summer time) on 17 March 18:00
    # (winter time), through the themed meetings' own announcement.
    assert when_sent("Argumentationsträning", "Argumentationsträning (nr") == [
        at("2026-03-17T18:00")
    ]
    # The wheel's own announcements: the film club two weeks ahead, at its local hour.
    film = "Filmklubben Kafé Cinea(S)"
    assert at("2026-03-13T18:30") in when_sent(film) and at("2026-04-10T18:30") in when_sent(film)
    # Its reminders the day before at 18:30, in winter time and in summer time.
    reminders = when_sent(f"Påminnelse: {film} – i morgon kl. 18:30")
    assert at("2026-03-26T18:30") in reminders and at("2026-04-23T18:30") in reminders
    assert when_sent("Påminnelse: Kampanjvecka: samtal vid dörren – i morgon kl. 17:00") == [
        at("2026-04-19T17:00")
    ]
    # Every "tomorrow" reminder came at the very minute of the day before, DST or not.
    tomorrow = [(m, line) for m, line, _ in sent if " – i morgon kl. " in line]
    assert len(tomorrow) >= 4
    for moment, line in tomorrow:
        assert line.endswith(moment.strftime("%H:%M")), (moment, line)
    # The study circle meets weekly at 10:00, also after summer time starts.
    circle = next(text for _, line, text in sent if line.startswith("Ny studiecirkel"))
    assert "lördag 4 april 2026 kl. 10:00–13:00" in circle


def is_wheel(text: str) -> bool:
    return "årshjulet för" in text or text.startswith("Påminnelse")


async def run_year(console: Console, stops: list[datetime]) -> None:
    for stop in stops:
        await console.session.move_clock_to(stop)


async def test_a_restart_mid_year_loses_nothing_and_sends_nothing_twice(
    console: Console, database: Database, tmp_path: Path
) -> None:
    # The same year without a restart, on a database of its own, is what should be sent.
    baseline_db = Database(sqlite_url(tmp_path / "baseline.db"))
    await baseline_db.upgrade()
    try:
        baseline = Console(baseline_db, VirtualClock(START))
        await baseline.samtal.start()
        await baseline.seed_demo()
        expected = record_times(baseline)
        await started(baseline)
        await run_year(baseline, [YEAR_END])
    finally:
        await baseline_db.dispose()

    first = record_times(console)
    await started(console)
    await run_year(console, [at("2026-05-10T10:00")])
    # A new process on the same database, with the clock where the old one stopped.
    again = Console(database, VirtualClock(console.clock.now()))
    second = record_times(again)
    await again.samtal.start()
    await again.samtal.run_due()
    await run_year(again, [YEAR_END])

    assert first and second
    # Everything the bot sent (wheel announcements, meetings, circles, reminders, in channels
    # and privately), with the moment it was sent, is exactly what an uninterrupted run sent.
    assert Counter(first + second) == Counter(expected)  # nothing lost, nothing twice
    assert max(Counter(first + second).values()) == 1
    assert sum(1 for _, text in first + second if is_wheel(text)) > 10


async def test_what_fell_due_while_down_is_sent_late_only_while_useful(
    console: Console, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await started(console)
    await run_year(console, [at("2026-04-01T12:00")])
    before = len(console.gateway.delivered)
    # The process is down from 1 April to 21 April noon: nothing runs meanwhile.
    down_until = at("2026-04-21T12:00")
    again = Console(database, VirtualClock(down_until))
    await again.samtal.start()
    with caplog.at_level(logging.INFO, logger="bot.core"):
        await again.samtal.run_due()
    late = [d.message.plain_text for d in again.gateway.delivered]
    assert before > 0
    # The film club on 24 April was to be announced on 10 April: still useful, sent late.
    assert any(text.startswith("Filmklubben") and "24 april" in text for text in late)
    # The reminders for argumentation (7 April) and the campaign week (20 April) came after
    # their start: dropped by the core's timer policy and logged once each, never sent.
    assert not any("Argumentationsträning" in text for text in late)
    assert not any(text.startswith("Påminnelse") and "20 april" in text for text in late)
    dropped = [r for r in caplog.records if "dropped: due" in r.getMessage()]
    assert dropped and all(r.levelno == logging.INFO for r in dropped)
    assert any(":remind:" in r.getMessage() for r in dropped)


async def test_a_paused_wheel_announces_nothing_new_until_started_again(
    console: Console,
) -> None:
    await started(console)
    await console.run("@bertil#allmant: /arshjul_paus")
    before = len(channel_posts(console))
    await run_year(console, [at("2026-04-30T12:00")])
    paused = channel_posts(console)[before:]
    assert not [p for p in paused if "årshjulet för" in p]
    assert "Pausat" in await console.said("@bertil#allmant: /arshjul")
    await console.run("@bertil#allmant: /arshjul_start")
    resumed = channel_posts(console)[before + len(paused) :]
    # The themed meeting of 20 May was due to be announced on 29 April: still useful, so now.
    assert any("Jobb och klimatomställning" in p and p.startswith("Ny tematräff") for p in resumed)


async def test_the_picture_is_a_phone_sized_png_that_is_not_blank(console: Console) -> None:
    output = await console.said("@anna: /arshjul")
    assert "Årshjulet 2026" in output
    delivered = console.gateway.delivered[-1]
    attachment = delivered.message.attachment
    assert attachment is not None and attachment.media_type == "image/png"
    from io import BytesIO

    from matplotlib import image

    pixels = image.imread(BytesIO(attachment.data))
    # Phone-sized: 1080 wide, the wheel and below it the list of names and dates.
    height, width = pixels.shape[:2]
    assert width == 1080 and 1080 < height <= 2200
    assert pixels.std() > 0.05  # not one flat colour
    red = (pixels[..., 0] > 0.8) & (pixels[..., 1] < 0.2) & (pixels[..., 2] < 0.3)
    assert red.sum() > 500  # the party-red themed meetings and the today marker are drawn


async def test_only_organisers_adjust_and_bad_input_changes_nothing(console: Console) -> None:
    refused = await console.said("@anna#allmant: /arshjul_hoppa filmklubb")
    assert "organisatörer" in refused
    unknown = await console.said("@bertil#allmant: /arshjul_hoppa bio")
    assert "filmklubb" in unknown  # the answer lists the keys
    no_date = await console.said("@bertil#allmant: /arshjul_hoppa filmklubb 2026-05-28")
    assert "/arshjul lista" in no_date
    listing = await console.said("@bertil#allmant: /arshjul lista")
    assert "[filmklubb]" in listing and "/arshjul_hoppa" in listing
    # A member sees the activities, but not the organisers' keys and commands.
    member = await console.said("@anna#allmant: /arshjul lista")
    assert "Filmklubben" in member and "[filmklubb]" not in member
    assert "/arshjul_hoppa" not in member


async def test_an_old_or_forged_rsvp_button_gets_the_shared_stale_answer(console: Console) -> None:
    forge_buttons(console)
    await started(console)  # announces what is due: the wheel's events 1-4
    # A gone event was "That activity is no longer on" before the core read the arguments.
    for args in ("999 yes", "x yes", "1 perhaps", "1", "1 yes extra"):
        assert STALE in await press_with(console, "anna", RSVP, args), args
    async with console.database.unit_of_work() as uow:
        event = await uow.wheel.event(1)
        assert event is not None and await uow.wheel.answers(1) == []
    said = await press_with(console, "anna", RSVP, "1 yes")
    assert f"kommer till {event.name}" in said and STALE not in said
