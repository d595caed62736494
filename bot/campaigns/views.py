"""The campaigns' words: campaign and shift cards, confirmations, reminders, prompts, the
organiser's overview and figures. User text (names, areas, meeting points, links) is always
plain text, never markup: a map link is shown as its address, which the apps make clickable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date

from bot.campaigns.model import (
    KIND_NAMES,
    Campaign,
    ReportRow,
    Shift,
    Signup,
    SignupState,
    Totals,
    places_left,
    signed_up,
    waitlist,
)
from bot.domain.organisations import Organisation
from bot.formatting import day, local, when, when_span
from bot.i18n import Translator
from bot.insights.model import TOPICS
from bot.messages import Action, Attachment, Button, MessageBuilder, OutgoingMessage, bold
from bot.render.charts import Series, bar_chart
from bot.wheel.model import Occurrence

SIGNUP = "campaign.signup"
WITHDRAW = "campaign.withdraw"
REPORT = "campaign.report"
OVERVIEW = "campaign.overview"
ADD_SHIFT = "campaign.add_shift"
FIGURES = "campaign.figures"
EXPORT = "campaign.export"
NUDGE = "campaign.nudge"
FROM_WHEEL = "campaign.from_wheel"


def conversations(t: Translator, n: int) -> str:
    return t.ngettext("{n} conversation", "{n} conversations", n).format(n=n)


def doors(t: Translator, n: int) -> str:
    return t.ngettext("{n} door", "{n} doors", n).format(n=n)


def kind_name(t: Translator, campaign: Campaign) -> str:
    return t(KIND_NAMES[campaign.kind])


def topic_names(t: Translator, keys: Sequence[str]) -> str:
    return ", ".join(t(TOPICS[k]) for k in keys if k in TOPICS)


def dates(t: Translator, campaign: Campaign) -> str:
    first = format_date(campaign.starts_on, "d MMMM", locale=t.language)
    last = format_date(campaign.ends_on, "d MMMM y", locale=t.language)
    return first if campaign.starts_on == campaign.ends_on else f"{first} – {last}"


def add_campaign_facts(text: MessageBuilder, t: Translator, campaign: Campaign, org: str) -> None:
    text.line(f"{kind_name(t, campaign)} · {org} · {dates(t, campaign)}")
    if campaign.union:
        text.line(t("Union: {union}").format(union=campaign.union))
    if campaign.topics:
        text.line(t("Topics to note: {topics}").format(topics=topic_names(t, campaign.topics)))
    text.line(t("Guests welcome") if campaign.guests_allowed else t("For members"))


def wheel_offer(
    t: Translator, org: Organisation, upcoming: Sequence[Occurrence]
) -> OutgoingMessage:
    """/ny_kampanj: the annual wheel's campaign weeks ahead, to start from one of them."""
    text = MessageBuilder().add(t("Campaigns ahead in the annual wheel: start from one of them?"))
    for occurrence in upcoming:
        label = f"{occurrence.item.activity.name} ({day(occurrence.start, org.zone, t)})"
        text.button_row(Button(label, Action(FROM_WHEEL, (str(org.id), occurrence.key))))
    return text.build()


def campaign_card(
    t: Translator, campaign: Campaign, org: str, *, organiser: bool = False
) -> OutgoingMessage:
    text = MessageBuilder().add(bold(campaign.name), " ", t("(no. {n})").format(n=campaign.id))
    add_campaign_facts(text, t, campaign, org)
    if organiser:
        text.button_row(
            Button(t("Overview"), Action(OVERVIEW, (str(campaign.id),))),
            Button(t("Add a shift"), Action(ADD_SHIFT, (str(campaign.id),))),
        )
    return text.build()


def add_shift_facts(
    text: MessageBuilder,
    t: Translator,
    shift: Shift,
    zone: ZoneInfo,
    lead: str | None = None,
) -> None:
    text.line(t("When: {when}").format(when=when_span(shift.starts_at, shift.ends_at, zone, t)))
    text.line(t("Area: {area}").format(area=shift.area))
    if shift.meeting_point:
        text.line(t("Meet at: {place}").format(place=shift.meeting_point))
    if shift.map_link:
        text.line(t("Map: {link}").format(link=shift.map_link))
    if lead:
        text.line(t("Shift lead: {name}").format(name=lead))


def places(t: Translator, shift: Shift, signups: Sequence[Signup]) -> str:
    left = places_left(shift.capacity, signups)
    taking = len(signed_up(signups))
    if left is None:
        return t.ngettext("{n} taking part", "{n} taking part", taking).format(n=taking)
    if left == 0:
        waiting = len(waitlist(signups))
        return t("Full ({taken} of {places}); {waiting} on the waitlist").format(
            taken=taking, places=shift.capacity, waiting=waiting
        )
    return t.ngettext(
        "{left} of {n} place left", "{left} of {n} places left", shift.capacity or 0
    ).format(left=left, n=shift.capacity)


def shift_title(t: Translator, campaign: Campaign, shift: Shift) -> str:
    return t("{campaign}: shift {n}").format(campaign=campaign.name, n=shift.id)


def shift_card(
    t: Translator,
    campaign: Campaign,
    shift: Shift,
    zone: ZoneInfo,
    lead: str | None,
    signups: Sequence[Signup],
    *,
    mine: Signup | None = None,
    heading: str | None = None,
    started: bool = False,
) -> OutgoingMessage:
    text = MessageBuilder().add(bold(heading or shift_title(t, campaign, shift)))
    add_shift_facts(text, t, shift, zone, lead)
    text.line(places(t, shift, signups))
    if mine is None:
        text.button_row(Button(t("I'm in"), Action(SIGNUP, (str(shift.id),))))
    else:
        text.line(
            t("You are signed up.")
            if mine.state is SignupState.SIGNED_UP
            else t("You are on the waitlist.")
        )
        if not started:
            text.button_row(Button(t("Withdraw"), Action(WITHDRAW, (str(shift.id),))))
        elif mine.state is SignupState.SIGNED_UP:
            text.button_row(Button(t("Report"), Action(REPORT, (str(shift.id),))))
    return text.build()


def shift_post(
    t: Translator,
    campaign: Campaign,
    shift: Shift,
    org_zone: ZoneInfo,
    lead: str | None,
    signups: Sequence[Signup],
) -> OutgoingMessage:
    """The shift in the group chat, with the one button to sign up."""
    heading = t("New shift: {campaign}").format(campaign=campaign.name)
    return shift_card(t, campaign, shift, org_zone, lead, signups, heading=heading)


def signed(
    t: Translator, campaign: Campaign, shift: Shift, zone: ZoneInfo, signup: Signup, position: int
) -> OutgoingMessage:
    if signup.state is SignupState.WAITING:
        lead = t(
            "The shift is full, so you are number {n} on the waitlist. "
            "I'll tell you as soon as a place frees up."
        ).format(n=position)
    else:
        lead = t("You're in! I'll remind you the day before, with the meeting point.")
    text = MessageBuilder().add(lead).paragraph(bold(shift_title(t, campaign, shift)))
    add_shift_facts(text, t, shift, zone)
    text.button_row(Button(t("Withdraw"), Action(WITHDRAW, (str(shift.id),))))
    return text.build()


def promoted(t: Translator, campaign: Campaign, shift: Shift, zone: ZoneInfo) -> OutgoingMessage:
    text = MessageBuilder().add(t("A place freed up: you are now signed up for the shift."))
    text.paragraph(bold(shift_title(t, campaign, shift)))
    add_shift_facts(text, t, shift, zone)
    text.button_row(Button(t("Withdraw"), Action(WITHDRAW, (str(shift.id),))))
    return text.build()


def reminder(
    t: Translator, campaign: Campaign, shift: Shift, zone: ZoneInfo, now: datetime
) -> OutgoingMessage:
    starts = local(shift.starts_at, zone)
    text = MessageBuilder().add(
        t("Reminder: your shift starts {when}.").format(when=when(shift.starts_at, zone, t))
        if starts.date() != local(now, zone).date()
        else t("Reminder: your shift starts today at {time}.").format(time=starts.strftime("%H:%M"))
    )
    text.paragraph(bold(shift_title(t, campaign, shift)))
    add_shift_facts(text, t, shift, zone)
    text.button_row(Button(t("Can't come after all"), Action(WITHDRAW, (str(shift.id),))))
    return text.build()


def report_prompt(t: Translator, campaign: Campaign, shift: Shift) -> OutgoingMessage:
    text = MessageBuilder().add(
        t(
            "Thank you for the shift in {area}! How did it go? "
            "Report with a few buttons: it counts towards our goal."
        ).format(area=shift.area)
    )
    text.button_row(Button(t("Report"), Action(REPORT, (str(shift.id),))))
    return text.build()


def lead_after(t: Translator, campaign: Campaign, shift: Shift, count: int) -> OutgoingMessage:
    return (
        MessageBuilder()
        .add(
            t.ngettext(
                "Your shift in {area} is over; {n} was signed up. See who has reported with /pass.",
                "Your shift in {area} is over; {n} were signed up. "
                "See who has reported with /pass.",
                count,
            ).format(area=shift.area, n=count)
        )
        .build()
    )


def nudge(
    t: Translator, campaign: Campaign, shift: Shift, zone: ZoneInfo, left: int
) -> OutgoingMessage:
    text = MessageBuilder().add(
        t.ngettext(
            "You said you're interested in this kind of work. A shift still needs {n} more "
            "person: will you join?",
            "You said you're interested in this kind of work. A shift still needs {n} more "
            "people: will you join?",
            left,
        ).format(n=left)
    )
    text.paragraph(bold(shift_title(t, campaign, shift)))
    add_shift_facts(text, t, shift, zone)
    text.button_row(Button(t("I'm in"), Action(SIGNUP, (str(shift.id),))))
    return text.build()


def overview(
    t: Translator,
    campaign: Campaign,
    org: str,
    zone: ZoneInfo,
    shifts: Sequence[tuple[Shift, Sequence[Signup], int]],
) -> OutgoingMessage:
    """For organisers: each shift filled or open, and how many have reported."""
    text = MessageBuilder().add(bold(t("Overview: {name}").format(name=campaign.name)))
    add_campaign_facts(text, t, campaign, org)
    open_count = 0
    for shift, signups, reported in shifts:
        left = places_left(shift.capacity, signups)
        open_count += bool(left)
        text.line(
            "• "
            + t("Shift {n}, {when}, {area}: {places}; {reported} reported").format(
                n=shift.id,
                when=when(shift.starts_at, zone, t),
                area=shift.area,
                places=places(t, shift, signups),
                reported=reported,
            )
        )
    if not shifts:
        text.line(t("No shifts yet."))
    else:
        text.line(
            t("{filled} filled, {open} with places left.").format(
                filled=len(shifts) - open_count, open=open_count
            )
        )
    ident = (str(campaign.id),)
    text.button_row(
        Button(t("Add a shift"), Action(ADD_SHIFT, ident)),
        Button(t("Ask interested members"), Action(NUDGE, ident)),
    )
    text.button_row(
        Button(t("Figures"), Action(FIGURES, ident)),
        Button(t("Export"), Action(EXPORT, ident)),
    )
    return text.build()


def figures(
    t: Translator, campaign: Campaign, found: Totals, unions: Totals, year: int
) -> MessageBuilder:
    text = MessageBuilder().add(bold(t("Figures: {name}").format(name=campaign.name)))
    text.line(
        t("{reports}: {conversations}, {doors}.").format(
            reports=t.ngettext("{n} report", "{n} reports", found.reports).format(n=found.reports),
            conversations=conversations(t, found.conversations),
            doors=doors(t, found.doors),
        )
    )
    if found.by_area:
        text.paragraph(bold(t("By area")))
        for area, (talks, knocked) in found.by_area.items():
            text.line(
                "• "
                + t("{area}: {conversations}, {doors}").format(
                    area=area, conversations=conversations(t, talks), doors=doors(t, knocked)
                )
            )
    if found.by_topic:
        text.paragraph(bold(t("Topics people raised")))
        for key, count in found.by_topic.items():
            text.line(f"• {t(TOPICS[key]) if key in TOPICS else key}: {count}")
    if unions.by_union:
        text.paragraph(bold(t("Workplace conversations by union, {year}").format(year=year)))
        for union, count in unions.by_union.items():
            text.line(f"• {union}: {count}")
    return text


def charts(t: Translator, campaign: Campaign, found: Totals) -> list[Attachment]:
    """Bar charts of the conversations per area and of the topics people raised."""
    drawn = []
    if found.by_area:
        areas = list(found.by_area)
        drawn.append(
            bar_chart(
                t("Conversations by area"),
                areas,
                [Series(t("Conversations"), [found.by_area[a][0] for a in areas])],
                filename=f"kampanj-{campaign.id}-omraden.png",
            )
        )
    if found.by_topic:
        topics = list(found.by_topic)
        drawn.append(
            bar_chart(
                t("Topics people raised"),
                [t(TOPICS[k]) if k in TOPICS else k for k in topics],
                [Series(t("Reports"), [found.by_topic[k] for k in topics])],
                filename=f"kampanj-{campaign.id}-amnen.png",
            )
        )
    return drawn


def export_header(t: Translator) -> list[str]:
    return [
        t("Campaign"),
        t("Kind"),
        t("Union"),
        t("Shift"),
        t("Start"),
        t("Area"),
        t("Conversations"),
        t("Doors"),
        t("Topics"),
        t("Note for organisers"),
    ]


def export_row(t: Translator, row: ReportRow, zone: ZoneInfo) -> list[object]:
    report = row.report
    return [
        row.campaign.name,
        kind_name(t, row.campaign),
        row.campaign.union or "",
        row.shift.id,
        local(row.shift.starts_at, zone).strftime("%Y-%m-%d %H:%M"),
        row.shift.area,
        report.conversations,
        report.doors,
        topic_names(t, report.topics),
        report.note or "",
    ]


def report_noted(t: Translator, talked: int, knocked: int | None, total: int) -> OutgoingMessage:
    """Thanks, with what was noted (doors only where doors were knocked)."""
    noted = conversations(t, talked)
    if knocked is not None:
        noted = t("{conversations} and {doors}").format(
            conversations=noted, doors=doors(t, knocked)
        )
    text = t("Thank you! Noted: {noted}. Our conversations this year: {total}.")
    return MessageBuilder().add(text.format(noted=noted, total=total)).build()


def lead_view(
    t: Translator,
    campaign: Campaign,
    shift: Shift,
    zone: ZoneInfo,
    reported: Sequence[str],
    not_yet: Sequence[str],
) -> OutgoingMessage:
    text = MessageBuilder().add(
        bold(t("You lead: {title}").format(title=shift_title(t, campaign, shift)))
    )
    add_shift_facts(text, t, shift, zone)
    text.line(t("Reported: {names}").format(names=", ".join(reported) or "–"))
    text.line(t("Not yet: {names}").format(names=", ".join(not_yet) or "–"))
    return text.build()
