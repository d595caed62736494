"""Themed conversation meetings in chat: /moten, RSVP, check-in, attendance, rating,
contributions and their export, reminder settings, and the organiser's buttons.

Thin: the work is in `bot.meetings.service`, the wording in `bot.meetings.views`, the
dialogs (planning, changing, commenting) in `bot.meetings.dialogs`. Buttons declare their
arguments (`bot.actions`): the core loads the meeting, hides a members-only one from whoever
may not see it, and checks an organiser's permission in the meeting's organisation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.actions import STALE_BUTTON, Choice
from bot.consultations.capture import capture
from bot.context import Context, Effects, Refusal, TimerContext
from bot.domain.delivery import Timer
from bot.domain.people import Person, Status
from bot.i18n import N_, Translator
from bot.meetings import roster, views
from bot.meetings.dialogs import (
    COMMENT_DIALOG,
    EDIT_MEETING,
    MAX_TEXT,
    NEW_MEETING,
    MeetingComment,
    MeetingEdit,
    NewMeeting,
)
from bot.meetings.model import (
    FOLLOW_UP_USEFUL,
    Answer,
    Audience,
    Contribution,
    Feedback,
    Meeting,
    MeetingSettings,
    parse_reminder_offsets,
)
from bot.meetings.service import (
    CHECK_IN,
    FOLLOW_UP,
    MEETING,
    POSTED_MEETING,
    REMINDER,
    answer,
    answer_in_line,
    answered_count,
    cancel_meeting,
    find_meeting,
    hosting_orgs,
    org_of,
    reader_zone,
    reminder_minutes,
    reschedule_reminders,
    update_meeting,
    visible,
    visible_org_ids,
)
from bot.meetings.timers import (
    check_in_open,
    current,
    follow_up_all,
    record_attendance,
    reminder_until,
    send_check_in,
    send_follow_up,
    send_reminders,
)
from bot.meetings.views import EDIT_FIELDS, reminder_setting
from bot.messages import Attachment, OutgoingMessage, message
from bot.parsing import parse_id
from bot.permissions import Permission
from bot.registry import CommandSpec, Registry, within
from bot.render.calendar import calendar_bytes, meeting_filename

MAX_LISTED = 5
FIELDS = tuple(name for name, _label in EDIT_FIELDS)
EXPORTS = Choice("md", "csv")


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
    manage = Permission.MANAGE_MEETINGS
    registry.action("meeting.rsvp", rsvp, args=(POSTED_MEETING, Answer))
    registry.action("meeting.ics", send_ics, args=(MEETING,))
    registry.action("meeting.discard", keep_meeting, args=())
    registry.action("meeting.edit", edit_menu, manage, args=(MEETING,))
    registry.action("meeting.edit_field", edit_field, manage, args=(MEETING, Choice(*FIELDS)))
    registry.action("meeting.audience", toggle_audience, manage, args=(MEETING, str))
    registry.action("meeting.cancel", ask_cancel, manage, args=(MEETING,))
    registry.action("meeting.cancel_confirm", confirm_cancel, manage, args=(MEETING, str))
    registry.action("meeting.checkin", check_in, args=(MEETING,))
    registry.action("meeting.attendance", attendance_list, manage, args=(MEETING,))
    registry.action("meeting.attend", toggle_attendance, manage, args=(MEETING, int))
    registry.action("meeting.rate", rate, args=(MEETING, Choice("1", "2", "3", "4", "5")))
    registry.action("meeting.export", export_menu, manage, args=(MEETING,))
    registry.action("meeting.export_as", export_contributions, manage, args=(MEETING, EXPORTS))
    roster.setup(registry)  # the organiser's People: write to those coming, the name list
    registry.dialog(NEW_MEETING)
    registry.dialog(EDIT_MEETING)
    registry.dialog(COMMENT_DIALOG)
    registry.timer(REMINDER, reminder_due, useful_until=reminder_useful_until)
    registry.timer(CHECK_IN, check_in_due, useful_until=check_in_useful_until)
    registry.timer(FOLLOW_UP, follow_up_due, useful_until=within(FOLLOW_UP_USEFUL))
    registry.payload("meeting", show_meeting_payload)
    registry.before_erase(give_up_places)


# --- /moten ---------------------------------------------------------------------------


async def list_meetings(ctx: Context, args: str) -> None:
    if args.strip():  # /moten 3: one meeting, also after it has ended
        raw = args.strip().lstrip("#")
        await _show_card(ctx, await find_meeting(ctx, raw, to_group=not ctx.chat.is_private))
        return
    org_ids = await visible_org_ids(ctx)
    # Some may be hidden from this person: look further ahead, then keep the first few.
    found = await ctx.uow.meetings.upcoming(org_ids, ctx.now, 10 * MAX_LISTED) if org_ids else []
    meetings = (await visible(ctx, found))[:MAX_LISTED]
    if not meetings:
        await ctx.reply(message(ctx.t("No meetings are planned right now. Check again soon!")))
        return
    await ctx.reply(
        message(ctx.t("Coming up: answer with the buttons under each meeting."))
        if len(meetings) > 1
        else message(ctx.t("Coming up:"))
    )
    for meeting in meetings:
        await _show_card(ctx, meeting)


async def show_meeting_payload(ctx: Context, value: str) -> None:
    await _show_card(ctx, await find_meeting(ctx, value, to_group=not ctx.chat.is_private))


async def _show_card(ctx: Context, meeting: Meeting) -> None:
    assert meeting.id is not None
    org = await org_of(ctx, meeting)
    await ctx.reply(
        views.card(
            ctx.t,
            meeting,
            org,
            await reader_zone(ctx, ctx.person, org),
            await ctx.uow.meetings.rsvps(meeting.id),
            person_id=ctx.person_id,
            shut_out=_shut_out(ctx, meeting),
            organiser=ctx.chat.is_private
            and Permission.MANAGE_MEETINGS in await ctx.permissions(org),
        )
    )


def _shut_out(ctx: Context, meeting: Meeting) -> bool:
    """A guest at a members-only meeting."""
    return meeting.audience is Audience.MEMBERS and ctx.person.status is not Status.MEMBER


# --- RSVP -------------------------------------------------------------------------------


async def rsvp(ctx: Context, args: tuple[Any, ...]) -> None:
    meeting, wanted = args
    _ = ctx.t
    if meeting.cancelled:
        raise Refusal(_("That meeting has been cancelled. See what's coming with /moten."))
    if meeting.ends_at <= ctx.now:
        raise Refusal(_("That meeting is over. See what's coming with /moten."))
    if _shut_out(ctx, meeting):
        raise Refusal(views.members_only(_, meeting))
    assert meeting.id is not None
    result, number = await answer_in_line(ctx, meeting, ctx.person, wanted)
    org = await org_of(ctx, meeting)
    zone = await reader_zone(ctx, ctx.person, org)

    def build(t: Translator) -> OutgoingMessage:
        return views.answered(t, meeting, org, zone, result, number)

    if ctx.chat.is_private or ctx.answered_elsewhere:  # personal: privately, never in the group
        await ctx.reply(build(ctx.t))
    else:  # answered under a group post: confirm privately, not in front of everyone
        await ctx.notify(ctx.person, build, key=f"meeting:{meeting.id}:rsvp:{ctx.event_id}")


async def send_ics(ctx: Context, args: tuple[Any, ...]) -> None:
    (meeting,) = args
    data = calendar_bytes([(meeting, await org_of(ctx, meeting))], ctx.now)
    attachment = Attachment(meeting_filename(meeting), "text/calendar", data)
    await ctx.reply(views.calendar_file(ctx.t, meeting, attachment))


# --- Planning, changing and cancelling ----------------------------------------------------


async def new_meeting(ctx: Context, args: str) -> None:
    _ = ctx.t
    # In a group, only where the platform keeps the dialog for the organiser's eyes there
    # (Discord: its form, then ephemeral questions); elsewhere it would go on in private.
    if not ctx.chat.is_private and ctx.answered_elsewhere:
        raise Refusal(_("Let's plan it in private: write /nytt_mote to me directly."))
    hosts = await hosting_orgs(ctx)
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


async def edit_menu(ctx: Context, args: tuple[Any, ...]) -> None:
    (meeting,) = args
    if meeting.cancelled or meeting.ends_at <= ctx.now:
        raise Refusal(ctx.t("That meeting can no longer be changed."))
    await ctx.reply(views.edit_menu(ctx.t, meeting))


async def edit_field(ctx: Context, args: tuple[Any, ...]) -> None:
    meeting, name = args
    _ = ctx.t
    if meeting.cancelled or meeting.ends_at <= ctx.now:
        raise Refusal(_("That meeting can no longer be changed."))
    if not ctx.chat.is_private:
        raise Refusal(_("Let's do this in private: open /moten in your chat with me."))
    await EDIT_MEETING.start(ctx, MeetingEdit(meeting.id, name))


async def toggle_audience(ctx: Context, args: tuple[Any, ...]) -> None:
    meeting, version = args  # the version the button was made for, as written
    if meeting.cancelled or meeting.ends_at <= ctx.now or version != str(meeting.version):
        raise Refusal(ctx.t(STALE_BUTTON))  # pressed on a menu of an older version
    meeting.audience = Audience.OPEN if meeting.audience is Audience.MEMBERS else Audience.MEMBERS
    await update_meeting(ctx, meeting, ["audience"])
    await ctx.reply(views.changed_reply(ctx.t, await answered_count(ctx, meeting)))


async def keep_meeting(ctx: Context, args: tuple[Any, ...]) -> None:
    """ "No, keep it" to cancelling a meeting."""
    await ctx.reply(message(ctx.t("Okay, nothing was saved.")))


async def ask_cancel(ctx: Context, args: tuple[Any, ...]) -> None:
    (meeting,) = args
    if meeting.cancelled:
        raise Refusal(ctx.t("That meeting is already cancelled."))
    await ctx.reply(views.cancel_question(ctx.t, meeting, await answered_count(ctx, meeting)))


async def confirm_cancel(ctx: Context, args: tuple[Any, ...]) -> None:
    meeting, version = args  # the version the button was made for, as written
    if meeting.cancelled:
        raise Refusal(ctx.t("That meeting is already cancelled."))
    if version != str(meeting.version):
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
        await ctx.reply(message(reminder_setting(ctx.t, org, current_minutes)))
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
    await ctx.reply(message(reminder_setting(ctx.t, org, minutes)))


# --- Check-in, attendance, follow-up -----------------------------------------------------------


async def check_in(ctx: Context, args: tuple[Any, ...]) -> None:
    (meeting,) = args
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


async def attendance_list(ctx: Context, args: tuple[Any, ...]) -> None:
    (meeting,) = args
    await _show_attendance(ctx, meeting)


async def _show_attendance(ctx: Context, meeting: Meeting) -> None:
    assert meeting.id is not None
    present = {a.person_id for a in await ctx.uow.meetings.attendance(meeting.id)}
    answered = [
        r.person_id
        for r in await ctx.uow.meetings.rsvps(meeting.id)
        if r.answer is not Answer.DECLINED
    ]
    # Attendance of people since erased (None) is counted but never listed.
    people = [p for p in dict.fromkeys([*answered, *present]) if p is not None]
    named: list[tuple[int, str]] = []
    for person_id in people:
        person = await ctx.uow.people.get(person_id)
        if person is not None:
            named.append((person_id, person.display_name))
    await ctx.reply(views.attendance_list(ctx.t, meeting, named, present, len(people)))


async def toggle_attendance(ctx: Context, args: tuple[Any, ...]) -> None:
    meeting, person_id = args
    assert meeting.id is not None
    if meeting.starts_at - ctx.now > (meeting.ends_at - meeting.starts_at):
        raise Refusal(ctx.t("Attendance can be marked from the start of the meeting."))
    rsvp_ids = {r.person_id for r in await ctx.uow.meetings.rsvps(meeting.id)}
    present = {a.person_id for a in await ctx.uow.meetings.attendance(meeting.id)}
    if person_id not in rsvp_ids | present:
        raise Refusal(ctx.t(STALE_BUTTON))  # not someone who answered or came
    if person_id in present:
        await ctx.uow.meetings.remove_attendance(meeting.id, person_id)
    else:
        await record_attendance(ctx, meeting, person_id, confirmed_by=ctx.person_id)
        person = await ctx.uow.people.get(person_id)
        if person is not None and ctx.now >= meeting.ends_at:
            await send_follow_up(ctx, meeting, person)  # the follow-up they missed
    await _show_attendance(ctx, meeting)


async def rate(ctx: Context, args: tuple[Any, ...]) -> None:
    meeting, stars = args
    assert meeting.id is not None
    present = {a.person_id for a in await ctx.uow.meetings.attendance(meeting.id)}
    if ctx.person_id not in present:
        raise Refusal(ctx.t("Only those who were there can rate the meeting."))
    existing = await ctx.uow.meetings.feedback_of(meeting.id, ctx.person_id)
    if existing is None:
        await ctx.uow.meetings.add_feedback(
            Feedback(meeting.id, ctx.person_id, int(stars), ctx.now)
        )
    else:
        existing.rating, existing.given_at = int(stars), ctx.now
    await COMMENT_DIALOG.start(ctx, MeetingComment(meeting.id))


# --- Contributions ------------------------------------------------------------------------------


async def contribute(ctx: Context, args: str) -> None:
    _ = ctx.t
    first, _sep, rest = args.strip().partition(" ")
    if parse_id(first):
        meeting = await find_meeting(ctx, first)
        text = rest.strip()
    else:
        candidates = await visible(
            ctx,
            await ctx.uow.meetings.upcoming(await visible_org_ids(ctx), ctx.now, MAX_LISTED),
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
    if await capture(ctx, meeting, text):  # a meeting on a rådslag: for one of its questions
        return
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


async def export_menu(ctx: Context, args: tuple[Any, ...]) -> None:
    (meeting,) = args
    assert meeting.id is not None
    count = len(await ctx.uow.meetings.contributions(meeting.id))
    await ctx.reply(views.export_menu(ctx.t, meeting, count))


async def export_contributions(ctx: Context, args: tuple[Any, ...]) -> None:
    meeting, kind = args
    assert meeting.id is not None
    rows: list[tuple[datetime, str, str]] = []
    for item in await ctx.uow.meetings.contributions(meeting.id):
        person = await ctx.uow.people.get(item.person_id)
        rows.append((item.created_at, person.display_name if person else "", item.text))
    org = await org_of(ctx, meeting)
    await ctx.reply(views.contributions_export(ctx.t, meeting, org, rows, kind))


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


async def give_up_places(fx: Effects, person: Person) -> None:
    """Before erasure: a place (or a place in line) at a meeting still to come is declined,
    so the first one waiting moves up and is told."""
    assert person.id is not None
    held = (Answer.COMING, Answer.WAITLISTED)
    for meeting in await fx.uow.meetings.answered_by(person.id, held, fx.now):
        await answer(fx, meeting, person, Answer.DECLINED)
