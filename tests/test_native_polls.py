"""Native polls on Telegram and Discord, with the real libraries against the API doubles.

A poll that fits (bot/polls/native.py) goes out as the platform's own
poll; votes there are cast in the core like ballots (and refused ones are told
privately, not counted); the bot ends the platform's poll at the deadline
itself; polls that don't fit keep the Vote button, as on the console.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.discord.polls import LONGEST, duration_of
from adapters.discord.polls import POLL_LIMITS as DISCORD_LIMITS
from adapters.telegram.polls import POLL_LIMITS as TELEGRAM_LIMITS
from bot.clock import VirtualClock
from bot.context import Effects
from bot.demo.seed import seed_demo
from bot.i18n import Translator
from bot.messages import (
    NativePoll,
    OutgoingMessage,
    message,
    native_poll_handle,
    native_poll_reference,
    without_native_poll,
)
from bot.polls.model import Poll, PollKind
from bot.polls.native import may_go_native
from bot.polls.service import open_poll
from storage.database import Database
from tests.conftest import Console
from tests.platform_doubles.telegram_api import Refused as TelegramRefused
from tests.platform_drivers import DiscordDriver, Said, TelegramDriver, discord_bot, telegram_bot

sv = Translator("sv")
QUESTION = "Vilket tema ska vårens första samtalskväll ha?"
OPTIONS = ["Skolan", "Vården", "Jobben"]
ORG = "Sandvikens arbetarekommun"
Driver = TelegramDriver | DiscordDriver


def head(question: str = QUESTION) -> str:
    return sv('That was not counted in the poll "{question}".').format(question=question)


@pytest.fixture(params=["telegram", "discord"])
async def bot(
    request: pytest.FixtureRequest, database: Database, clock: VirtualClock
) -> AsyncIterator[Driver]:
    await seed_demo(database.unit_of_work, clock)
    runner = telegram_bot if request.param == "telegram" else discord_bot
    async with runner(database, clock) as driver:
        for name in ("anna", "bertil", "fatima"):
            await driver.link_demo(name)
        await driver.bind_group("bertil", "allmant", "sandviken")
        yield driver


async def publish(bot: Driver, **settings: Any) -> Poll:
    """What Publish does at the end of /ny_omrostning (that dialog has its own scenario)."""
    async with bot.samtal.uow_factory() as uow:
        org = await uow.orgs.by_slug("sandviken")
        bertil = await uow.people.by_identity("console", "bertil")
        assert org is not None and org.id is not None and bertil is not None
        now = bot.samtal.clock.now()
        poll = Poll(
            org_id=org.id,
            kind=PollKind.SINGLE,
            question=QUESTION,
            options=list(OPTIONS),
            deadline=now + timedelta(days=2),
            members_only=False,
            created_by=bertil.id,
            created_at=now,
        )
        for name, value in settings.items():
            setattr(poll, name, value)
        poll = await open_poll(Effects(uow, bot.samtal.clock), poll, org)
        await uow.commit()
    await bot.samtal.run_due()
    return poll


def group_posts(bot: Driver) -> list[Said]:
    return [s for s in bot._said(0) if s.to == "#allmant"]


async def vote(bot: Driver, user: str, options: list[int]) -> list[Said]:
    """Votes with 0-based options in the newest native poll in #allmant (none: takes it back)."""
    if isinstance(bot, TelegramDriver):
        return await bot.answer_poll(user, "allmant", options)
    return await bot.vote(user, "allmant", [o + 1 for o in options])


async def choices(bot: Driver, poll: Poll) -> dict[str, list[int]]:
    """What the core counts: each voter's choice, by name."""
    assert poll.id is not None
    async with bot.samtal.uow_factory() as uow:
        found: dict[str, list[int]] = {}
        for ballot in await uow.polls.ballots(poll.id):
            assert ballot.person_id is not None
            person = await uow.people.get(ballot.person_id)
            assert person is not None
            found[person.display_name] = ballot.choice
        participants = await uow.polls.participants(poll.id)
    assert len(participants) == len(found)
    return found


def native_poll_open(bot: Driver) -> bool:
    group = bot.group_id("allmant")
    if isinstance(bot, TelegramDriver):
        return not bot.double.poll_in(group).closed
    return not bot.double.poll_in(group).ended


async def test_a_poll_that_fits_goes_native_and_votes_count(bot: Driver) -> None:
    poll = await publish(bot)
    said = group_posts(bot)
    post = said[-1]
    assert post.to == "#allmant" and post.poll == tuple(OPTIONS)
    assert sv("Vote") not in post.buttons  # no private ballot from the group's post
    intro = post.text if isinstance(bot, DiscordDriver) else said[-2].text
    assert intro.startswith(sv("New poll: {question}").format(question=QUESTION))
    assert "/omrostningar" in intro
    if isinstance(bot, TelegramDriver):
        sent = bot.double.calls[-1]
        assert sent[0] == "sendPoll"
        assert sent[1]["is_anonymous"] in ("False", "false", False)
        assert "close_date" not in sent[1] and "open_period" not in sent[1]

    assert await vote(bot, "anna", [1]) == []  # counted; the platform shows it, no echo
    assert await choices(bot, poll) == {"Anna": [1]}
    await vote(bot, "anna", [2])  # a change of mind
    assert await choices(bot, poll) == {"Anna": [2]}
    await vote(bot, "bertil", [2])
    await vote(bot, "anna", [])  # taken back
    assert await choices(bot, poll) == {"Bertil": [2]}


async def test_multiple_choice_follows_each_tick(bot: Driver) -> None:
    poll = await publish(bot, kind=PollKind.MULTIPLE)
    await vote(bot, "anna", [0, 2])
    assert await choices(bot, poll) == {"Anna": [0, 2]}
    await vote(bot, "anna", [2])  # Discord: one answer unticked; Telegram: the new choice
    assert await choices(bot, poll) == {"Anna": [2]}


async def test_refused_votes_are_told_privately_and_not_counted(bot: Driver) -> None:
    poll = await publish(bot)
    # Fatima belongs to Gävle, not Sandviken.
    said = await vote(bot, "fatima", [0])
    assert [s.to for s in said] == ["fatima"]
    assert said[0].text == head() + " " + sv(
        "This poll is for {org}, so you can't vote in it."
    ).format(org=ORG)
    # Nora never started the bot: told so, and no record of her is made.
    said = await vote(bot, "nora", [0])
    assert [s.to for s in said] == ["nora"]
    assert said[0].text == sv(
        "I did not count your vote: I count votes only from people who have "
        "started a private chat with me. Write /start to me, then vote again."
    )
    async with bot.samtal.uow_factory() as uow:
        nora = bot.user("nora")["id"]
        assert await uow.people.identity(bot.platform, str(nora)) is None
    # Taking back a vote that was never counted changes nothing and says nothing.
    assert await vote(bot, "fatima", []) == []
    assert await choices(bot, poll) == {}


async def test_a_vote_after_the_deadline_is_refused_and_the_poll_ended(
    bot: Driver, clock: VirtualClock
) -> None:
    poll = await publish(bot)
    await vote(bot, "anna", [0])
    clock.set(poll.deadline)  # the platform's poll is still open: the close has not run yet
    said = await vote(bot, "anna", [1])
    to_anna = [s.text for s in said if s.to == "anna"]
    assert to_anna[0] == head() + " " + sv("The poll closed {when}.").format(
        when="onsdag 4 mars 2026 kl. 09:00"
    )
    assert await choices(bot, poll) == {"Anna": [0]}
    assert not native_poll_open(bot)


async def test_the_bot_ends_the_native_poll_at_its_deadline(
    bot: Driver, clock: VirtualClock
) -> None:
    poll = await publish(bot)
    await vote(bot, "anna", [1])
    clock.set(poll.deadline - timedelta(minutes=1))
    await bot.samtal.run_due()
    assert native_poll_open(bot)
    start = _sent_count(bot)
    clock.set(poll.deadline)
    await bot.samtal.run_due()
    assert not native_poll_open(bot)
    group = [s for s in _said_since(bot, start) if s.to == "#allmant" and s.text]  # no chart
    assert group[0].text.startswith(sv("Result: {question}").format(question=QUESTION))
    assert "Vården: 1 (100 %)" in group[0].text
    if isinstance(bot, TelegramDriver):
        methods = [c[0] for c in bot.double.calls]
        assert methods.count("stopPoll") == 1
        assert methods.index("stopPoll") < len(methods) - 1  # before the result went out
        with pytest.raises(TelegramRefused):  # Telegram's app no longer takes votes
            await bot.double.answer_poll(bot.user("bertil"), bot.double.poll_in(-100_000), [0])
    clock.set(poll.deadline + timedelta(hours=1))
    await bot.samtal.run_due()  # ended once: no second attempt, nothing refused
    if isinstance(bot, TelegramDriver):
        assert [c[0] for c in bot.double.calls].count("stopPoll") == 1
    assert bot.double.refusals == []


async def test_making_the_poll_anonymous_ends_the_native_poll(bot: Driver) -> None:
    await publish(bot)
    said = await bot.say("bertil", "/omrostningar")
    assert sv("Make anonymous") in said[-1].buttons
    said = await bot.press("bertil", sv("Make anonymous"))
    assert not native_poll_open(bot)
    notice = [s for s in said if s.to == "#allmant"]
    assert notice[0].text == sv(
        'The poll "{question}" is anonymous now, so it takes votes only in a private '
        "chat with me: press Vote."
    ).format(question=QUESTION)
    assert notice[0].buttons == (sv("Vote"),)


async def test_polls_that_do_not_fit_keep_the_vote_button(bot: Driver) -> None:
    for settings in (
        {"kind": PollKind.RANKED},
        {"anonymous": True},
        {"members_only": True},
        {"kind": PollKind.MULTIPLE, "max_choices": 2},
    ):
        await publish(bot, **settings)
        post = group_posts(bot)[-1]
        assert post.poll == () and post.buttons == (sv("Vote"),), settings
        assert post.text.startswith(sv("New poll: {question}").format(question=QUESTION))
    assert not bot.double.polls


async def test_platform_limits_decide_per_platform(bot: Driver) -> None:
    """A 60-character option fits Telegram (100) but not Discord (55); so do hidden results."""
    long_option = "Ett tema som tar lite längre tid att beskriva än man tror, ja"
    assert len(long_option) > 55
    await publish(bot, options=[*OPTIONS, long_option])
    first = group_posts(bot)[-1]
    await publish(bot, live_results=False, question="Och nästa?")
    second = group_posts(bot)[-1]
    if isinstance(bot, TelegramDriver):
        assert first.poll == (*OPTIONS, long_option) and second.poll == tuple(OPTIONS)
        assert bot.double.poll_in(bot.group_id("allmant")).hide_results
    else:
        assert first.poll == () and first.buttons == (sv("Vote"),)
        assert second.poll == () and second.buttons == (sv("Vote"),)


async def test_the_console_shows_the_vote_button(console: Console) -> None:
    """The console ignores the native request: the post is the same as before."""
    async with console.samtal.uow_factory() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None and org.id is not None
        now = console.clock.now()
        poll = Poll(org.id, PollKind.SINGLE, QUESTION, list(OPTIONS), now + timedelta(days=2))
        poll.members_only = False
        await open_poll(Effects(uow, console.clock), poll, org)
        await uow.commit()
    start = len(console.lines)
    await console.samtal.run_due()
    posted = console.lines[start:]
    assert posted[0] == "-> #allmant: " + sv("New poll: {question}").format(question=QUESTION)
    assert posted[-1] == f"[{sv('Vote')}]"


# --- the rule and the message, without a platform ---------------------------


def native(**changes: Any) -> NativePoll:
    opened = datetime(2026, 3, 2, 8, tzinfo=UTC)
    poll = NativePoll("poll:1", QUESTION, tuple(OPTIONS), False, opened, opened + timedelta(days=2))
    return replace(poll, **changes)


def test_limits_of_each_platform() -> None:
    assert native().fits(TELEGRAM_LIMITS) and native().fits(DISCORD_LIMITS)
    twelve = tuple(f"Alternativ {n}" for n in range(12))
    assert native(options=twelve).fits(TELEGRAM_LIMITS)
    assert not native(options=(*twelve, "ett till")).fits(TELEGRAM_LIMITS)
    assert not native(options=twelve[:11]).fits(DISCORD_LIMITS)
    assert not native(options=("x" * 101,)).fits(TELEGRAM_LIMITS)
    assert native(options=("x" * 55,)).fits(DISCORD_LIMITS)
    assert not native(options=("x" * 56,)).fits(DISCORD_LIMITS)
    assert not native(question="?" * 301).fits(TELEGRAM_LIMITS)
    assert not native(options=("",)).fits(TELEGRAM_LIMITS)
    assert not native(options=("🗳" * 51,)).fits(TELEGRAM_LIMITS)  # counted in UTF-16 units
    opened = native().opened_at
    assert native(closes_at=opened + LONGEST).fits(DISCORD_LIMITS)
    assert not native(closes_at=opened + LONGEST + timedelta(minutes=1)).fits(DISCORD_LIMITS)
    assert native(closes_at=opened + timedelta(days=300)).fits(TELEGRAM_LIMITS)
    assert native(hide_results=True).fits(TELEGRAM_LIMITS)
    assert not native(hide_results=True).fits(DISCORD_LIMITS)
    assert duration_of(timedelta(minutes=61)) == timedelta(hours=2)
    assert duration_of(timedelta(minutes=5)) == timedelta(hours=1)
    assert duration_of(LONGEST) == timedelta(hours=768)


def test_which_polls_may_go_native() -> None:
    base = Poll(1, PollKind.SINGLE, QUESTION, list(OPTIONS), datetime.now(UTC), members_only=False)
    assert may_go_native(base)
    assert may_go_native(replace(base, kind=PollKind.MULTIPLE))
    assert may_go_native(replace(base, kind=PollKind.MULTIPLE, max_choices=3))
    assert not may_go_native(replace(base, kind=PollKind.MULTIPLE, max_choices=2))
    for kind in (PollKind.TIME, PollKind.RANKED, PollKind.PROPOSAL):
        assert not may_go_native(replace(base, kind=kind))
    assert not may_go_native(replace(base, anonymous=True))
    assert not may_go_native(replace(base, members_only=True))


def test_native_requests_survive_the_outbox() -> None:
    sent = OutgoingMessage(message("x").spans, native_poll=native(spans=message("intro").spans))
    assert OutgoingMessage.from_json(sent.to_json()) == sent
    stop = OutgoingMessage((), stop_native_poll=True, refers_to="poll:1:open", reference="7")
    assert OutgoingMessage.from_json(stop.to_json()) == stop
    assert OutgoingMessage.from_json(message("x").to_json()).native_poll is None
    external = native_poll_reference("123", "5000")
    assert native_poll_handle(external) == "5000" and without_native_poll(external) == "123"
    assert native_poll_handle("123;event=9") is None


# --- helpers -----------------------------------------------------------------


def _sent_count(bot: Driver) -> int:
    return len(bot.double.sent) if isinstance(bot, TelegramDriver) else len(bot.double.posted)


def _said_since(bot: Driver, start: int) -> list[Said]:
    return bot._said(start)
