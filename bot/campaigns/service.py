"""Campaigns' use cases: creating campaigns and shifts, signing up and the waitlist, reminders
and report prompts (timers), reports that feed the conversation figures, the nudge to
interested members, and the figures and export for organisers.

Everything takes an `Effects` (a `Context` is one), so a timer can do the work as well as a
person pressing a button.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.actions import Target
from bot.announcements.model import Audience
from bot.campaigns import views
from bot.campaigns.model import (
    DEFAULT_INTEREST,
    INTEREST_OF_KIND,
    PLACE_OF_KIND,
    Campaign,
    CampaignKind,
    ReportRow,
    Shift,
    ShiftReport,
    Signup,
    SignupState,
    places_left,
    prompt_due,
    reminder_due,
    signed_up,
    state_for,
    to_promote,
    unfilled,
)
from bot.context import Context, Effects, Refusal, TimerContext
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation
from bot.domain.people import Person, Status
from bot.i18n import Translator
from bot.insights.service import add_report
from bot.messages import OutgoingMessage
from bot.spreadsheet import SafeCsvWriter

REMINDER = "campaign.remind"
PROMPT = "campaign.prompt"
NUDGE_CHUNK = 500


@dataclass
class ShiftView:
    """A shift with what the cards and the overview show of it."""

    shift: Shift
    signups: list[Signup] = field(default_factory=list)
    reported: list[int | None] = field(default_factory=list)  # people who reported


async def org_of(fx: Effects, campaign: Campaign) -> Organisation:
    org = await fx.uow.orgs.get(campaign.org_id)
    assert org is not None
    return org


async def campaign_of(fx: Effects, shift: Shift) -> Campaign:
    campaign = await fx.uow.campaigns.get(shift.campaign_id)
    assert campaign is not None
    return campaign


@dataclass(frozen=True)
class ShiftInCampaign:
    """What a shift button acts on: the shift with its campaign (for its organisation)."""

    shift: Shift
    campaign: Campaign


async def _load_shift_in_campaign(fx: Effects, shift_id: int) -> ShiftInCampaign | None:
    shift = await fx.uow.campaigns.shift(shift_id)
    if shift is None:
        return None
    campaign = await fx.uow.campaigns.get(shift.campaign_id)
    return ShiftInCampaign(shift, campaign) if campaign is not None else None


CAMPAIGN: Target[Campaign] = Target(
    load=lambda fx, campaign_id: fx.uow.campaigns.get(campaign_id),
    org_id=lambda campaign: campaign.org_id,
)
SHIFT: Target[ShiftInCampaign] = Target(
    load=_load_shift_in_campaign, org_id=lambda found: found.campaign.org_id
)


# --- Creating ----------------------------------------------------------------------------------


async def create_campaign(fx: Effects, campaign: Campaign) -> Campaign:
    campaign.created_at = fx.now
    return await fx.uow.campaigns.add(campaign)


async def add_shift(fx: Effects, campaign: Campaign, shift: Shift) -> Shift:
    """Saves a shift, arms its reminder and report prompt, and posts it in the group."""
    assert campaign.id is not None
    shift.campaign_id = campaign.id
    shift = await fx.uow.campaigns.add_shift(shift)
    assert shift.id is not None
    payload = {"shift_id": shift.id}
    await fx.schedule(
        f"campaign:shift:{shift.id}:remind", REMINDER, reminder_due(shift, fx.now), payload
    )
    await fx.schedule(f"campaign:shift:{shift.id}:prompt", PROMPT, prompt_due(shift), payload)
    org = await org_of(fx, campaign)
    lead = await lead_name(fx, shift)

    def build(t: Translator) -> OutgoingMessage:
        return views.shift_post(t, campaign, shift, org.zone, lead, [])

    await fx.post_to_org(org, build, key=f"campaign:shift:{shift.id}:posted")
    return shift


async def lead_name(fx: Effects, shift: Shift) -> str | None:
    lead = await fx.uow.people.get(shift.lead_id) if shift.lead_id else None
    return lead.display_name if lead is not None else None


async def shift_view(fx: Effects, shift: Shift) -> ShiftView:
    assert shift.id is not None
    signups = list(await fx.uow.campaigns.signups(shift.id))
    reported = [r.person_id for r in await fx.uow.campaigns.reports(shift.id)]
    return ShiftView(shift, signups, reported)


async def shift_views(fx: Effects, campaign: Campaign) -> list[ShiftView]:
    assert campaign.id is not None
    return [await shift_view(fx, s) for s in await fx.uow.campaigns.shifts(campaign.id)]


# --- Signing up ----------------------------------------------------------------------------------


def check_may_join(ctx: Context, campaign: Campaign, shift: Shift) -> None:
    _ = ctx.t
    if shift.starts_at <= ctx.now:
        raise Refusal(_("That shift has already started. See the others with /kampanj."))
    if not campaign.guests_allowed and ctx.person.status is not Status.MEMBER:
        raise Refusal(
            _("This campaign is for members. Ask the organiser about other ways to join in.")
        )


async def sign_up(fx: Effects, shift: Shift, person: Person) -> tuple[Signup, bool]:
    """Signs the person up, or puts them on the waitlist when the shift is full; returns the
    sign-up and whether it is new."""
    assert shift.id is not None and person.id is not None
    # Two pressing at once for the last place must not both get it: the shift is held
    # until this sign-up is committed, so the next one counts after it (on PostgreSQL).
    await fx.uow.campaigns.lock_shift(shift.id)
    signups = await fx.uow.campaigns.signups(shift.id)
    mine = next((s for s in signups if s.person_id == person.id), None)
    if mine is not None:
        return mine, False
    signup = Signup(shift.id, person.id, state_for(shift.capacity, signups), fx.now)
    return await fx.uow.campaigns.add_signup(signup), True


async def withdraw(fx: Effects, campaign: Campaign, shift: Shift, person: Person) -> bool:
    """Takes the person off the shift; the first waiting move up and are told."""
    assert shift.id is not None
    await fx.uow.campaigns.lock_shift(shift.id)  # places freed at once promote each one person
    signups = await fx.uow.campaigns.signups(shift.id)
    mine = next((s for s in signups if s.person_id == person.id), None)
    if mine is None:
        return False
    await fx.uow.campaigns.remove_signup(mine)
    rest = [s for s in signups if s is not mine]
    org = await org_of(fx, campaign)
    for promoted in to_promote(shift.capacity, rest):
        promoted.state = SignupState.SIGNED_UP
        who = await fx.uow.people.get(promoted.person_id)
        if who is None:
            continue
        zone = (await fx.home_org(who) or org).zone

        def build(t: Translator, zone: ZoneInfo = zone) -> OutgoingMessage:
            return views.promoted(t, campaign, shift, zone)

        await fx.notify(who, build, key=f"campaign:shift:{shift.id}:promoted:{promoted.id}")
    return True


async def give_up_places(fx: Effects, person: Person) -> None:
    """Before erasure: the person leaves every shift still to come, so the first one waiting
    moves up and is told."""
    assert person.id is not None
    for signup in await fx.uow.campaigns.signups_of(person.id):
        shift = await fx.uow.campaigns.shift(signup.shift_id)
        if shift is not None and shift.starts_at > fx.now:
            await withdraw(fx, await campaign_of(fx, shift), shift, person)


# --- Timers ------------------------------------------------------------------------------------


async def _timer_shift(fx: Effects, timer: Timer) -> tuple[Campaign, Shift] | None:
    shift_id = timer.payload.get("shift_id")
    shift = await fx.uow.campaigns.shift(shift_id) if isinstance(shift_id, int) else None
    if shift is None:
        return None
    return await campaign_of(fx, shift), shift


async def participants(fx: Effects, shift: Shift) -> list[Person]:
    """Everyone signed up (not waiting), and the lead."""
    assert shift.id is not None
    ids = [s.person_id for s in signed_up(await fx.uow.campaigns.signups(shift.id))]
    if shift.lead_id is not None and shift.lead_id not in ids:
        ids.append(shift.lead_id)
    found = [await fx.uow.people.get(person_id) for person_id in ids]
    return [p for p in found if p is not None]


async def reminder_useful_until(fx: TimerContext, timer: Timer) -> datetime | None:
    """A reminder is no use once the shift has begun."""
    found = await _timer_shift(fx, timer)
    return found[1].starts_at if found is not None else timer.due_at


async def remind(fx: TimerContext, timer: Timer) -> None:
    """The day before: everyone signed up gets the time and the meeting point."""
    found = await _timer_shift(fx, timer)
    if found is None:
        return
    campaign, shift = found
    org = await org_of(fx, campaign)
    for person in await participants(fx, shift):
        zone = (await fx.home_org(person) or org).zone

        def build(t: Translator, zone: ZoneInfo = zone) -> OutgoingMessage:
            return views.reminder(t, campaign, shift, zone, fx.now)

        await fx.notify(person, build, key=f"campaign:shift:{shift.id}:remind")


async def prompt(fx: TimerContext, timer: Timer) -> None:
    """After the shift: each participant is asked for their figures; the lead is told."""
    found = await _timer_shift(fx, timer)
    if found is None:
        return
    campaign, shift = found
    assert shift.id is not None
    for person in await participants(fx, shift):
        await fx.notify(
            person,
            lambda t: views.report_prompt(t, campaign, shift),
            key=f"campaign:shift:{shift.id}:prompt",
        )
    lead = await fx.uow.people.get(shift.lead_id) if shift.lead_id else None
    count = len(signed_up(await fx.uow.campaigns.signups(shift.id)))
    if lead is not None and count:
        await fx.notify(
            lead,
            lambda t: views.lead_after(t, campaign, shift, count),
            key=f"campaign:shift:{shift.id}:lead",
        )


# --- Reports ------------------------------------------------------------------------------------


@dataclass
class ReportFigures:
    conversations: int
    doors: int
    topics: list[str]
    note: str | None


async def save_report(
    fx: Effects, campaign: Campaign, shift: Shift, person: Person, figures: ReportFigures
) -> ShiftReport:
    """Saves (or corrects) the person's report of a shift. Its conversations are one report
    in the organisation's conversation figures: a correction changes that report, so
    nothing is counted twice."""
    assert shift.id is not None and person.id is not None
    org = await org_of(fx, campaign)
    mine = next(
        (r for r in await fx.uow.campaigns.reports(shift.id) if r.person_id == person.id), None
    )
    if mine is None:
        mine = await fx.uow.campaigns.add_report(
            ShiftReport(shift.id, person.id, figures.conversations, figures.doors, fx.now)
        )
    mine.conversations, mine.doors = figures.conversations, figures.doors
    mine.topics, mine.note, mine.reported_at = list(figures.topics), figures.note, fx.now
    linked = (
        await fx.uow.insights.report(mine.conversation_report_id)
        if mine.conversation_report_id
        else None
    )
    if linked is None and figures.conversations > 0:
        linked, _, _ = await add_report(fx, org, person.id, figures.conversations)
        mine.conversation_report_id = linked.id
    if linked is not None:
        linked.count = figures.conversations
        linked.place = PLACE_OF_KIND[campaign.kind]
        linked.topics = list(figures.topics)
    return mine


def is_participant(shift_view: ShiftView, person_id: int) -> bool:
    return (
        any(s.person_id == person_id for s in signed_up(shift_view.signups))
        or shift_view.shift.lead_id == person_id
    )


# --- Nudging ------------------------------------------------------------------------------------


async def nudge(fx: Effects, campaign: Campaign) -> tuple[int, int]:
    """Asks members with the campaign's interest to fill its open shifts, once per shift;
    returns (shifts nudged, messages queued)."""
    org = await org_of(fx, campaign)
    assert org.id is not None
    interest = INTEREST_OF_KIND.get(campaign.kind, DEFAULT_INTEREST)
    audience = Audience.INTEREST
    open_shifts = [
        v
        for v in await shift_views(fx, campaign)
        if v.shift.nudged_at is None and v.shift.starts_at > fx.now and unfilled(v.shift, v.signups)
    ]
    if not open_shifts:
        return 0, 0
    org_ids = [o.id for o in await fx.uow.orgs.subtree(org.id) if o.id is not None]
    people: list[Person] = []
    after = 0
    while True:
        chunk = await fx.uow.announcements.candidates(
            org_ids, audience, interest, after=after, limit=NUDGE_CHUNK
        )
        for candidate in chunk.candidates:
            person = await fx.uow.people.get(candidate.person_id)
            if person is not None and (campaign.guests_allowed or person.status is Status.MEMBER):
                people.append(person)
        if chunk.last:
            break
        after = chunk.cursor
    sent = 0
    for view in open_shifts:
        shift = view.shift
        assert shift.id is not None
        shift.nudged_at = fx.now
        taken = {s.person_id for s in view.signups}
        left = places_left(shift.capacity, view.signups) or 0
        for person in people:
            if person.id in taken:
                continue
            zone = (await fx.home_org(person) or org).zone

            def build(
                t: Translator, shift: Shift = shift, zone: ZoneInfo = zone, left: int = left
            ) -> OutgoingMessage:
                return views.nudge(t, campaign, shift, zone, left)

            sent += await fx.notify(person, build, key=f"campaign:shift:{shift.id}:nudge")
    return len(open_shifts), sent


# --- Figures and export ------------------------------------------------------------------------


async def report_rows(fx: Effects, campaigns: Sequence[Campaign]) -> Sequence[ReportRow]:
    ids = [c.id for c in campaigns if c.id is not None]
    return await fx.uow.campaigns.report_rows(ids) if ids else []


async def year_campaigns(fx: Effects, org: Organisation, year: int) -> list[Campaign]:
    """The campaigns of the organisation and those below it that ran in a year."""
    assert org.id is not None
    org_ids = [o.id for o in await fx.uow.orgs.subtree(org.id) if o.id is not None]
    return [
        c
        for c in await fx.uow.campaigns.of_orgs(org_ids)
        if c.starts_on <= date(year, 12, 31) and c.ends_on >= date(year, 1, 1)
    ]


def export_csv(t: Translator, rows: Sequence[ReportRow], zone: ZoneInfo) -> bytes:
    """One line per report, without names: the campaign's figures for a spreadsheet."""
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(views.export_header(t))
    for row in rows:
        writer.writerow(views.export_row(t, row, zone))
    return out.getvalue().encode("utf-8-sig")


def kind_of(name: str) -> CampaignKind:
    """A wheel item's campaign kind guessed from its name: workplaces, phones, squares,
    leaflets, else door knocking."""
    folded = name.casefold()
    for words, kind in (
        (("arbetsplats", "workplace", "facklig"), CampaignKind.WORKPLACE),
        (("telefon", "phone", "ring"), CampaignKind.PHONE),
        (("torg", "square"), CampaignKind.SQUARE),
        (("flygblad", "leaflet"), CampaignKind.LEAFLETS),
    ):
        if any(w in folded for w in words):
            return kind
    return CampaignKind.DOOR
