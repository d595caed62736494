"""The meetings' dialogs: planning a meeting (/nytt_mote), changing one field of it, and the
comment after a rating. Declared with `bot.dialogs`; the work is in `bot.meetings.service`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.context import Context, Refusal
from bot.dialogs import Choice, Confirm, Dialog, DialogOver, Repeat, Skip, Step, draft_org
from bot.domain.organisations import Organisation
from bot.formatting import when_span
from bot.forms import Field, Form
from bot.i18n import N_
from bot.meetings.model import (
    Audience,
    Meeting,
    check_times,
    parse_capacity,
    parse_end,
    parse_when,
    split_place,
)
from bot.meetings.service import (
    MeetingDraft,
    answered_count,
    create_meeting,
    find_meeting,
    hosting_orgs,
    organiser_org,
    post_questions,
    reader_zone,
    update_meeting,
)
from bot.meetings.views import changed_reply
from bot.messages import MessageBuilder, bold, message
from bot.parsing import parse_id
from bot.permissions import Permission
from bot.timeread import Problem, TimeReadError

NEW = "meeting.new"
EDIT = "meeting.edit"
COMMENT = "meeting.comment"
MAX_QUESTIONS = 10
MAX_THEME = 200
MAX_TEXT = 2000
MAX_HOSTS = 8


# --- Reading what organisers type -----------------------------------------------------------


def _read_theme(ctx: Context, value: str, draft: object) -> str:
    if len(value) > MAX_THEME:
        raise Refusal(ctx.t("Write the theme in a few words (at most 200 characters)."))
    return value


def _read_text(ctx: Context, value: str, draft: object) -> str:
    if len(value) > MAX_TEXT:
        raise Refusal(ctx.t("That is a bit long: at most 2000 characters, please."))
    return value


def _read_question(ctx: Context, value: str, draft: object) -> list[str]:
    """One discussion question (a list step's answer adds one), for a new or a changed meeting."""
    return [_read_text(ctx, value, draft)]


def _read_place(ctx: Context, value: str, draft: object) -> str:
    if len(value) > 300:
        raise Refusal(ctx.t("Write an address, or paste a link that starts with https://."))
    return value


def _read_places(ctx: Context, value: str, draft: object) -> int | None:
    try:
        return parse_capacity(value)
    except ValueError:
        raise Refusal(ctx.t("Write the number of places, e.g. 20, or press No limit.")) from None


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


# --- Planning a meeting -------------------------------------------------------------------


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
    return await draft_org(ctx, draft.org_id)


async def _host_choices(ctx: Context, draft: NewMeeting) -> list[list[Choice]]:
    return [[Choice(org.name, str(org.id))] for org in (await hosting_orgs(ctx))[:MAX_HOSTS]]


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
    zone = await reader_zone(ctx, ctx.person, org)
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
            parse=_read_question,
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


# --- Changing one field -----------------------------------------------------------------------


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
    # `field` above names the step, so the list's default comes from the module itself.
    questions: list[str] = dataclasses.field(default_factory=list)


async def _editable(ctx: Context, edit: MeetingEdit) -> tuple[Meeting, Organisation]:
    try:
        meeting = await find_meeting(ctx, str(edit.meeting_id))
        org = await organiser_org(ctx, meeting)
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
            zone = await reader_zone(ctx, ctx.person, org)
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
        case "questions" if edit.questions:
            return _("Next question, or Done.")
        case "questions":
            now = "\n".join(f"{n}. {q}" for n, q in enumerate(meeting.questions, start=1))
            prompt = _(
                "New discussion questions? Write them one message at a time, then press Done; "
                "they replace the ones there are now (Done at once removes them)."
            )
            if now:
                prompt = _("Discussion questions now:") + "\n" + now + "\n" + prompt
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
    meeting, org = await _editable(ctx, edit)
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
        case "questions":
            meeting.questions = list(edit.questions)
        case "capacity":
            meeting.capacity = edit.capacity
    await update_meeting(ctx, meeting, [edit.field])
    if edit.field == "questions" and meeting.questions:
        await post_questions(ctx, meeting, org)  # the new questions start the talk anew
    await ctx.reply(changed_reply(ctx.t, await answered_count(ctx, meeting)))


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
            "questions",
            _edit_prompt,
            parse=_read_question,
            repeat=Repeat(at_most=MAX_QUESTIONS),
            ask_if=_asked_for("questions"),
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


# --- The comment after a rating ---------------------------------------------------------------


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
