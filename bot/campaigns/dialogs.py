"""The campaigns' dialogs: a new campaign (/ny_kampanj, also from an annual-wheel item), a new
shift (/nytt_pass), and a participant's report after a shift, by buttons. Declared with
`bot.dialogs`; the work is in `bot.campaigns.service`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.campaigns import views
from bot.campaigns.model import (
    KIND_NAMES,
    MAX_CAMPAIGN_DAYS,
    MAX_NOTE,
    MAX_SHIFT,
    MAX_TOPICS,
    Campaign,
    CampaignKind,
    Shift,
    parse_capacity,
    parse_count,
    split_meeting_point,
)
from bot.campaigns.service import (
    ReportFigures,
    add_shift,
    campaign_of,
    create_campaign,
    org_of,
    save_report,
)
from bot.context import Context, Refusal
from bot.dialogs import (
    Choice,
    Confirm,
    Dialog,
    DialogOver,
    Repeat,
    Skip,
    Step,
    draft_org,
    read_yes,
    yes_no,
)
from bot.i18n import N_
from bot.insights.model import TOPICS, GoalKind, year_start
from bot.insights.service import current_value
from bot.messages import MessageBuilder, bold
from bot.timeread import Problem, TimeReadError, read_date, read_span

MAX_NAME = 200
MAX_AREA = 200
COUNT_BUTTONS = (0, 1, 2, 3, 5, 10, 15, 20)
DOOR_BUTTONS = (0, 10, 20, 30, 50, 75, 100)


def _text(limit: int) -> Callable[[Context, str, Any], str]:
    def read(ctx: Context, value: str, draft: Any) -> str:
        if len(value) > limit:
            raise Refusal(
                ctx.t.ngettext(
                    "That is a bit long: at most {n} character, please.",
                    "That is a bit long: at most {n} characters, please.",
                    limit,
                ).format(n=limit)
            )
        return value

    return read


# --- A new campaign -------------------------------------------------------------------------


@dataclass
class NewCampaign:
    org_id: int
    name: str = ""
    kind: CampaignKind | None = None
    union: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    topics: list[str] = field(default_factory=list)
    guests_allowed: bool = True
    wheel_item: str | None = None


async def _read_first(ctx: Context, value: str, draft: NewCampaign) -> date:
    org = await draft_org(ctx, draft.org_id)
    try:
        return read_date(value, ctx.now, org.zone)
    except TimeReadError as error:
        raise Refusal(error.explain(ctx.t)) from None


async def _read_last(ctx: Context, value: str, draft: NewCampaign) -> date:
    last = await _read_first(ctx, value, draft)
    assert draft.starts_on is not None
    if last < draft.starts_on:
        raise Refusal(ctx.t("The last day can't be before the first."))
    if (last - draft.starts_on).days > MAX_CAMPAIGN_DAYS:
        raise Refusal(ctx.t("A campaign can last at most two months."))
    return last


def _kind_choices(ctx: Context, draft: NewCampaign) -> list[list[Choice]]:
    return [[Choice(ctx.t(label), kind.value)] for kind, label in KIND_NAMES.items()]


def _topic_prompt(ctx: Context, draft: NewCampaign) -> str:
    _ = ctx.t
    if not draft.topics:
        return _(
            "Which topics should participants be able to tick when they report? "
            "Choose up to 6, then tap Done."
        )
    return _("Chosen: {topics}. Choose more, or tap Done.").format(
        topics=views.topic_names(_, draft.topics)
    )


def _topic_choices(ctx: Context, draft: NewCampaign) -> list[list[Choice]]:
    left = [k for k in TOPICS if k not in draft.topics]
    return [[Choice(ctx.t(TOPICS[k]), k) for k in left[i : i + 2]] for i in range(0, len(left), 2)]


def _read_topic(ctx: Context, value: str, draft: NewCampaign) -> list[str]:
    if value not in TOPICS:
        raise Refusal(ctx.t("Tap one of the topics, or Done."))
    return [] if value in draft.topics else [value]


async def _campaign_summary(ctx: Context, draft: NewCampaign) -> MessageBuilder:
    org = await draft_org(ctx, draft.org_id)
    text = MessageBuilder().add(ctx.t("Check the campaign before I create it:"))
    text.line(bold(draft.name))
    views.add_campaign_facts(text, ctx.t, _campaign(draft), org.name)
    return text


def _campaign(draft: NewCampaign) -> Campaign:
    assert draft.kind is not None and draft.starts_on is not None and draft.ends_on is not None
    return Campaign(
        org_id=draft.org_id,
        name=draft.name,
        kind=draft.kind,
        starts_on=draft.starts_on,
        ends_on=draft.ends_on,
        topics=list(draft.topics),
        guests_allowed=draft.guests_allowed,
        union=draft.union if draft.kind is CampaignKind.WORKPLACE else None,
        wheel_item=draft.wheel_item,
    )


async def _create_campaign(ctx: Context, draft: NewCampaign) -> None:
    org = await draft_org(ctx, draft.org_id)
    campaign = _campaign(draft)
    campaign.created_by = ctx.person_id
    campaign = await create_campaign(ctx, campaign)
    text = MessageBuilder().add(
        ctx.t(
            "Created: {name} (no. {n}). Now add its shifts: each is posted in the group "
            "chat with a button to sign up."
        ).format(name=campaign.name, n=campaign.id)
    )
    card = views.campaign_card(ctx.t, campaign, org.name, organiser=True)
    await ctx.reply(text.build())
    await ctx.reply(card)


NEW_CAMPAIGN: Dialog[NewCampaign] = Dialog(
    name="campaign.new",
    draft=NewCampaign,
    command="ny_kampanj",
    steps=(
        Step(
            "name",
            lambda ctx, d: ctx.t("What is the campaign called? E.g. Campaign week in Järbo"),
            parse=_text(MAX_NAME),
            ask_if=lambda d: not d.name,
        ),
        Step(
            "kind",
            lambda ctx, d: ctx.t("What kind of campaign is it?"),
            parse=lambda ctx, value, d: CampaignKind(value),
            choices=_kind_choices,
            typed=False,
            ask_if=lambda d: d.kind is None,
        ),
        Step(
            "union",
            lambda ctx, d: ctx.t("Which union do you visit workplaces with? E.g. IF Metall"),
            parse=_text(MAX_NAME),
            ask_if=lambda d: d.kind is CampaignKind.WORKPLACE,
        ),
        Step(
            "starts_on",
            lambda ctx, d: ctx.t("The first day? E.g. 20/4"),
            parse=_read_first,
            ask_if=lambda d: d.starts_on is None,
        ),
        Step(
            "ends_on",
            lambda ctx, d: ctx.t("The last day? E.g. 24/4"),
            parse=_read_last,
            ask_if=lambda d: d.ends_on is None,
        ),
        Step(
            "topics",
            _topic_prompt,
            parse=_read_topic,
            choices=_topic_choices,
            typed=False,
            repeat=Repeat(at_most=MAX_TOPICS),
        ),
        Step(
            "guests_allowed",
            lambda ctx, d: ctx.t("May guests (non-members) take part?"),
            parse=read_yes,
            choices=yes_no(N_("Yes, guests welcome"), N_("Members only")),
            typed=False,
        ),
    ),
    confirm=Confirm(_campaign_summary, save=N_("Create the campaign"), discard=N_("Discard")),
    finish=_create_campaign,
)


# --- A new shift -------------------------------------------------------------------------------


@dataclass
class NewShift:
    campaign_id: int
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    area: str = ""
    meeting_point: str | None = None
    lead_id: int | None = None
    capacity: int | None = None


async def _shift_campaign(ctx: Context, draft: NewShift) -> Campaign:
    campaign = await ctx.uow.campaigns.get(draft.campaign_id)
    if campaign is None:
        raise DialogOver(ctx.t("That campaign is gone. Nothing was saved."))
    return campaign


async def _read_shift_time(ctx: Context, value: str, draft: NewShift) -> datetime:
    campaign = await _shift_campaign(ctx, draft)
    org = await org_of(ctx, campaign)
    try:
        start, end = read_span(value, ctx.now, org.zone)
    except TimeReadError as error:
        raise Refusal(error.explain(ctx.t)) from None
    if start <= ctx.now:
        raise Refusal(TimeReadError(Problem.PAST).explain(ctx.t))
    if end is None:
        raise Refusal(ctx.t("Add when it ends too, e.g. 25/4 10-13."))
    if end - start > MAX_SHIFT:
        raise Refusal(ctx.t("A shift can last at most 12 hours."))
    draft.ends_at = end
    return start


def _read_meeting_point(ctx: Context, value: str, draft: NewShift) -> str:
    place, link = split_meeting_point(value)
    if len(value) > 300 or (place is None and link is None):
        raise Refusal(
            ctx.t("Write where to meet, and/or paste a map link that starts with https://.")
        )
    return value


def _read_places(ctx: Context, value: str, draft: NewShift) -> int | None:
    try:
        return parse_capacity(value)
    except ValueError:
        raise Refusal(ctx.t("Write the number of places, e.g. 6, or press No limit.")) from None


async def _read_lead(ctx: Context, value: str, draft: NewShift) -> int:
    org = await org_of(ctx, await _shift_campaign(ctx, draft))
    return await ctx.person_named(org, value)


async def _area_prompt(ctx: Context, draft: NewShift) -> MessageBuilder:
    campaign = await _shift_campaign(ctx, draft)
    text = MessageBuilder().line(bold(ctx.t("New shift: {name}").format(name=campaign.name)))
    text.line(
        ctx.t("Which workplace? E.g. Sandvik Coromant, gate 2")
        if campaign.kind is CampaignKind.WORKPLACE
        else ctx.t("Which area? E.g. Norra Nordanbäck")
    )
    return text


async def _create_shift(ctx: Context, draft: NewShift) -> None:
    campaign = await _shift_campaign(ctx, draft)
    assert draft.starts_at is not None and draft.ends_at is not None
    place, link = split_meeting_point(draft.meeting_point or "")
    shift = await add_shift(
        ctx,
        campaign,
        Shift(
            campaign_id=draft.campaign_id,
            starts_at=draft.starts_at,
            ends_at=draft.ends_at,
            area=draft.area,
            meeting_point=place,
            map_link=link,
            capacity=draft.capacity,
            lead_id=draft.lead_id,
        ),
    )
    await ctx.reply(
        MessageBuilder()
        .add(
            ctx.t("Shift {n} is posted in the group chat. Add another with /nytt_pass {c}.").format(
                n=shift.id, c=campaign.id
            )
        )
        .build()
    )


NEW_SHIFT: Dialog[NewShift] = Dialog(
    name="campaign.shift",
    draft=NewShift,
    command="nytt_pass",
    steps=(
        Step("area", _area_prompt, parse=_text(MAX_AREA)),
        Step(
            "starts_at",
            lambda ctx, d: ctx.t("When? The day and the time from and to, e.g. 25/4 10-13"),
            parse=_read_shift_time,
        ),
        Step(
            "meeting_point",
            lambda ctx, d: ctx.t("Where do you meet? A place, a map link (https://…), or both."),
            parse=_read_meeting_point,
            skip=Skip(None),
        ),
        Step(
            "capacity",
            lambda ctx, d: ctx.t("How many places? E.g. 6"),
            parse=_read_places,
            skip=Skip(None, N_("No limit")),
        ),
        Step(
            "lead_id",
            lambda ctx, d: ctx.t("Who leads the shift? Write their name, or 'jag' if it is you."),
            parse=_read_lead,
            skip=Skip(None),
        ),
    ),
    finish=_create_shift,
)


# --- A participant's report ------------------------------------------------------------------


@dataclass
class Report:
    shift_id: int
    doors_asked: bool = False
    conversations: int = 0
    doors: int = 0
    topics: list[str] = field(default_factory=list)
    note: str | None = None
    choosable: list[str] = field(default_factory=list)  # the campaign's topics


def _count_choices(numbers: tuple[int, ...]) -> Callable[[Context, Report], list[list[Choice]]]:
    def choices(ctx: Context, draft: Report) -> list[list[Choice]]:
        return [[Choice(str(n), str(n)) for n in numbers[i : i + 4]] for i in (0, 4)]

    return choices


def _read_count(ctx: Context, value: str, draft: Report) -> int:
    try:
        return parse_count(value)
    except ValueError:
        raise Refusal(ctx.t("Write a number from 0 to 500.")) from None


def _report_topic_prompt(ctx: Context, draft: Report) -> str:
    if not draft.topics:
        return ctx.t("What did people want to talk about? Tap the topics, then Done.")
    return ctx.t("Chosen: {topics}. Tap more, or Done.").format(
        topics=views.topic_names(ctx.t, draft.topics)
    )


def _report_topic_choices(ctx: Context, draft: Report) -> list[list[Choice]]:
    left = [k for k in draft.choosable if k not in draft.topics and k in TOPICS]
    return [[Choice(ctx.t(TOPICS[k]), k) for k in left[i : i + 2]] for i in range(0, len(left), 2)]


def _read_report_topic(ctx: Context, value: str, draft: Report) -> list[str]:
    if value not in draft.choosable:
        raise Refusal(ctx.t("Tap one of the topics, or Done."))
    return [] if value in draft.topics else [value]


async def _save_report(ctx: Context, draft: Report) -> None:
    shift = await ctx.uow.campaigns.shift(draft.shift_id)
    if shift is None:
        raise DialogOver(ctx.t("That shift is gone. Nothing was saved."))
    campaign = await campaign_of(ctx, shift)
    org = await org_of(ctx, campaign)
    figures = ReportFigures(draft.conversations, draft.doors, draft.topics, draft.note)
    await save_report(ctx, campaign, shift, ctx.person, figures)
    total = await current_value(
        ctx.uow, org, GoalKind.CONVERSATIONS, year_start(ctx.now, org.zone), ctx.now
    )
    knocked = draft.doors if draft.doors_asked else None
    await ctx.reply(views.report_noted(ctx.t, draft.conversations, knocked, int(total)))


REPORT: Dialog[Report] = Dialog(
    name="campaign.report",
    draft=Report,
    stale=N_("That report is already noted. Press Report again to correct it."),
    steps=(
        Step(
            "conversations",
            lambda ctx, d: ctx.t("How many conversations did you have? Tap a number or write it."),
            parse=_read_count,
            choices=_count_choices(COUNT_BUTTONS),
        ),
        Step(
            "doors",
            lambda ctx, d: ctx.t("How many doors did you knock on? Tap a number or write it."),
            parse=_read_count,
            choices=_count_choices(DOOR_BUTTONS),
            ask_if=lambda d: d.doors_asked,
        ),
        Step(
            "topics",
            _report_topic_prompt,
            parse=_read_report_topic,
            choices=_report_topic_choices,
            typed=False,
            repeat=Repeat(at_most=MAX_TOPICS),
            ask_if=lambda d: bool(d.choosable) and d.conversations > 0,
        ),
        Step(
            "note",
            lambda ctx, d: ctx.t(
                "Anything the organisers should know? Write a short note (only they see it)."
            ),
            parse=_text(MAX_NOTE),
            skip=Skip(None),
        ),
    ),
    finish=_save_report,
)
