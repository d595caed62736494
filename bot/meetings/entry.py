"""Themed conversation meetings in chat: /moten, the organiser's dialog, RSVP, check-in,
follow-up, contributions and their export, reminder settings.

The work itself (create, change, cancel, answer, timers) is in `bot.meetings.service`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.context import Context, Refusal, TimerContext
from bot.dialogs import Choice, Confirm, Dialog, DialogOver, Repeat, Skip, Step
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation
from bot.domain.people import Status
from bot.formatting import when_span
from bot.forms import Field, Form
from bot.i18n import N_, Translator
from bot.meetings.model import (
    FOLLOW_UP_USEFUL,
    Answer,
    Audience,
    Contribution,
    Feedback,
    Meeting,
    MeetingSettings,
    check_times,
    parse_capacity,
    parse_end,
    parse_reminder_offsets,
    parse_when,
    split_place,
    waitlist_position,
)
from bot.meetings.service import (
    CHECK_IN,
    FOLLOW_UP,
    REMINDER,
    MeetingDraft,
    add_facts,
    answer,
    cancel_meeting,
    check_in_open,
    create_meeting,
    current,
    duration,
    follow_up_all,
    may_see,
    org_of,
    record_attendance,
    reminder_minutes,
    reminder_until,
    reschedule_reminders,
    rsvp_buttons,
    send_check_in,
    send_follow_up,
    send_reminders,
    update_meeting,
)
from bot.messages import Action, Attachment, Button, MessageBuilder, bold, message
from bot.parsing import parse_id
from bot.permissions import Permission
from bot.registry import CommandSpec, Registry, within
from bot.render.calendar import calendar_bytes, meeting_filename
from bot.spreadsheet import SafeCsvWriter
from bot.timeread import Problem, TimeReadError

NEW = "meeting.new"
EDIT = "meeting.edit"
COMMENT = "meeting.comment"
MAX_LISTED = 5
MAX_QUESTIONS = 10
MAX_THEME = 200
MAX_TEXT = 2000
MAX_HOSTS = 8


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "moten",
            "meetings",
            N_("Upcoming themed meetings: answer if you're coming"),
            list_meetings,
            usage=N_("[number]"),
        )
    )
    registry.command(
        CommandSpec(
            "bidrag",
            "contribute",
            N_("Add your thoughts to a meeting's discussion"),
            contribute,
            usage=N_("[number] text"),
        )
    )
    registry.command(
        CommandSpec(
            "nytt_mote",
            "newmeeting",
            N_("Plan a themed meeting, step by step"),
            new_meeting,
            Permission.MANAGE_MEETINGS,
        )
    )
    registry.command(
        CommandSpec(
            "paminnelser",
            "reminders",
            N_("When meeting reminders go out, e.g. /paminnelser 1v 1d 2h"),
            set_reminders,
            Permission.MANAGE_MEETINGS,
            usage=N_("[times]"),
        )
    )
    registry.action("meeting.rsvp", rsvp)
    registry.action("meeting.ics", send_ics)
    registry.action("meeting.discard", keep_meeting)
    registry.action("meeting.edit", edit_menu)
    registry.action("meeting.edit_field", edit_field)
    registry.action("meeting.audience", toggle_audience)
    registry.action("meeting.cancel", ask_cancel)
    registry.action("meeting.cancel_confirm", confirm_cancel)
    registry.action("meeting.checkin", check_in)
    registry.action("meeting.attendance", attendance_list)
    registry.action("meeting.attend", toggle_attendance)
    registry.action("meeting.rate", rate)
    registry.action("meeting.export", export_menu)
    registry.action("meeting.export_as", export_contributions)
    registry.dialog(NEW_MEETING)
    registry.dialog(EDIT_MEETING)
    registry.dialog(COMMENT_DIALOG)
    registry.timer(REMINDER, reminder_due, useful_until=reminder_useful_until)
    registry.timer(CHECK_IN, check_in_due, useful_until=check_in_useful_until)
    registry.timer(FOLLOW_UP, follow_up_due, useful_until=within(FOLLOW_UP_USEFUL))
    registry.payload("meeting", show_meeting_payload)


# --- Looking things up --------------------------------------------------------------


async def _meeting(
    ctx: Context, raw: str, *, shown: bool = False, to_group: bool = False
) -> tuple[Meeting, Organisation]:
    """The meeting a typed number or a button names, if this person may know of it.

    A members-only meeting this person may not see gets the same answer as one that does
    not exist. `shown`: the person holds a button from a post they saw (its own answer then
    says why not). `to_group`: the answer is shown to a whole group, where guests may be:
    only open meetings then."""
    meeting_id = parse_id(raw)
    meeting = await ctx.uow.meetings.get(meeting_id) if meeting_id else None
    if (
        meeting is not None
        and not meeting.is_open_to_guests()
        and (to_group or not (shown or await may_see(ctx, ctx.person, meeting)))
    ):
        meeting = None
    if meeting is None:
        raise Refusal(ctx.t("I can't find that meeting. Write /moten to see what's coming."))
    return meeting, await org_of(ctx, meeting)


async def _visible(ctx: Context, meetings: Sequence[Meeting]) -> list[Meeting]:
    """The meetings this answer may show: in a group only open ones, in private those the
    person may see."""
    if not ctx.chat.is_private:
        return [m for m in meetings if m.is_open_to_guests()]
    return [m for m in meetings if await may_see(ctx, ctx.person, m)]


async def _organiser_meeting(ctx: Context, raw: str) -> tuple[Meeting, Organisation]:
    meeting, org = await _meeting(ctx, raw)
    if Permission.MANAGE_MEETINGS not in await ctx.permissions(org):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(org=org.name)
        )
    return meeting, org


async def _visible_org_ids(ctx: Context) -> list[int]:
    """Whose meetings this person sees: in a group, the channel's organisation and those above;
    in private, their own organisations and those above, and wherever they organise."""
    roots: list[int] = []
    if not ctx.chat.is_private and ctx.org is not None and ctx.org.id is not None:
        roots = [ctx.org.id]
    else:
        roots = [a.org_id for a in await ctx.uow.people.affiliations_of(ctx.person_id)]
    found: list[int] = []
    for org_id in roots:
        for org in await ctx.uow.orgs.lineage(org_id):
            if org.id is not None and org.id not in found:
                found.append(org.id)
    if ctx.chat.is_private:
        for org in await _hosting_orgs(ctx):
            if org.id is not None and org.id not in found:
                found.append(org.id)
    return found


async def _hosting_orgs(ctx: Context) -> list[Organisation]:
    """The organisations where this person may plan meetings (where they organise, and below)."""
    found: list[Organisation] = []
    for role in await ctx.uow.people.roles_of(ctx.person_id):
        for org in await ctx.uow.orgs.subtree(role.org_id):
            if all(o.id != org.id for o in found) and await ctx.meets(
                Permission.MANAGE_MEETINGS, org
            ):
                found.append(org)
    return found


async def _zone(ctx: Context, org: Organisation) -> ZoneInfo:
    home = await ctx.home_org(ctx.person)
    return (home or org).zone


# --- /moten ---------------------------------------------------------------------------


async def list_meetings(ctx: Context, args: str) -> None:
    if args.strip():  # /moten 3: one meeting, also after it has ended
        raw = args.strip().lstrip("#")
        meeting, org = await _meeting(ctx, raw, to_group=not ctx.chat.is_private)
        await _show_card(ctx, meeting, org)
        return
    org_ids = await _visible_org_ids(ctx)
    # Some may be hidden from this person: look further ahead, then keep the first few.
    found = await ctx.uow.meetings.upcoming(org_ids, ctx.now, 10 * MAX_LISTED) if org_ids else []
    meetings = (await _visible(ctx, found))[:MAX_LISTED]
    if not meetings:
        await ctx.reply(message(ctx.t("No meetings are planned right now. Check again soon!")))
        return
    await ctx.reply(
        message(ctx.t("Coming up: answer with the buttons under each meeting."))
        if len(meetings) > 1
        else message(ctx.t("Coming up:"))
    )
    for meeting in meetings:
        await _show_card(ctx, meeting, await org_of(ctx, meeting))


async def show_meeting_payload(ctx: Context, value: str) -> None:
    meeting, org = await _meeting(ctx, value, to_group=not ctx.chat.is_private)
    await _show_card(ctx, meeting, org)


async def _show_card(ctx: Context, meeting: Meeting, org: Organisation) -> None:
    assert meeting.id is not None
    _ = ctx.t
    rsvps = await ctx.uow.meetings.rsvps(meeting.id)
    text = add_facts(MessageBuilder(), meeting, org, await _zone(ctx, org), _, rsvps)
    if meeting.description:
        text.paragraph(meeting.description)
    mine = next((r for r in rsvps if r.person_id == ctx.person_id), None)
    if mine is not None:
        text.paragraph(
            _("Your answer: {answer}").format(answer=_answer_word(ctx, mine.answer, rsvps))
        )
    guest_shut_out = meeting.audience is Audience.MEMBERS and ctx.person.status is not Status.MEMBER
    if guest_shut_out:
        text.paragraph(_("This one is for members only. You are welcome at every open meeting!"))
    else:
        for row in rsvp_buttons(meeting, _):
            text.button_row(*row)
    if ctx.chat.is_private and Permission.MANAGE_MEETINGS in await ctx.permissions(org):
        meeting_id = str(meeting.id)
        text.button_row(
            Button(_("Edit"), Action("meeting.edit", (meeting_id,))),
            Button(_("Cancel meeting"), Action("meeting.cancel", (meeting_id,))),
        )
        text.button_row(
            Button(_("Attendance"), Action("meeting.attendance", (meeting_id,))),
            Button(_("Contributions"), Action("meeting.export", (meeting_id,))),
        )
    await ctx.reply(text.build())


def _answer_word(ctx: Context, value: Answer, rsvps: Sequence[Any]) -> str:
    if value is Answer.WAITLISTED:
        position = waitlist_position(rsvps, ctx.person_id) or 0
        return ctx.t("on the waitlist, number {n}").format(n=position)
    return {
        Answer.COMING: ctx.t("coming"),
        Answer.MAYBE: ctx.t("maybe"),
        Answer.DECLINED: ctx.t("can't come"),
    }[value]


# --- RSVP -------------------------------------------------------------------------------


async def rsvp(ctx: Context, args: tuple[str, ...]) -> None:
    if len(args) != 2 or args[1] not in {a.value for a in Answer}:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    # The button is under a post this person saw; a guest is told why not just below.
    meeting, org = await _meeting(ctx, args[0], shown=True)
    wanted = Answer(args[1])
    _ = ctx.t
    if meeting.cancelled:
        raise Refusal(_("That meeting has been cancelled. See what's coming with /moten."))
    if meeting.ends_at <= ctx.now:
        raise Refusal(_("That meeting is over. See what's coming with /moten."))
    if meeting.audience is Audience.MEMBERS and ctx.person.status is not Status.MEMBER:
        raise Refusal(
            _(
                "Sorry, {theme} is for members only, because decisions are made there. "
                "You are warmly welcome at every open meeting: see /moten. Ask an organiser "
                "if you would like to become a member."
            ).format(theme=meeting.theme)
        )
    assert meeting.id is not None
    result = await answer(ctx, meeting, ctx.person, wanted)
    waiting = (
        await ctx.uow.meetings.rsvps(meeting.id, (Answer.WAITLISTED,))
        if result is Answer.WAITLISTED
        else []
    )
    zone = await _zone(ctx, org)
    meeting_id = str(meeting.id)

    def build(t: Translator) -> Any:
        headline = {
            Answer.COMING: t("Great, you're coming!"),
            Answer.MAYBE: t("Noted: maybe. I'll remind you before it starts."),
            Answer.DECLINED: t("Noted: you can't come. Thanks for letting us know."),
            Answer.WAITLISTED: t(
                "The meeting is full, so you're on the waitlist, number {n}. "
                "I'll tell you as soon as a place opens up."
            ).format(n=waitlist_position(waiting, ctx.person_id) or 0),
        }[result]
        text = MessageBuilder().line(bold(headline))
        add_facts(text, meeting, org, zone, t)
        if result in (Answer.COMING, Answer.MAYBE):
            text.button_row(Button(t("Add to calendar"), Action("meeting.ics", (meeting_id,))))
        return text.build()

    if ctx.chat.is_private or ctx.answered_elsewhere:  # personal: privately, never in the group
        await ctx.reply(build(ctx.t))
    else:  # answered under a group post: confirm privately, not in front of everyone
        await ctx.notify(ctx.person, build, key=f"meeting:{meeting.id}:rsvp:{ctx.event_id}")


async def send_ics(ctx: Context, args: tuple[str, ...]) -> None:
    meeting, org = await _meeting(ctx, args[0] if args else "")
    data = calendar_bytes([(meeting, org)], ctx.now)
    await ctx.reply(
        MessageBuilder()
        .line(
            ctx.t("Here is {theme} for your calendar. Open the file to add it.").format(
                theme=meeting.theme
            )
        )
        .attach(Attachment(meeting_filename(meeting), "text/calendar", data))
        .build()
    )


# --- Planning a meeting -------------------------------------------------------------------


async def new_meeting(ctx: Context, args: str) -> None:
    _ = ctx.t
    # In a group, only where the platform keeps the dialog for the organiser's eyes there
    # (Discord: its form, then ephemeral questions); elsewhere it would go on in private.
    if not ctx.chat.is_private and ctx.answered_elsewhere:
        raise Refusal(_("Let's plan it in private: write /nytt_mote to me directly."))
    hosts = await _hosting_orgs(ctx)
    wanted = args.strip().lower()
    if wanted:
        hosts = [org for org in hosts if org.slug == wanted]
        if not hosts:
            raise Refusal(
                _(
                    "You can't plan meetings for {slug}. Write /nytt_mote without a name to choose."
                ).format(slug=wanted)
            )
    if not hosts:
        raise Refusal(_("Only organisers can plan meetings."))
    await NEW_MEETING.start(ctx, NewMeeting(org_id=hosts[0].id if len(hosts) == 1 else None))


@dataclass
class NewMeeting:
    """What the organiser has answered so far in /nytt_mote."""

    org_id: int | None = None
    theme: str = ""
    description: str = ""
    questions: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    place: str = ""
    audience: Audience = Audience.OPEN
    capacity: int | None = None


async def _draft_org(ctx: Context, draft: NewMeeting) -> Organisation:
    org = await ctx.uow.orgs.get(draft.org_id) if draft.org_id else None
    if org is None:
        raise DialogOver(ctx.t("That organisation is gone. Nothing was saved."))
    return org


async def _host_choices(ctx: Context, draft: NewMeeting) -> list[list[Choice]]:
    return [[Choice(org.name, str(org.id))] for org in (await _hosting_orgs(ctx))[:MAX_HOSTS]]


async def _read_host(ctx: Context, value: str, draft: NewMeeting) -> int:
    chosen_id = parse_id(value)
    chosen = await ctx.uow.orgs.get(chosen_id) if chosen_id else None
    if (
        chosen is None
        or chosen.id is None
        or not await ctx.meets(Permission.MANAGE_MEETINGS, chosen)
    ):
        raise Refusal(ctx.t("You can't plan meetings there."))
    return chosen.id


async def _theme_prompt(ctx: Context, draft: NewMeeting) -> MessageBuilder:
    org = await _draft_org(ctx, draft)
    return (
        MessageBuilder()
        .line(bold(ctx.t("New themed meeting in {org}").format(org=org.name)))
        .line(ctx.t("What is the theme? E.g. Safety in our town."))
    )


def _read_theme(ctx: Context, value: str, draft: object) -> str:
    if len(value) > MAX_THEME:
        raise Refusal(ctx.t("Write the theme in a few words (at most 200 characters)."))
    return value


def _read_text(ctx: Context, value: str, draft: object) -> str:
    if len(value) > MAX_TEXT:
        raise Refusal(ctx.t("That is a bit long: at most 2000 characters, please."))
    return value


def _read_place(ctx: Context, value: str, draft: object) -> str:
    if len(value) > 300:
        raise Refusal(ctx.t("Write an address, or paste a link that starts with https://."))
    return value


def _read_places(ctx: Context, value: str, draft: object) -> int | None:
    try:
        return parse_capacity(value)
    except ValueError:
        raise Refusal(ctx.t("Write the number of places, e.g. 20, or press No limit.")) from None


async def _read_start(
    ctx: Context, value: str, draft: NewMeeting
) -> tuple[datetime, datetime | None]:
    return _read_when(ctx, value, await _draft_org(ctx, draft))


async def _read_span(
    ctx: Context, value: str, draft: NewMeeting
) -> tuple[datetime, datetime | None]:
    """The time in the form: with its end, as no later question asks for it there."""
    start, end = _read_when(ctx, value, await _draft_org(ctx, draft))
    if end is None:
        raise Refusal(ctx.t("Add when it ends too, e.g. 12/3 18:00-20:00."))
    return start, end


def _store_when(draft: NewMeeting, value: tuple[datetime, datetime | None]) -> None:
    draft.start, draft.end = value  # no end given: the next step asks for it


async def _read_finish(ctx: Context, value: str, draft: NewMeeting) -> datetime:
    assert draft.start is not None
    return _read_end(ctx, value, draft.start, await _draft_org(ctx, draft))


def _questions_prompt(ctx: Context, draft: NewMeeting) -> str:
    if draft.questions:
        return ctx.t("Next question, or Done.")
    return ctx.t("Discussion questions: write them one message at a time, then press Done.")


def _audience_choices(ctx: Context, draft: NewMeeting) -> list[list[Choice]]:
    return [
        [Choice(ctx.t("Everyone, guests too"), Audience.OPEN.value)],
        [Choice(ctx.t("Members only"), Audience.MEMBERS.value)],
    ]


def _meeting_draft(draft: NewMeeting) -> MeetingDraft:
    assert draft.start is not None and draft.end is not None
    place, link = split_place(draft.place)
    return MeetingDraft(
        theme=draft.theme,
        starts_at=draft.start,
        ends_at=draft.end,
        description=draft.description,
        questions=list(draft.questions),
        place=place,
        link=link,
        audience=draft.audience,
        capacity=draft.capacity,
    )


async def _summary(ctx: Context, form: NewMeeting) -> MessageBuilder:
    _ = ctx.t
    org = await _draft_org(ctx, form)
    draft = _meeting_draft(form)
    zone = await _zone(ctx, org)
    text = MessageBuilder().line(bold(_("Does this look right?")))
    text.line(bold(draft.theme))
    text.line(_("When: {when}").format(when=when_span(draft.starts_at, draft.ends_at, zone, _)))
    if draft.link:
        text.line(_("Link: {link}").format(link=draft.link))
    else:
        text.line(_("Where: {place}").format(place=draft.place))
    text.line(_("Host: {org}").format(org=org.name))
    text.line(
        _("For members only")
        if draft.audience is Audience.MEMBERS
        else _("Open to everyone, guests welcome")
    )
    text.line(
        _("Places: {n}").format(n=draft.capacity) if draft.capacity else _("Places: no limit")
    )
    if draft.description:
        text.paragraph(draft.description)
    if draft.questions:
        text.paragraph(bold(_("Discussion questions")))
        for number, question in enumerate(draft.questions, start=1):
            text.line(f"{number}. {question}")
    text.paragraph(_("Saving posts the invitation in the organisation's group chats."))
    return text


async def _save_meeting(ctx: Context, form: NewMeeting) -> None:
    _ = ctx.t
    org = await _draft_org(ctx, form)
    if not await ctx.meets(Permission.MANAGE_MEETINGS, org):
        raise Refusal(_("You can't plan meetings there."))
    draft = _meeting_draft(form)
    try:
        check_times(draft.starts_at, draft.ends_at, ctx.now)
    except TimeReadError as error:
        raise _time_refusal(ctx, error) from None
    meeting = await create_meeting(ctx, org, draft, created_by=ctx.person_id)
    channels = await ctx.uow.orgs.channels_of(meeting.org_id)
    saved = _("Saved! {theme} has number {n}.").format(theme=meeting.theme, n=meeting.id)
    posted = (
        _("The invitation is posted in the group chat.")
        if channels
        else _("{org} has no group chat connected, so no invitation was posted.").format(
            org=org.name
        )
    )
    follow = _("Write /moten to see it, change it or cancel it.")
    await ctx.reply(message(f"{saved} {posted} {follow}"))


NEW_MEETING: Dialog[NewMeeting] = Dialog(
    name=NEW,
    draft=NewMeeting,
    command="nytt_mote",
    steps=(
        Step(
            "org_id",
            lambda ctx, d: (
                MessageBuilder()
                .line(bold(ctx.t("New themed meeting")))
                .line(ctx.t("Which organisation is hosting it?"))
            ),
            parse=_read_host,
            choices=_host_choices,
            typed=False,
            ask_if=lambda d: d.org_id is None,
        ),
        Step("theme", _theme_prompt, parse=_read_theme),
        Step(
            "description",
            lambda ctx, d: ctx.t("A few words about the evening, for the invitation?"),
            parse=_read_text,
            skip=Skip(""),
        ),
        Step(
            "questions",
            _questions_prompt,
            parse=lambda ctx, value, d: [_read_text(ctx, value, d)],
            repeat=Repeat(at_most=MAX_QUESTIONS),
        ),
        Step(
            "when",
            lambda ctx, d: ctx.t(
                "When? Write the date and time, e.g. 2026-03-12 18:00-20:00, "
                "12/3 18-20 or 12 mars 18:00."
            ),
            parse=_read_start,
            store=_store_when,
        ),
        Step(
            "end",
            lambda ctx, d: ctx.t("When does it end? E.g. 20:00, or 2h."),
            parse=_read_finish,
            ask_if=lambda d: d.end is None,
        ),
        Step(
            "place",
            lambda ctx, d: ctx.t(
                "Where? Write an address, or paste the link for a digital meeting."
            ),
            parse=_read_place,
        ),
        Step(
            "audience",
            lambda ctx, d: ctx.t("Who may come?"),
            parse=lambda ctx, value, d: Audience(value),
            choices=_audience_choices,
            typed=False,
        ),
        Step(
            "capacity",
            lambda ctx, d: ctx.t("How many places? Write a number, or press No limit."),
            parse=_read_places,
            skip=Skip(None, label=N_("No limit")),
        ),
    ),
    confirm=Confirm(_summary, save=N_("Save"), discard=N_("Cancel")),
    finish=_save_meeting,
    # Where the platform shows forms (Discord), these come in one; the rest as questions.
    form=Form(
        N_("New themed meeting"),
        (
            Field("theme", N_("Theme"), N_("Safety in our town"), max_length=MAX_THEME),
            Field("when", N_("When"), N_("12/3 18:00-20:00"), max_length=100, parse=_read_span),
            Field("place", N_("Where: address or link"), max_length=300),
            Field("description", N_("About the evening"), long=True, max_length=MAX_TEXT),
            Field(
                "questions",
                N_("Discussion questions, one a line"),
                long=True,
                max_length=MAX_TEXT,
            ),
        ),
    ),
)


def _time_refusal(ctx: Context, error: TimeReadError) -> Refusal:
    _ = ctx.t
    own = {
        Problem.UNREADABLE: _(
            "I couldn't read that time. Write e.g. 2026-03-12 18:00-20:00 or 12/3 18-20."
        ),
        Problem.NO_TIME: _("Add the time too, e.g. 12/3 18:00."),
        Problem.PAST: _("That time has already passed. Choose a time in the future."),
    }
    return Refusal(own.get(error.problem) or error.explain(_))


def _read_when(ctx: Context, value: str, org: Organisation) -> tuple[datetime, datetime | None]:
    try:
        return parse_when(value, org.zone, ctx.now)
    except TimeReadError as error:
        raise _time_refusal(ctx, error) from None


def _read_end(ctx: Context, value: str, start: datetime, org: Organisation) -> datetime:
    try:
        return parse_end(value, start, org.zone, ctx.now)
    except TimeReadError as error:
        raise _time_refusal(ctx, error) from None


# --- Changing and cancelling -----------------------------------------------------------------

EDIT_FIELDS = (
    ("time", N_("Time")),
    ("place", N_("Place or link")),
    ("theme", N_("Theme")),
    ("description", N_("Description")),
    ("capacity", N_("Places")),
)


async def edit_menu(ctx: Context, args: tuple[str, ...]) -> None:
    meeting, _org = await _organiser_meeting(ctx, args[0] if args else "")
    _ = ctx.t
    if meeting.cancelled or meeting.ends_at <= ctx.now:
        raise Refusal(_("That meeting can no longer be changed."))
    meeting_id = str(meeting.id)
    text = MessageBuilder().line(
        bold(_("What do you want to change in {theme}?").format(theme=meeting.theme))
    )
    buttons = [
        Button(_(label), Action("meeting.edit_field", (meeting_id, name)))
        for name, label in EDIT_FIELDS
    ]
    text.button_row(*buttons[:3]).button_row(*buttons[3:])
    other = _("Open to everyone") if meeting.audience is Audience.MEMBERS else _("Members only")
    text.button_row(Button(other, Action("meeting.audience", (meeting_id, str(meeting.version)))))
    await ctx.reply(text.build())


async def edit_field(ctx: Context, args: tuple[str, ...]) -> None:
    if len(args) != 2 or args[1] not in dict(EDIT_FIELDS):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    meeting, _org = await _organiser_meeting(ctx, args[0])
    _ = ctx.t
    if meeting.cancelled or meeting.ends_at <= ctx.now:
        raise Refusal(_("That meeting can no longer be changed."))
    if not ctx.chat.is_private:
        raise Refusal(_("Let's do this in private: open /moten in your chat with me."))
    assert meeting.id is not None
    await EDIT_MEETING.start(ctx, MeetingEdit(meeting.id, args[1]))


@dataclass
class MeetingEdit:
    """One field of a meeting being changed: `field` says which step is asked."""

    meeting_id: int
    field: str
    start: datetime | None = None
    end: datetime | None = None
    place: str = ""
    theme: str = ""
    description: str = ""
    capacity: int | None = None


async def _editable(ctx: Context, edit: MeetingEdit) -> tuple[Meeting, Organisation]:
    try:
        meeting, org = await _organiser_meeting(ctx, str(edit.meeting_id))
    except Refusal as refusal:
        raise DialogOver(refusal.text) from None
    if meeting.cancelled or meeting.ends_at <= ctx.now:
        raise DialogOver(ctx.t("That meeting can no longer be changed."))
    return meeting, org


async def _check_editable(ctx: Context, edit: MeetingEdit) -> None:
    await _editable(ctx, edit)


async def _edit_prompt(ctx: Context, edit: MeetingEdit) -> str:
    _ = ctx.t
    meeting, org = await _editable(ctx, edit)
    match edit.field:
        case "time":
            zone = await _zone(ctx, org)
            prompt = _("New time? Now: {now}. Write e.g. 2026-03-12 18:00-20:00.").format(
                now=when_span(meeting.starts_at, meeting.ends_at, zone, _)
            )
        case "place":
            prompt = _("New place or link? Now: {now}").format(
                now=meeting.link or meeting.place or "-"
            )
        case "theme":
            prompt = _("New theme? Now: {now}").format(now=meeting.theme)
        case "description":
            prompt = _("New description? Write it, or press Remove.")
        case _:
            prompt = _("How many places now? Write a number, or press No limit.")
    return prompt + " " + _("(/avbryt stops.)")


async def _read_new_time(
    ctx: Context, value: str, edit: MeetingEdit
) -> tuple[datetime, datetime | None]:
    _meeting, org = await _editable(ctx, edit)
    return _read_when(ctx, value, org)


def _store_new_time(edit: MeetingEdit, value: tuple[datetime, datetime | None]) -> None:
    edit.start, edit.end = value


async def _apply_edit(ctx: Context, edit: MeetingEdit) -> None:
    meeting, _org = await _editable(ctx, edit)
    match edit.field:
        case "time":
            assert edit.start is not None
            end = edit.end or edit.start + (meeting.ends_at - meeting.starts_at)
            meeting.starts_at, meeting.ends_at = edit.start, end
        case "place":
            meeting.place, meeting.link = split_place(edit.place)
        case "theme":
            meeting.theme = edit.theme
        case "description":
            meeting.description = edit.description
        case "capacity":
            meeting.capacity = edit.capacity
    await update_meeting(ctx, meeting, [edit.field])
    await _changed_reply(ctx, meeting)


def _asked_for(name: str) -> Callable[[MeetingEdit], bool]:
    return lambda edit: edit.field == name


EDIT_MEETING: Dialog[MeetingEdit] = Dialog(
    name=EDIT,
    draft=MeetingEdit,
    check=_check_editable,
    steps=(
        Step(
            "time",
            _edit_prompt,
            parse=_read_new_time,
            store=_store_new_time,
            ask_if=_asked_for("time"),
        ),
        Step("place", _edit_prompt, parse=_read_place, ask_if=_asked_for("place")),
        Step("theme", _edit_prompt, parse=_read_theme, ask_if=_asked_for("theme")),
        Step(
            "description",
            _edit_prompt,
            parse=_read_text,
            skip=Skip("", label=N_("Remove")),
            ask_if=_asked_for("description"),
        ),
        Step(
            "capacity",
            _edit_prompt,
            parse=_read_places,
            skip=Skip(None, label=N_("No limit")),
            ask_if=_asked_for("capacity"),
        ),
    ),
    finish=_apply_edit,
)


async def _changed_reply(ctx: Context, meeting: Meeting) -> None:
    assert meeting.id is not None
    rsvps = await ctx.uow.meetings.rsvps(meeting.id)
    await ctx.reply(
        message(
            ctx.t.ngettext(
                "Changed. I've told the one who answered and the group chats.",
                "Changed. I've told the {n} who answered and the group chats.",
                len(rsvps),
            ).format(n=len(rsvps))
            if rsvps
            else ctx.t("Changed. I've told the group chats.")
        )
    )


async def toggle_audience(ctx: Context, args: tuple[str, ...]) -> None:
    meeting, _org = await _organiser_meeting(ctx, args[0] if args else "")
    if meeting.cancelled or meeting.ends_at <= ctx.now or args[1:] != (str(meeting.version),):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    meeting.audience = Audience.OPEN if meeting.audience is Audience.MEMBERS else Audience.MEMBERS
    await update_meeting(ctx, meeting, ["audience"])
    await _changed_reply(ctx, meeting)


async def keep_meeting(ctx: Context, args: tuple[str, ...]) -> None:
    """ "No, keep it" to cancelling a meeting."""
    await ctx.reply(message(ctx.t("Okay, nothing was saved.")))


async def ask_cancel(ctx: Context, args: tuple[str, ...]) -> None:
    meeting, _org = await _organiser_meeting(ctx, args[0] if args else "")
    _ = ctx.t
    if meeting.cancelled:
        raise Refusal(_("That meeting is already cancelled."))
    assert meeting.id is not None
    answered = len(await ctx.uow.meetings.rsvps(meeting.id))
    await ctx.reply(
        message(
            _.ngettext(
                "Cancel {theme}? The one who answered and the group chats will be told.",
                "Cancel {theme}? The {n} who answered and the group chats will be told.",
                answered,
            ).format(theme=meeting.theme, n=answered),
            buttons=[
                [
                    Button(
                        _("Yes, cancel it"),
                        Action("meeting.cancel_confirm", (str(meeting.id), str(meeting.version))),
                    ),
                    Button(_("No, keep it"), Action("meeting.discard")),
                ]
            ],
        )
    )


async def confirm_cancel(ctx: Context, args: tuple[str, ...]) -> None:
    meeting, _org = await _organiser_meeting(ctx, args[0] if args else "")
    if meeting.cancelled:
        raise Refusal(ctx.t("That meeting is already cancelled."))
    if args[1:] != (str(meeting.version),):
        raise Refusal(ctx.t("The meeting changed after you asked. Open it again with /moten."))
    told = await cancel_meeting(ctx, meeting)
    await ctx.reply(
        message(
            ctx.t.ngettext(
                "{theme} is cancelled. I've told {n} person and the group chats.",
                "{theme} is cancelled. I've told {n} people and the group chats.",
                told,
            ).format(theme=meeting.theme, n=told)
        )
    )


# --- Reminder settings ------------------------------------------------------------------------


async def set_reminders(ctx: Context, args: str) -> None:
    _ = ctx.t
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(_("I don't know which organisation you mean. Write this in its group chat."))
    if not args.strip():
        current_minutes = await reminder_minutes(ctx, org.id)
        await ctx.reply(message(_describe_reminders(ctx, org, current_minutes)))
        return
    try:
        minutes = parse_reminder_offsets(args)
    except ValueError:
        raise Refusal(
            _(
                "Write up to five times before the start, e.g. /paminnelser 1v 1d 2h, or /paminnelser av."
            )
        ) from None
    old = await reminder_minutes(ctx, org.id)
    await ctx.uow.meetings.save_settings(MeetingSettings(org.id, minutes))
    subtree = [o.id for o in await ctx.uow.orgs.subtree(org.id) if o.id is not None]
    for meeting in await ctx.uow.meetings.upcoming(subtree, ctx.now, 1000):
        await reschedule_reminders(ctx, meeting, old)
    await ctx.reply(message(_describe_reminders(ctx, org, minutes)))


def _describe_reminders(ctx: Context, org: Organisation, minutes: Sequence[int]) -> str:
    if not minutes:
        return ctx.t("Meetings in {org} send no reminders.").format(org=org.name)
    words = [duration(m, ctx.t) for m in minutes]
    times = (
        ctx.t("{first} and {last}").format(first=", ".join(words[:-1]), last=words[-1])
        if len(words) > 1
        else words[0]
    )
    return ctx.t(
        "Reminders for meetings in {org} go out {times} before the start. "
        "Change with e.g. /paminnelser 1v 1d 2h, or /paminnelser av."
    ).format(org=org.name, times=times)


# --- Check-in, attendance, follow-up -----------------------------------------------------------


async def check_in(ctx: Context, args: tuple[str, ...]) -> None:
    meeting, _org = await _meeting(ctx, args[0] if args else "")
    _ = ctx.t
    if meeting.cancelled or not check_in_open(meeting, ctx.now):
        raise Refusal(_("Check-in is open only while the meeting is on."))
    added = await record_attendance(ctx, meeting, ctx.person_id)
    await ctx.reply(
        message(
            _("Welcome, you're checked in to {theme}!").format(theme=meeting.theme)
            if added
            else _("You're already checked in.")
        )
    )


async def attendance_list(ctx: Context, args: tuple[str, ...]) -> None:
    meeting, _org = await _organiser_meeting(ctx, args[0] if args else "")
    await _show_attendance(ctx, meeting)


async def _show_attendance(ctx: Context, meeting: Meeting) -> None:
    assert meeting.id is not None
    _ = ctx.t
    present = {a.person_id for a in await ctx.uow.meetings.attendance(meeting.id)}
    answered = [
        r.person_id
        for r in await ctx.uow.meetings.rsvps(meeting.id)
        if r.answer is not Answer.DECLINED
    ]
    # Attendance of people since erased (None) is counted but never listed.
    people = [p for p in dict.fromkeys([*answered, *present]) if p is not None]
    text = MessageBuilder().line(bold(_("Attendance: {theme}").format(theme=meeting.theme)))
    text.line(
        _("{present} of {total} marked as there. Press a name to mark or unmark.").format(
            present=len(present), total=len(people)
        )
    )
    if not people:
        text.line(_("No one has answered yet."))
    for person_id in people:
        person = await ctx.uow.people.get(person_id)
        if person is None:
            continue
        mark = "✓ " if person_id in present else ""
        text.button_row(
            Button(
                f"{mark}{person.display_name}",
                Action("meeting.attend", (str(meeting.id), str(person_id))),
            )
        )
    await ctx.reply(text.build())


async def toggle_attendance(ctx: Context, args: tuple[str, ...]) -> None:
    if len(args) != 2 or not (args[1].isascii() and args[1].isdigit()):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    meeting, _org = await _organiser_meeting(ctx, args[0])
    assert meeting.id is not None
    if meeting.starts_at - ctx.now > (meeting.ends_at - meeting.starts_at):
        raise Refusal(ctx.t("Attendance can be marked from the start of the meeting."))
    person_id = int(args[1])
    rsvp_ids = {r.person_id for r in await ctx.uow.meetings.rsvps(meeting.id)}
    present = {a.person_id for a in await ctx.uow.meetings.attendance(meeting.id)}
    if person_id not in rsvp_ids | present:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    if person_id in present:
        await ctx.uow.meetings.remove_attendance(meeting.id, person_id)
    else:
        await record_attendance(ctx, meeting, person_id, confirmed_by=ctx.person_id)
        person = await ctx.uow.people.get(person_id)
        if person is not None and ctx.now >= meeting.ends_at:
            await send_follow_up(ctx, meeting, person)  # the follow-up they missed
    await _show_attendance(ctx, meeting)


async def rate(ctx: Context, args: tuple[str, ...]) -> None:
    if len(args) != 2 or args[1] not in {"1", "2", "3", "4", "5"}:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    meeting, _org = await _meeting(ctx, args[0])
    assert meeting.id is not None
    present = {a.person_id for a in await ctx.uow.meetings.attendance(meeting.id)}
    if ctx.person_id not in present:
        raise Refusal(ctx.t("Only those who were there can rate the meeting."))
    existing = await ctx.uow.meetings.feedback_of(meeting.id, ctx.person_id)
    if existing is None:
        await ctx.uow.meetings.add_feedback(
            Feedback(meeting.id, ctx.person_id, int(args[1]), ctx.now)
        )
    else:
        existing.rating, existing.given_at = int(args[1]), ctx.now
    await COMMENT_DIALOG.start(ctx, MeetingComment(meeting.id))


@dataclass
class MeetingComment:
    meeting_id: int
    comment: str | None = None


async def _check_feedback(ctx: Context, draft: MeetingComment) -> None:
    if await ctx.uow.meetings.feedback_of(draft.meeting_id, ctx.person_id) is None:
        raise DialogOver()


def _read_comment(ctx: Context, value: str, draft: MeetingComment) -> str:
    if len(value) > 1000:
        raise Refusal(ctx.t("That is a bit long: at most 1000 characters, please."))
    return value


async def _save_comment(ctx: Context, draft: MeetingComment) -> None:
    feedback = await ctx.uow.meetings.feedback_of(draft.meeting_id, ctx.person_id)
    if draft.comment is None or feedback is None:
        await ctx.reply(message(ctx.t("Thank you for coming!")))
        return
    feedback.comment = draft.comment
    await ctx.reply(message(ctx.t("Thank you! The organisers will read it.")))


COMMENT_DIALOG: Dialog[MeetingComment] = Dialog(
    name=COMMENT,
    draft=MeetingComment,
    check=_check_feedback,
    steps=(
        Step(
            "comment",
            lambda ctx, d: ctx.t(
                "Thanks! Anything you want to add? Write a short comment, or press No thanks."
            ),
            parse=_read_comment,
            skip=Skip(None, label=N_("No thanks")),
        ),
    ),
    finish=_save_comment,
)


# --- Contributions ------------------------------------------------------------------------------


async def contribute(ctx: Context, args: str) -> None:
    _ = ctx.t
    first, _sep, rest = args.strip().partition(" ")
    if parse_id(first):
        meeting, _org = await _meeting(ctx, first)
        text = rest.strip()
    else:
        candidates = await _visible(
            ctx,
            await ctx.uow.meetings.upcoming(await _visible_org_ids(ctx), ctx.now, MAX_LISTED),
        )
        if len(candidates) != 1:
            raise Refusal(
                _(
                    "Write the meeting's number first, e.g. /bidrag 3 your text. /moten shows the numbers."
                )
            )
        meeting = candidates[0]
        text = args.strip()
    if meeting.cancelled:
        raise Refusal(_("That meeting has been cancelled. See what's coming with /moten."))
    if meeting.audience is Audience.MEMBERS and ctx.person.status is not Status.MEMBER:
        raise Refusal(_("This one is for members only. You are welcome at every open meeting!"))
    if not text:
        raise Refusal(_("Write your thoughts after the number, e.g. /bidrag 3 We need more buses."))
    if len(text) > MAX_TEXT:
        raise Refusal(_("That is a bit long: at most 2000 characters, please."))
    assert meeting.id is not None
    await ctx.uow.meetings.add_contribution(Contribution(meeting.id, ctx.person_id, text, ctx.now))
    await ctx.reply(
        message(
            _(
                "Thank you, {name}! Your contribution to {theme} is saved. The organisers can "
                "export it, with your name, as input to our policy work."
            ).format(name=ctx.person.display_name, theme=meeting.theme)
        )
    )


async def export_menu(ctx: Context, args: tuple[str, ...]) -> None:
    meeting, _org = await _organiser_meeting(ctx, args[0] if args else "")
    assert meeting.id is not None
    count = len(await ctx.uow.meetings.contributions(meeting.id))
    meeting_id = str(meeting.id)
    await ctx.reply(
        message(
            ctx.t.ngettext(
                "{n} contribution to {theme}. Export as:",
                "{n} contributions to {theme}. Export as:",
                count,
            ).format(n=count, theme=meeting.theme),
            buttons=[
                [
                    Button("Markdown", Action("meeting.export_as", (meeting_id, "md"))),
                    Button("CSV", Action("meeting.export_as", (meeting_id, "csv"))),
                ]
            ],
        )
    )


async def export_contributions(ctx: Context, args: tuple[str, ...]) -> None:
    if len(args) != 2 or args[1] not in ("md", "csv"):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    meeting, org = await _organiser_meeting(ctx, args[0])
    assert meeting.id is not None
    rows: list[tuple[datetime, str, str]] = []
    for item in await ctx.uow.meetings.contributions(meeting.id):
        person = await ctx.uow.people.get(item.person_id)
        rows.append((item.created_at, person.display_name if person else "", item.text))
    if args[1] == "csv":
        data = contributions_csv(meeting, org, rows)
        attachment = Attachment(f"contributions-{meeting.id}.csv", "text/csv", data)
    else:
        data = contributions_markdown(meeting, org, rows, ctx.t)
        attachment = Attachment(f"contributions-{meeting.id}.md", "text/markdown", data)
    await ctx.reply(
        MessageBuilder()
        .line(
            ctx.t.ngettext(
                "{n} contribution to {theme}.", "{n} contributions to {theme}.", len(rows)
            ).format(n=len(rows), theme=meeting.theme)
        )
        .attach(attachment)
        .build()
    )


CSV_HEADER = ("meeting", "theme", "organisation", "written_at", "author", "contribution")


def contributions_csv(
    meeting: Meeting, org: Organisation, rows: Sequence[tuple[datetime, str, str]]
) -> bytes:
    """UTF-8 CSV with a header row; times in the organisation's zone (ISO 8601)."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for written_at, author, text in rows:
        writer.writerow(
            (
                meeting.id,
                meeting.theme,
                org.name,
                written_at.astimezone(org.zone).isoformat(timespec="minutes"),
                author,
                text,
            )
        )
    return buffer.getvalue().encode("utf-8")


def contributions_markdown(
    meeting: Meeting,
    org: Organisation,
    rows: Sequence[tuple[datetime, str, str]],
    t: Translator,
) -> bytes:
    lines = [
        f"# {_md(meeting.theme)}",
        "",
        f"{_md(org.name)}, {when_span(meeting.starts_at, meeting.ends_at, org.zone, t)}",
        "",
    ]
    if meeting.questions:
        lines += [f"## {t('Discussion questions')}", ""]
        lines += [f"{n}. {_md(q)}" for n, q in enumerate(meeting.questions, start=1)]
        lines.append("")
    lines += [f"## {t('Contributions')}", ""]
    if not rows:
        lines.append(t("No contributions yet."))
    for written_at, author, text in rows:
        stamp = written_at.astimezone(org.zone).strftime("%Y-%m-%d %H:%M")
        lines.append(f"- **{_md(author)}** ({stamp}): {_md(text)}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _md(text: str) -> str:
    """Plain text that Markdown shows as written: no headings, links or emphasis from members."""
    escaped = "".join(f"\\{c}" if c in "\\`*_{}[]<>#|" else c for c in text)
    return " ".join(escaped.split())


# --- Timers ---------------------------------------------------------------------------------------


async def reminder_useful_until(fx: TimerContext, timer: Timer) -> datetime | None:
    meeting = await current(fx, timer.payload)
    minutes = timer.payload.get("minutes")
    if meeting is None or not isinstance(minutes, int):
        return None  # nothing to send anyway
    return await reminder_until(fx, meeting, minutes)


async def check_in_useful_until(fx: TimerContext, timer: Timer) -> datetime | None:
    """Checking in is worth asking for while the meeting lasts."""
    meeting = await current(fx, timer.payload)
    return meeting.ends_at if meeting is not None else None


async def reminder_due(fx: TimerContext, timer: Timer) -> None:
    meeting = await current(fx, timer.payload)
    minutes = timer.payload.get("minutes")
    if meeting is not None and isinstance(minutes, int):
        await send_reminders(fx, meeting, minutes)


async def check_in_due(fx: TimerContext, timer: Timer) -> None:
    meeting = await current(fx, timer.payload)
    if meeting is not None:
        await send_check_in(fx, meeting)


async def follow_up_due(fx: TimerContext, timer: Timer) -> None:
    meeting = await current(fx, timer.payload)
    if meeting is not None:
        await follow_up_all(fx, meeting)
