"""The wheel as a calendar: exported by `samtal calendar`, served at /calendar/<org>.ics."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import recurring_ical_events
from aiohttp.test_utils import TestClient, TestServer
from icalendar import Calendar

from samtal.calendar_cli import export_calendar
from samtal.web import build_app
from tests.conftest import STOCKHOLM, Console


async def _export(console: Console, tmp_path: Path) -> bytes:
    out = tmp_path / "sandviken.ics"
    assert await export_calendar(console.database, console.clock, "sandviken", out) == 0
    return out.read_bytes()


def _local_starts(data: bytes, summary: str, start: date, end: date) -> list[datetime]:
    calendar = Calendar.from_ical(data)
    found = recurring_ical_events.of(calendar).between(start, end)
    return sorted(
        event.decoded("DTSTART").astimezone(STOCKHOLM)
        for event in found
        if str(event["SUMMARY"]) == summary
    )


async def test_the_exported_wheel_recurs_at_the_same_local_time_across_dst(
    console: Console, tmp_path: Path
) -> None:
    before = await _export(console, tmp_path)
    assert b"Filmklubben" not in before  # an inherited wheel nobody started is not exported
    await console.run(
        "@bertil#allmant: /arshjul_start\n"
        "@bertil#allmant: /arshjul_hoppa filmklubb 2026-05-29\n"
        "@bertil#allmant: /arshjul_flytta filmklubb 2026-04-24 2026-04-23 19:00"
    )
    data = await _export(console, tmp_path)
    calendar = Calendar.from_ical(data)
    assert calendar.walk("VTIMEZONE")
    series = [
        e for e in calendar.walk("VEVENT") if str(e["SUMMARY"]) == "Filmklubben Kafé Cinea(S)"
    ]
    assert any("RRULE" in e for e in series)
    assert series[0]["DTSTART"].params["TZID"] == "Europe/Stockholm"

    films = _local_starts(data, "Filmklubben Kafé Cinea(S)", date(2026, 3, 1), date(2026, 12, 1))
    days = [d.date() for d in films]
    assert date(2026, 3, 27) in days  # winter time
    assert date(2026, 10, 30) in days  # winter time again, after 25 October
    assert date(2026, 9, 25) in days  # summer time
    assert date(2026, 5, 29) not in days  # skipped here
    assert date(2026, 4, 24) not in days and datetime(2026, 4, 23, 19, tzinfo=STOCKHOLM) in films
    assert {d.time() for d in films if d.date() != date(2026, 4, 23)} == {time(18, 30)}
    assert {d.utcoffset().total_seconds() for d in films if d.utcoffset()} == {3600, 7200}
    assert not [d for d in days if d.month in (6, 7, 8)]  # the summer break

    # The election is a single event in its year; the weekly open house recurs.
    elections = _local_starts(data, "Valdagen", date(2026, 1, 1), date(2031, 1, 1))
    assert [d.date() for d in elections] == [date(2026, 9, 13)]
    open_house = _local_starts(data, "Öppet hus i Sosserian", date(2026, 3, 23), date(2026, 4, 6))
    assert [d.date() for d in open_house] == [date(2026, 3, 26), date(2026, 4, 2)]
    assert {d.time() for d in open_house} == {time(15, 0)}


async def test_the_served_feed_is_the_exported_calendar(console: Console, tmp_path: Path) -> None:
    await console.run("@bertil#allmant: /arshjul_start")
    exported = await _export(console, tmp_path)
    app = build_app(console.database.unit_of_work, console.clock)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/calendar/sandviken.ics")
        assert response.status == 200
        assert response.content_type == "text/calendar"
        served = await response.read()
        missing = await client.get("/calendar/nowhere.ics")
        assert missing.status == 404
    assert served == exported
    # The annual meeting became a members-only meeting: not in the public feed.
    assert not _local_starts(served, "Årsmöte", date(2026, 1, 1), date(2027, 1, 1))
    out = tmp_path / "all.ics"
    await export_calendar(console.database, console.clock, "sandviken", out, members_only_too=True)
    assert _local_starts(out.read_bytes(), "Årsmöte", date(2026, 1, 1), date(2027, 1, 1))


async def test_the_runtime_serves_the_feed_unless_web_is_turned_off(
    console: Console, tmp_path: Path
) -> None:
    import aiohttp

    from samtal.config import BackupConfig, Config, WebConfig, parse_config
    from samtal.runtime import start_operating

    off = await start_operating(
        parse_config({"web": {"enabled": False}, "backup": {"keep": 0}}, "test"),
        console.database,
        console.samtal,
    )
    assert off.web is None
    await off.stop()
    # Port 0 (any free port) is refused in a file; a test may use it.
    config = Config(web=WebConfig(port=0), backup=BackupConfig(keep=0))
    operating = await start_operating(config, console.database, console.samtal)
    assert operating.web is not None
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{operating.web.port}/calendar/gavle.ics") as response,
        ):
            assert response.status == 200
            assert (
                Calendar.from_ical(await response.read())["X-WR-CALNAME"] == "Gävle arbetarekommun"
            )
    finally:
        await operating.stop()
