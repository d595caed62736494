"""/ny_cirkel: the declared dialog that creates a study circle, its steps and their parsers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.circles.model import (
    CircleSession,
    EducationKind,
    InputError,
    PlannedSession,
    default_deadline,
    parse_date,
    parse_range,
    parse_sessions,
)
from bot.circles.service import CircleDraft, create_circle
from bot.circles.views import describe, kind_name, rule_text
from bot.context import Context, Refusal
from bot.dialogs import Choice, Confirm, Dialog, Skip, Step, draft_org
from bot.domain.organisations import Organisation
from bot.i18n import N_
from bot.messages import MessageBuilder, bold, message
from bot.permissions import Permission, permissions_in

DIALOG = "circle.new"


async def host_org(ctx: Context) -> Organisation:
    """Where a new circle belongs: the group's organisation, or in private the organisation
    (from the home one upwards) where the person holds the role that lets them run circles."""
    if ctx.org is None or ctx.org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    if not ctx.chat.is_private:
        return ctx.org
    roles = await ctx.uow.people.roles_of(ctx.person_id)
    for org in await ctx.uow.orgs.lineage(ctx.org.id):
        if org.id is not None and Permission.MANAGE_CIRCLES in permissions_in([org.id], roles):
            return org
    return ctx.org


@dataclass
class NewCircle:
    """What the organiser has answered so far in /ny_cirkel."""

    org: int
    title: str = ""
    kind: EducationKind = EducationKind.MEMBER_EDUCATION_1
    description: str = ""
    material: str = ""
    leader: int | None = None
    sessions: list[tuple[datetime, datetime]] = field(default_factory=list)
    place: str | None = None
    link: str | None = None
    range: tuple[int, int] = (0, 0)
    deadline: datetime | None = None


async def _circle_org(ctx: Context, draft: NewCircle) -> Organisation:
    return await draft_org(ctx, draft.org)


async def _title_prompt(ctx: Context, draft: NewCircle) -> str:
    org = await _circle_org(ctx, draft)
    return (
        ctx.t("A new study circle in {org}.").format(org=org.name)
        + "\n"
        + ctx.t("What is its title? For example: Medlemsutbildning steg 1")
    )


def _read_title(ctx: Context, value: str, draft: NewCircle) -> str:
    if len(value) > 120:
        raise Refusal(ctx.t("Keep the title under 120 characters."))
    return value


def _read_about(ctx: Context, value: str, draft: NewCircle) -> str:
    if len(value) > 2000:
        raise Refusal(ctx.t("That is too long; keep it under 2000 characters."))
    return value


async def _read_leader(ctx: Context, value: str, draft: NewCircle) -> int:
    return await ctx.person_named(await _circle_org(ctx, draft), value)


async def _read_sessions(
    ctx: Context, value: str, draft: NewCircle
) -> list[tuple[datetime, datetime]]:
    org = await _circle_org(ctx, draft)
    try:
        sessions = parse_sessions(value, org.zone, ctx.now)
    except InputError as error:
        raise input_refusal(ctx, error) from error
    return [(s.starts_at, s.ends_at) for s in sessions]


def _read_place(ctx: Context, value: str, draft: NewCircle) -> str:
    if len(value) > 300:
        raise Refusal(ctx.t("Keep the place under 300 characters."))
    return value


def _store_place(draft: NewCircle, value: str) -> None:
    is_link = value.lower().startswith(("http://", "https://"))
    draft.place, draft.link = (None, value) if is_link else (value, None)


def _read_range(ctx: Context, value: str, draft: NewCircle) -> tuple[int, int]:
    try:
        return parse_range(value)
    except InputError as error:
        raise input_refusal(ctx, error) from error


async def _read_last_day(ctx: Context, value: str, draft: NewCircle) -> datetime:
    org = await _circle_org(ctx, draft)
    first = draft.sessions[0][0]
    try:
        last_day = parse_date(value, ctx.now.astimezone(org.zone).date())
    except InputError as error:
        raise input_refusal(ctx, error) from error
    deadline = datetime.combine(last_day, time(23, 59), org.zone).astimezone(ZoneInfo("UTC"))
    if deadline > first:
        raise Refusal(ctx.t("The last day to sign up must be before the first session."))
    return _future_deadline(ctx, deadline)


def _week_before(ctx: Context, draft: NewCircle) -> datetime:
    return _future_deadline(ctx, default_deadline(draft.sessions[0][0]))


def _future_deadline(ctx: Context, deadline: datetime) -> datetime:
    if deadline <= ctx.now:
        raise Refusal(ctx.t("The last day to sign up must be in the future."))
    return deadline


def input_refusal(ctx: Context, error: InputError) -> Refusal:
    texts = {
        "date": ctx.t("I can't read that date. Write e.g. 10/3 or 2026-03-10."),
        "time": ctx.t("I can't read that time. Write e.g. 18:00."),
        "span": ctx.t("Write the time as start-end, e.g. 18:00-20:15."),
        "sessions": ctx.t(
            "I can't read that. Write e.g. '10/3 18:00-20:15' or '10/3 18:00-20:15 x4'."
        ),
        "end_before_start": ctx.t("A session must end after it starts."),
        "overlap": ctx.t("Two sessions overlap. Check the dates and times."),
        "past": ctx.t("The sessions must be in the future."),
        "too_many_sessions": ctx.t("That is too many sessions; at most 30."),
        "range": ctx.t("Write two numbers, the smallest first, e.g. 4-12."),
    }
    if error.cause is not None and error.code not in texts:
        return Refusal(error.cause.explain(ctx.t))
    return Refusal(texts.get(error.code, texts["sessions"]))


def _draft(form: NewCircle, created_by: int) -> CircleDraft:
    assert form.leader is not None
    return CircleDraft(
        org_id=form.org,
        title=form.title,
        kind=form.kind,
        sessions=[PlannedSession(start, end) for start, end in form.sessions],
        min_participants=form.range[0],
        max_participants=form.range[1],
        signup_deadline=form.deadline,
        description=form.description,
        material=form.material,
        place=form.place,
        link=form.link,
        leader_id=form.leader,
        created_by=created_by,
    )


async def _summary(ctx: Context, form: NewCircle) -> MessageBuilder:
    t = ctx.t
    org = await _circle_org(ctx, form)
    draft = _draft(form, ctx.person_id)
    leader = await ctx.uow.people.get(draft.leader_id) if draft.leader_id else None
    text = MessageBuilder().line(bold(t("Check the circle before I create it:")))
    text.line(bold(draft.title))
    preview = draft.as_circle()
    sessions = [CircleSession(0, s.starts_at, s.ends_at) for s in draft.sessions]
    describe(text, t, preview, org, sessions, leader, [])
    text.line(
        t.ngettext(
            "At least {min} participant for the circle to start.",
            "At least {min} participants for the circle to start.",
            draft.min_participants,
        ).format(min=draft.min_participants)
    )
    warnings = draft.rule_warnings()
    if warnings:
        text.paragraph(
            bold(t("Warning: the study association will not count this circle as it is:"))
        )
        for warning in warnings:
            text.line(f"• {rule_text(t, warning)}")
    return text


async def _create(ctx: Context, form: NewCircle) -> None:
    org = await _circle_org(ctx, form)
    await ctx.require(Permission.MANAGE_CIRCLES, org)
    draft = _draft(form, ctx.person_id)
    if draft.signup_deadline is not None and draft.signup_deadline <= ctx.now:
        raise Refusal(ctx.t("The last day to sign up must be in the future."))
    circle = await create_circle(ctx, draft)
    await ctx.reply(
        message(
            ctx.t(
                "Created: {title} (number {id}). It is announced in the group chat, where it has "
                "its own thread. Members sign up with /cirklar."
            ).format(title=circle.title, id=circle.id)
        )
    )


NEW_CIRCLE: Dialog[NewCircle] = Dialog(
    name=DIALOG,
    draft=NewCircle,
    command="ny_cirkel",
    steps=(
        Step("title", _title_prompt, parse=_read_title),
        Step(
            "kind",
            lambda ctx, d: ctx.t("What kind of education is it?"),
            parse=lambda ctx, value, d: EducationKind(value),
            choices=lambda ctx, d: [[Choice(kind_name(ctx.t, k), k.value)] for k in EducationKind],
            typed=False,
        ),
        Step(
            "description",
            lambda ctx, d: ctx.t("Describe the circle in a sentence or two."),
            parse=_read_about,
            skip=Skip(""),
        ),
        Step(
            "material",
            lambda ctx, d: ctx.t("Which study material do you use?"),
            parse=_read_about,
            skip=Skip(""),
        ),
        Step(
            "leader",
            lambda ctx, d: ctx.t("Who leads it? Write their name, or 'jag' if it is you."),
            parse=_read_leader,
        ),
        Step(
            "sessions",
            lambda ctx, d: ctx.t(
                "When does it meet? One session per line, e.g. '10/3 18:00-20:15', or a weekly "
                "series: '10/3 18:00-20:15 x4'."
            ),
            parse=_read_sessions,
        ),
        Step(
            "place",
            lambda ctx, d: ctx.t("Where? An address, or a link for a digital circle."),
            parse=_read_place,
            store=_store_place,
        ),
        Step(
            "range",
            lambda ctx, d: ctx.t(
                "How many participants, at least and at most, not counting the leader? E.g. 4-12"
            ),
            parse=_read_range,
        ),
        Step(
            "deadline",
            lambda ctx, d: ctx.t("Last day to sign up? E.g. 3/3."),
            parse=_read_last_day,
            skip=Skip(compute=_week_before, label=N_("A week before the first session")),
        ),
    ),
    confirm=Confirm(_summary, save=N_("Create the circle"), discard=N_("Discard")),
    finish=_create,
)
