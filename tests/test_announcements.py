"""Announcements on a real database: who is in the audience, each person once, sent once,
Discord reached through channel posts, and what the author is told while it runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.announcements import service
from bot.announcements.model import (
    Announcement,
    AnnouncementStatus,
    Audience,
    Candidate,
    Plan,
    Progress,
    QueueStep,
    Route,
    RouteKind,
    estimate_seconds,
    paid_applies,
    paid_cost,
    quarter,
    route,
)
from bot.announcements.service import Queued, plan_audience, queue_next, start_sending
from bot.context import Effects
from bot.delivery import MAX_ATTEMPTS
from bot.domain.delivery import OutboxStatus
from bot.domain.organisations import Channel
from bot.domain.people import Affiliation, Consent, Identity, Person, Status
from bot.messages import OutgoingMessage, message
from bot.outbox import enqueue
from bot.ports import DeliveryError, UnitOfWork
from bot.settings import Settings
from bot.welcome.model import FlowStatus, WelcomeFlow
from tests.conftest import START, Console

# --- the pure rules ------------------------------------------------------------------------------


def test_a_person_is_reached_privately_where_they_were_last_unless_that_chat_failed() -> None:
    both = Candidate(1, "sv", (("discord", "d1"), ("telegram", "t1")))
    assert route(both, discord_channels=True) == Route(RouteKind.DIRECT, "telegram", "t1")
    blocked = Candidate(
        1, "sv", (("telegram", "t1"), ("console", "c1")), frozenset({("telegram", "t1")})
    )
    assert route(blocked, discord_channels=False) == Route(RouteKind.DIRECT, "console", "c1")
    discord_only = Candidate(2, "sv", (("discord", "d2"),))
    assert route(discord_only, discord_channels=True).kind is RouteKind.DISCORD_CHANNEL
    assert route(discord_only, discord_channels=False).kind is RouteKind.UNREACHABLE
    gone = Candidate(3, "sv", (("telegram", "t3"),), frozenset({("telegram", "t3")}))
    assert route(gone, discord_channels=True).kind is RouteKind.UNREACHABLE


def test_paid_broadcast_applies_to_big_announcements_of_organisations_that_pay() -> None:
    assert paid_applies("party", 1000, ["party"], 1000)
    assert not paid_applies("party", 999, ["party"], 1000)
    assert not paid_applies("branch", 50_000, ["party"], 1000)
    assert str(paid_cost(12_345)) == "1234.5"
    # 100,000 Telegram chats: about 56 minutes at 30 a second, 100 seconds paid.
    assert round(estimate_seconds({"telegram": 100_000}, 0, paid=False)) == 3333
    assert round(estimate_seconds({"telegram": 100_000}, 3, paid=True)) == 100
    assert [quarter(n, 8) for n in (0, 1, 2, 4, 6, 7, 8)] == [0, 0, 1, 2, 3, 3, 4]
    assert Progress(sent=3, failed=1, pending=0, posts_pending=1).finished is False


# --- the audience on a real database --------------------------------------------------------------


async def _person(
    uow: UnitOfWork,
    name: str,
    slug: str,
    status: Status = Status.MEMBER,
    *,
    chats: tuple[tuple[str, str], ...] | None = None,
    consent: bool = True,
    withdrawn: bool = False,
) -> int:
    person = await uow.people.add(
        Person(name.capitalize(), status=status, created_at=START - timedelta(days=10))
    )
    assert person.id is not None
    for platform, chat in chats if chats is not None else (("console", name),):
        await uow.people.add_identity(
            Identity(
                person.id,
                platform,
                chat,
                username=name,
                created_at=START - timedelta(days=10),
                last_seen_at=START - timedelta(days=1),
            )
        )
    org = await uow.orgs.by_slug(slug)
    assert org is not None and org.id is not None
    await uow.people.affiliate(Affiliation(person.id, org.id, since=START - timedelta(days=10)))
    if consent:
        await uow.people.add_consent(
            Consent(
                person.id,
                "1",
                given_at=START - timedelta(days=10),
                withdrawn_at=START - timedelta(days=2) if withdrawn else None,
            )
        )
    return person.id


async def _failed(uow: UnitOfWork, person_id: int, chat: str, attempts: int) -> None:
    key = f"earlier:{person_id}:{attempts}"
    await enqueue(
        uow,
        key=key,
        platform="console",
        chat_id=chat,
        direct=True,
        message=message("x"),
        now=START - timedelta(hours=1),
        person_id=person_id,
    )
    entry = await uow.outbox.by_key(key)
    assert entry is not None
    entry.status, entry.attempts = OutboxStatus.FAILED, attempts


async def _extra_people(console: Console) -> dict[str, int]:
    """Beside the demo's Sandviken people (anna, bertil, cecilia, erik, oliver; david a guest)."""
    ids: dict[str, int] = {}
    async with console.database.unit_of_work() as uow:
        ids["gustav"] = await _person(uow, "gustav", "sandviken", withdrawn=True)
        ids["hanna"] = await _person(uow, "hanna", "jarbo", consent=False)
        ids["ivar"] = await _person(uow, "ivar", "sandviken")  # his chat refused a message
        await _failed(uow, ids["ivar"], "ivar", attempts=1)
        ids["johan"] = await _person(uow, "johan", "jarbo")  # an outage, not a refusal
        await _failed(uow, ids["johan"], "johan", attempts=MAX_ATTEMPTS)
        ids["karin"] = await _person(
            uow, "karin", "sandviken", chats=(("console", "karin"), ("discord", "5001"))
        )
        ids["lars"] = await _person(uow, "lars", "sandviken", chats=(("discord", "5002"),))
        ids["mona"] = await _person(uow, "mona", "gavle")  # another branch
        ids["nils"] = await _person(uow, "nils", "jarbo", Status.GUEST)
        ids["olle"] = await _person(uow, "olle", "sandviken", chats=())  # no account left
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None and sandviken.id is not None
        # Karin also follows Järbo: still one person, one message.
        jarbo = await uow.orgs.by_slug("jarbo")
        assert jarbo is not None and jarbo.id is not None
        await uow.people.affiliate(Affiliation(ids["karin"], jarbo.id, since=START))
        for name, interests, agreed in (
            ("anna", ["climate", "school"], True),
            ("erik", ["climate"], False),  # said no to being asked about it
            ("cecilia", ["school"], True),
            ("nils", ["climate"], True),
        ):
            person = await uow.people.by_identity("console", name)
            assert person is not None and person.id is not None
            await uow.welcome.add(
                WelcomeFlow(
                    person.id,
                    sandviken.id,
                    FlowStatus.ACTIVE,
                    START,
                    interests=interests,
                    tasks_consent=agreed,
                )
            )
        await uow.commit()
    return ids


async def _plan(console: Console, audience: Audience, interest: str | None = None) -> Plan:
    async with console.database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None
        return await plan_audience(Effects(uow, console.clock), sandviken, audience, interest)


async def test_the_audience_is_the_consented_reachable_people_below_each_once(
    console: Console,
) -> None:
    await _extra_people(console)
    members = await _plan(console, Audience.MEMBERS)
    # anna bertil cecilia erik oliver johan karin: gustav withdrew, hanna never consented,
    # mona is in Gävle, olle has no account; ivar's chat refused, lars is only on Discord.
    assert members.tally.by_platform == {"console": 7}
    assert (members.tally.via_discord, members.tally.unreachable) == (0, 2)
    guests = await _plan(console, Audience.GUESTS)
    assert guests.tally.by_platform == {"console": 2}  # david and nils
    everyone = await _plan(console, Audience.EVERYONE)
    assert everyone.tally.direct == 9 and everyone.tally.unreachable == 2
    climate = await _plan(console, Audience.INTEREST, "climate")
    assert climate.tally.by_platform == {"console": 2}  # anna and nils; erik said no
    assert (await _plan(console, Audience.INTEREST, "care")).reaches_anyone is False


async def test_a_chat_that_refused_counts_again_once_the_person_is_back(console: Console) -> None:
    ids = await _extra_people(console)
    async with console.database.unit_of_work() as uow:
        identity = await uow.people.identity("console", "ivar")
        assert identity is not None
        identity.last_seen_at = START + timedelta(minutes=5)  # he wrote to the bot again
        await uow.commit()
    members = await _plan(console, Audience.MEMBERS)
    assert members.tally.by_platform == {"console": 8}
    assert ids["ivar"] > 0


# --- sending ----------------------------------------------------------------------------------------


async def _queued_announcement(console: Console, audience: Audience = Audience.EVERYONE) -> int:
    async with console.database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None and sandviken.id is not None
        announcement = await uow.announcements.add(
            Announcement(
                sandviken.id,
                "Hej!",
                audience,
                START,
                status=AnnouncementStatus.QUEUEING,
                sent_at=START,
            )
        )
        await start_sending(Effects(uow, console.clock), announcement)
        await uow.commit()
    assert announcement.id is not None
    return announcement.id


async def test_queueing_in_chunks_from_two_places_writes_each_person_once(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _extra_people(console)
    monkeypatch.setattr(service, "CHUNK", 3)
    announcement_id = await _queued_announcement(console)
    # `samtal announce` queues it chunk by chunk itself ...
    outcomes = []
    while not outcomes or outcomes[-1] == Queued.MORE:
        async with console.database.unit_of_work() as uow:
            outcomes.append(
                await queue_next(Effects(uow, console.clock), announcement_id, reschedule=False)
            )
            await uow.commit()
    assert outcomes[-1] == Queued.FINISHED and len(outcomes) >= 4
    # ... while the bot's timer for it runs too: it finds nothing left to do.
    await console.samtal.run_due()
    async with console.database.unit_of_work() as uow:
        announcement = await uow.announcements.get(announcement_id)
        assert announcement is not None
        assert announcement.status is AnnouncementStatus.SENDING
        assert (announcement.direct, announcement.unreachable) == (9, 2)
        progress = await uow.announcements.progress(announcement)
    assert (progress.sent, progress.pending) == (9, 0)  # delivered on the console, once each
    delivered = [d.chat_id for d in console.gateway.delivered if d.direct]
    assert sorted(delivered) == sorted(
        ["anna", "bertil", "cecilia", "erik", "oliver", "david", "johan", "karin", "nils"]
    )


async def test_two_processes_queueing_the_same_chunk_record_it_once(console: Console) -> None:
    await _extra_people(console)
    announcement_id = await _queued_announcement(console, Audience.MEMBERS)
    async with console.database.unit_of_work() as first, console.database.unit_of_work() as second:
        seen = await second.announcements.get(announcement_id)  # it read the cursor too
        assert seen is not None and seen.cursor == 0
        assert await queue_next(
            Effects(first, console.clock), announcement_id, reschedule=False
        ) == (Queued.FINISHED)
        racing = asyncio.create_task(
            queue_next(Effects(second, console.clock), announcement_id, reschedule=False)
        )
        await asyncio.sleep(0.3)  # it is waiting for the first one's lock, or about to
        await first.commit()
        assert await racing == Queued.LOST
    async with console.database.unit_of_work() as uow:
        announcement = await uow.announcements.get(announcement_id)
        assert announcement is not None
        assert await uow.announcements.progress(announcement) == Progress(pending=7)


async def test_a_double_press_claims_the_draft_once(console: Console) -> None:
    async with console.database.unit_of_work() as uow:
        sandviken = await uow.orgs.by_slug("sandviken")
        assert sandviken is not None and sandviken.id is not None
        draft = await uow.announcements.add(
            Announcement(sandviken.id, "Hej!", Audience.MEMBERS, START)
        )
        await uow.commit()
    assert draft.id is not None
    async with console.database.unit_of_work() as uow:
        assert await uow.announcements.claim_draft(draft.id, START) is True
        assert await uow.announcements.claim_draft(draft.id, START) is False
        assert await uow.announcements.drop_draft(draft.id) is False  # too late to cancel
        await uow.commit()
    step = QueueStep(
        cursor=5, direct=1, via_discord=0, unreachable=0, by_platform={}, finished=False
    )
    async with console.database.unit_of_work() as uow:
        assert await uow.announcements.advance(draft.id, 0, step, START) is True
        assert await uow.announcements.advance(draft.id, 0, step, START) is False  # stale cursor
        await uow.commit()


class RecordingGateway:
    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.sent: list[tuple[str, OutgoingMessage]] = []
        self.allowance: int | None = None  # None: no limit

    async def send(self, chat_id: str, message: OutgoingMessage, *, direct: bool) -> str:
        if self.allowance is not None:
            if self.allowance <= 0:
                raise DeliveryError("budget spent", deferred=True, retry_after=300)
            self.allowance -= 1
        self.sent.append((chat_id, message))
        return str(len(self.sent))


async def test_discord_gets_one_post_per_channel_with_the_opt_in_role_once(
    console: Console,
) -> None:
    ids = await _extra_people(console)
    discord = RecordingGateway("discord")
    console.samtal.dispatcher.add_gateway(discord)
    console.samtal.settings = Settings(announcement_roles=(("sandviken", "777"),))
    async with console.database.unit_of_work() as uow:
        for slug, chat in (("sandviken", "9001"), ("jarbo", "9002")):
            org = await uow.orgs.by_slug(slug)
            assert org is not None and org.id is not None
            await uow.orgs.bind_channel(Channel("discord", chat, org.id, slug))
        await uow.commit()
    output = await console.run("@bertil: /utskick\n@bertil: [Medlemmar]\n@bertil: Möte i kväll!\n")
    assert "– console: 7 privata meddelanden" in output
    assert "– Discord: ett inlägg i var och en av 2 kanaler; nås bara där: 1" in output
    await console.run("@bertil: [Skicka]")
    assert [(chat, m.mention_role) for chat, m in discord.sent] == [("9001", "777"), ("9002", None)]
    assert all("Möte i kväll!" in m.plain_text for _chat, m in discord.sent)
    assert not any(m.paid_broadcast for _chat, m in discord.sent)
    report = await console.run("@clock: +1m")
    assert "Levererade: 7" in report
    assert "Gick inte att nå: 1" in report  # ivar; lars is reached on Discord
    assert "Nådda genom inläggen i 2 Discordkanaler: 1" in report
    async with console.database.unit_of_work() as uow:  # a month later the outbox forgets
        await uow.outbox.purge(START + timedelta(days=31))
        await uow.commit()
    status = await console.said("@bertil: /utskick status")
    assert "klart. Levererade: 7, gick inte att nå: 1, genom Discordinlägg: 1." in status
    assert ids["lars"] > 0


async def test_the_author_hears_at_quarter_marks_when_it_stalls_and_at_the_end(
    console: Console,
) -> None:
    async with console.database.unit_of_work() as uow:
        for number in range(20):
            await _person(uow, f"t{number}", "sandviken", chats=(("telegram", f"{1000 + number}"),))
        await uow.commit()
    telegram = RecordingGateway("telegram")
    telegram.allowance = 0
    console.samtal.dispatcher.add_gateway(telegram)
    console.samtal.settings = Settings(
        paid_broadcast_orgs=("sandviken",), paid_broadcast_min_recipients=10
    )
    preview = await console.run("@bertil: /utskick\n@bertil: [Alla]\n@bertil: Hej alla!\n")
    assert "– Telegram: 20 privata meddelanden" in preview
    assert "Det kostar 2 Telegram Stars (0,1 Star per meddelande)" in preview
    started = await console.run("@bertil: [Skicka]")
    assert "är på väg: 26 privata meddelanden" in started  # six on the console, 20 on Telegram

    def told(output: str) -> list[str]:
        return [line for line in output.splitlines() if line.startswith("-> bertil: ")]

    assert told(await console.run("@clock: +1m")) == []  # 6 of 26: not a quarter yet
    telegram.allowance = 7  # Telegram takes 7 at its next try, five minutes after the first
    assert told(await console.run("@clock: +5m")) == [
        "-> bertil: Utskick från Sandvikens arbetarekommun: 13 av 26 levererade, "
        "ungefär 6 minuter kvar."
    ]
    telegram.allowance = 7
    assert told(await console.run("@clock: +4m")) == []  # three quarters, but too soon to say
    progressed = told(await console.run("@clock: +1m"))
    assert len(progressed) == 1 and "20 av 26 levererade" in progressed[0]
    stalled = told(await console.run("@clock: +35m"))  # then Telegram takes nothing
    assert len(stalled) == 1 and "6 meddelanden väntar" in stalled[0]
    telegram.allowance = None
    report = await console.run("@clock: +15m")
    assert "Levererade: 26" in report and "Gick inte att nå: 0" in report
    assert all(m.paid_broadcast for _chat, m in telegram.sent)
    assert not any(d.message.paid_broadcast for d in console.gateway.delivered)
    assert told(await console.run("@clock: +1h")) == []  # nothing more after the report


async def test_erasing_the_author_keeps_the_sent_announcement_anonymous(console: Console) -> None:
    await console.run(
        "@bertil: /utskick\n@bertil: [Medlemmar]\n@bertil: Hej!\n@bertil: [Skicka]\n"
        "@bertil: /utskick\n@bertil: [Gäster]\n@bertil: Ett utkast\n"
    )
    async with console.database.unit_of_work() as uow:
        bertil = await uow.people.by_identity("console", "bertil")
        assert bertil is not None and bertil.id is not None
        from bot.privacy.service import export_person

        exported = await export_person(uow, bertil.id)
        assert [a["text"] for a in exported["announcements"]] == ["Hej!", "Ett utkast"]
        await uow.people.erase(bertil.id)
        await uow.commit()
    async with console.database.unit_of_work() as uow:
        sent = await uow.announcements.get(1)
        assert sent is not None and sent.author_id is None and sent.text == "Hej!"
        assert await uow.announcements.get(2) is None  # the draft was only his words
    await console.run("@clock: +1m")  # the check runs without an author: no one to tell
    async with console.database.unit_of_work() as uow:
        done = await uow.announcements.get(1)
        assert done is not None and done.status is AnnouncementStatus.DONE


async def test_bad_input_changes_nothing(console: Console) -> None:
    output = await console.run("@bertil: /utskick\n@bertil: [Medlemmar]\n")
    too_long = "x" * 3001
    refused = await console.said(f"@bertil: {too_long}")
    assert "Det är 3001 tecken; ett utskick får ha högst 3000" in refused
    assert "Mottagare" in (await console.said("@bertil: " + "x" * 3000))
    assert "Mottagare" not in output + refused
    async with console.database.unit_of_work() as uow:
        assert await uow.announcements.get(1) is not None
        assert await uow.announcements.get(2) is None
    # A member of another branch's organisers can't press buttons about Sandviken.
    forged = await console.said("@fatima: /utskick sandviken")
    assert "Du kan inte göra utskick för sandviken" in forged


def test_the_configuration_says_who_pays_and_which_role_is_mentioned() -> None:
    from samtal.config import ConfigError, parse_config
    from samtal.runtime import core_settings

    config = parse_config(
        {
            "telegram": {"paid_broadcast": ["gavleborg"], "paid_broadcast_min_recipients": 500},
            "discord": {"announcement_roles": {"sandviken": "123456789012345678"}},
        },
        "samtal.toml",
    )
    settings = core_settings(config, flood_limit=False)
    assert settings.paid_broadcast_orgs == ("gavleborg",)
    assert settings.paid_broadcast_min_recipients == 500
    assert settings.announcement_roles == (("sandviken", "123456789012345678"),)
    for bad, named in (
        ({"telegram": {"paid_broadcast": ["Not a slug"]}}, "[telegram] paid_broadcast"),
        ({"telegram": {"paid_broadcast": "gavleborg"}}, "[telegram] paid_broadcast"),
        ({"telegram": {"paid_broadcast_min_recipients": 0}}, "paid_broadcast_min_recipients"),
        ({"discord": {"announcement_roles": {"sandviken": "@here"}}}, "announcement_roles"),
        ({"discord": {"announcement_roles": {"sandviken": 123}}}, "announcement_roles"),
    ):
        with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
            parse_config(bad, "samtal.toml")
