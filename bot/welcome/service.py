"""The welcome flow's use cases: who welcomes whom, starting the month, its timers.

What other capabilities, the CLI and the demo may call, and what the welcome's
buttons act on (`FLOW`, `OWN_FLOW`, `ORG`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from bot.actions import Target
from bot.circles.model import EducationKind
from bot.circles.service import offer_circles, open_circles
from bot.context import Context, Effects, MessageFor, Refusal
from bot.domain.channels import EMAIL
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation, OrgKind
from bot.domain.people import Person, Role, Status
from bot.i18n import Translator
from bot.messages import OutgoingMessage, message
from bot.welcome import views
from bot.welcome.model import (
    FlowStatus,
    GuestInvitation,
    PlanStep,
    StepKind,
    WelcomeFlow,
    WelcomePlan,
    default_plan,
    parse_plan,
    step_due,
)

STEP_TIMER = "welcome.step"
REMINDER_TIMER = "welcome.contact_reminder"
CONFIRM_REMINDER_TIMER = "welcome.confirm_reminder"
ESCALATION_TIMER = "welcome.contact_escalation"
GUEST_TIMER = "welcome.guest_invitations"
GUEST_RUN_AT = time(4, 15)  # local time, once a day
GUEST_LOOKBACK = timedelta(days=365)

PLATFORM_NAMES = {
    "telegram": "Telegram",
    "discord": "Discord",
    "console": "console",
    EMAIL: "email",
}


# --- what the buttons act on ------------------------------------------------------------------


async def _own(ctx: Context, flow: WelcomeFlow) -> bool:
    return flow.person_id == ctx.person_id


# A new member's flow, for the organisers of the branch that welcomes them.
FLOW: Target[WelcomeFlow] = Target(
    load=lambda fx, flow_id: fx.uow.welcome.get(flow_id),
    org_id=lambda flow: flow.org_id,
)
# A member's own flow: nobody else's buttons act on it.
OWN_FLOW: Target[WelcomeFlow] = Target(
    load=lambda fx, flow_id: fx.uow.welcome.get(flow_id),
    org_id=lambda flow: flow.org_id,
    visible=_own,
)


def _org_id(org: Organisation) -> int:
    assert org.id is not None
    return org.id


ORG: Target[Organisation] = Target(load=lambda fx, org_id: fx.uow.orgs.get(org_id), org_id=_org_id)


# --- plans, organisations and people --------------------------------------------------------


async def plan_for(fx: Effects, org_id: int) -> WelcomePlan:
    """The plan of the organisation or its nearest ancestor with one, else the default."""
    for org in await fx.uow.orgs.lineage(org_id):
        assert org.id is not None
        stored = await fx.uow.welcome.plan_text(org.id)
        if stored is not None:
            return parse_plan(stored.text, f"the plan of {org.slug}")
    return default_plan()


async def branch_of(fx: Effects, org: Organisation) -> tuple[Organisation, Organisation | None]:
    """The branch that welcomes someone at this organisation, and their association if any."""
    if org.kind is OrgKind.ASSOCIATION and org.parent_id is not None:
        parent = await fx.uow.orgs.get(org.parent_id)
        if parent is not None:
            return parent, org
    return org, None


async def holders(fx: Effects, org: Organisation, roles: Sequence[Role]) -> list[Person]:
    """People holding one of these roles in the organisation, else in its nearest ancestor."""
    assert org.id is not None
    for level in await fx.uow.orgs.lineage(org.id):
        assert level.id is not None
        found = sorted(
            {
                p.id: p for p, role in await fx.uow.people.role_holders(level.id) if role in roles
            }.values(),
            key=lambda p: p.id or 0,
        )
        if found:
            return found
    return []


async def assign_officer(
    fx: Effects, branch: Organisation, association: Organisation | None
) -> Person | None:
    """The association's member officer, else the branch's member officers in turn."""
    if association is not None and association.id is not None:
        own = [
            p
            for p, role in await fx.uow.people.role_holders(association.id)
            if role is Role.MEMBER_OFFICER
        ]
        if own:
            return own[0]
    officers = await holders(fx, branch, (Role.MEMBER_OFFICER,))
    if not officers:
        return None
    assert branch.id is not None
    last = await fx.uow.welcome.last_officer(branch.id)
    ids = [p.id for p in officers]
    return officers[(ids.index(last) + 1) % len(officers)] if last in ids else officers[0]


async def reach(fx: Effects, person: Person) -> str:
    """How to reach someone: 'Telegram @nora', 'console nora'."""
    assert person.id is not None
    parts = []
    for identity in await fx.uow.people.identities_of(person.id):
        platform = PLATFORM_NAMES.get(identity.platform, identity.platform)
        handle = f"@{identity.username}" if identity.username else f"id {identity.external_id}"
        if identity.platform == EMAIL:
            handle = identity.external_id
        parts.append(f"{platform} {handle}")
    return ", ".join(parts) or "-"


async def flow_org(fx: Effects, flow: WelcomeFlow) -> Organisation:
    org = await fx.uow.orgs.get(flow.org_id)
    assert org is not None
    return org


async def person_of(fx: Effects, person_id: int | None) -> Person | None:
    return await fx.uow.people.get(person_id) if person_id is not None else None


async def is_officer(ctx: Context, flow: WelcomeFlow) -> bool:
    """Whether the person pressing is a member officer where this flow belongs."""
    org = await flow_org(ctx, flow)
    lineage = {o.id for o in await ctx.uow.orgs.lineage(org.id or 0)}
    return any(
        r.role is Role.MEMBER_OFFICER and r.org_id in lineage | {flow.association_id}
        for r in await ctx.uow.people.roles_of(ctx.person_id)
    )


async def privately(ctx: Context, text: OutgoingMessage) -> None:
    """Lists of members are sensitive: they go to the organiser's private chat, never a group."""
    if ctx.chat.is_private or ctx.answered_elsewhere:  # personal answers go there anyway
        await ctx.reply(text)
        return
    await ctx.notify(
        ctx.person, lambda t: text, key=f"welcome:list:{ctx.chat.platform}:{ctx.event_id}"
    )
    await ctx.reply(message(ctx.t("I have sent it to you in a private message.")))


# --- becoming a member ----------------------------------------------------------------------


async def flow_for(
    fx: Effects,
    flow: WelcomeFlow | None,
    person_id: int,
    branch: Organisation,
    association: Organisation | None,
) -> WelcomeFlow:
    """The person's flow, new (pending) or the one they had, now at this branch."""
    assert branch.id is not None
    if flow is None:
        return await fx.uow.welcome.add(
            WelcomeFlow(
                person_id=person_id,
                org_id=branch.id,
                association_id=association.id if association else None,
                status=FlowStatus.PENDING,
                created_at=fx.now,
            )
        )
    flow.org_id = branch.id
    return flow


async def ask_confirmation(ctx: Context, flow: WelcomeFlow, branch: Organisation) -> None:
    """Someone said they have joined: their member officer (else the organisers) is asked."""
    assert flow.id is not None and branch.id is not None
    officer = await person_of(ctx, flow.officer_id)
    ask = views.confirmation_question(
        ctx.person.display_name, await reach(ctx, ctx.person), branch, flow, reminder=False
    )
    deciders = [officer] if officer else await holders(ctx, branch, (Role.ORGANISER, Role.ADMIN))
    await ctx.notify_each(
        deciders,
        ask,
        key=f"welcome:{flow.id}:confirm:{flow.created_at.isoformat()}",
        about=ctx.person,
    )
    plan = await plan_for(ctx, branch.id)
    await ctx.schedule(
        f"welcome:{flow.id}:confirm:{flow.created_at.isoformat()}:reminder",
        CONFIRM_REMINDER_TIMER,
        ctx.now + timedelta(days=plan.confirm_reminder_days),
        {"flow": flow.id, "created": flow.created_at.isoformat()},
    )


async def remind_confirmation(fx: Effects, timer: Timer) -> None:
    """A join nobody has confirmed: the member officer and the branch's organisers are asked again."""
    flow = await fx.uow.welcome.get(int(timer.payload["flow"]))
    if flow is None or flow.status is not FlowStatus.PENDING:
        return
    if flow.created_at.isoformat() != timer.payload.get("created"):
        return  # they asked again later: that request has its own reminder
    person = await person_of(fx, flow.person_id)
    if person is None:
        return
    branch = await flow_org(fx, flow)
    ask = views.confirmation_question(
        person.display_name, await reach(fx, person), branch, flow, reminder=True
    )
    officer = await person_of(fx, flow.officer_id)
    asked = {p.id: p for p in await holders(fx, branch, (Role.ORGANISER, Role.ADMIN))}
    if officer is not None:
        asked[officer.id] = officer
    await fx.notify_each(
        asked.values(),
        ask,
        key=f"welcome:{flow.id}:confirm:{timer.payload['created']}:again",
        about=person,
    )


async def start(
    fx: Effects, flow: WelcomeFlow, person: Person, *, officer: Person | None
) -> Person | None:
    """Makes them a member and starts the introduction; returns their contact person."""
    assert flow.id is not None and person.id is not None
    branch = await flow_org(fx, flow)
    association = await fx.uow.orgs.get(flow.association_id) if flow.association_id else None
    if officer is None:
        officer = await person_of(fx, flow.officer_id) or await assign_officer(
            fx, branch, association
        )
    person.status = Status.MEMBER
    flow.status = FlowStatus.ACTIVE
    flow.started_at = fx.now
    flow.officer_id = officer.id if officer else None
    plan = await plan_for(fx, branch.id or 0)
    for step in plan.steps:
        await schedule_step(fx, flow, step, branch)
    await fx.schedule(
        f"welcome:{flow.id}:contact:reminder",
        REMINDER_TIMER,
        fx.now + timedelta(days=plan.reminder_after_days),
        {"flow": flow.id},
    )
    await fx.schedule(
        f"welcome:{flow.id}:contact:escalation",
        ESCALATION_TIMER,
        fx.now + timedelta(days=plan.escalate_after_days),
        {"flow": flow.id},
    )
    if officer is not None:
        build = views.officer_new(
            person.display_name,
            await reach(fx, person),
            branch,
            str(flow.id),
            plan.reminder_after_days,
        )
        await fx.notify(officer, build, key=f"welcome:{flow.id}:officer:new", about=person)
    return officer


async def confirm(ctx: Context, flow: WelcomeFlow, person: Person) -> None:
    # A member officer who confirms becomes the contact person; an organiser keeps the assigned one.
    me = ctx.person if await is_officer(ctx, flow) else None
    officer = await start(ctx, flow, person, officer=me)
    await privately(
        ctx,
        message(
            ctx.t(
                "Confirmed: {name} is a member now and gets the welcome. Contact person: {officer}."
            ).format(
                name=person.display_name,
                officer=officer.display_name if officer else ctx.t("no member officer yet"),
            )
        ),
    )


async def schedule_step(
    fx: Effects, flow: WelcomeFlow, step: PlanStep, branch: Organisation
) -> None:
    assert flow.started_at is not None
    due = step_due(step, flow.started_at, branch.zone) + timedelta(seconds=flow.paused_seconds)
    await fx.schedule(
        f"welcome:{flow.id}:{step.kind.value}",
        STEP_TIMER,
        max(due, fx.now),
        {"flow": flow.id, "step": step.kind.value},
    )


# --- the personal contact ---------------------------------------------------------------------


async def until_escalation(fx: Effects, timer: Timer) -> datetime | None:
    flow = await fx.uow.welcome.get(int(timer.payload["flow"]))
    if flow is None or flow.started_at is None:
        return None
    plan = await plan_for(fx, flow.org_id)
    return flow.started_at + timedelta(days=plan.escalate_after_days)


async def _uncontacted(fx: Effects, timer: Timer) -> tuple[WelcomeFlow, Person, int] | None:
    """The flow of a timer about the personal contact, if it is still wanted and missing."""
    flow = await fx.uow.welcome.get(int(timer.payload["flow"]))
    if flow is None or flow.contacted_at is not None or not _counts(flow):
        return None
    person = await person_of(fx, flow.person_id)
    if person is None:
        return None
    assert flow.started_at is not None
    return flow, person, (fx.now - flow.started_at).days


async def remind_officer(fx: Effects, timer: Timer) -> None:
    found = await _uncontacted(fx, timer)
    if found is None:
        return
    flow, person, days = found
    officer = await person_of(fx, flow.officer_id)
    if officer is None:
        return
    build = views.contact_reminder(person.display_name, days, await reach(fx, person), str(flow.id))
    await fx.notify(officer, build, key=f"welcome:{flow.id}:officer:reminder", about=person)


async def escalate(fx: Effects, timer: Timer) -> None:
    found = await _uncontacted(fx, timer)
    if found is None:
        return
    flow, person, days = found
    branch = await flow_org(fx, flow)
    officer = await person_of(fx, flow.officer_id)
    build = views.contact_escalation(
        person.display_name,
        branch,
        days,
        officer.display_name if officer else None,
        await reach(fx, person),
        str(flow.id),
    )
    await fx.notify_each(
        await holders(fx, branch, (Role.ORGANISER,)),
        build,
        key=f"welcome:{flow.id}:escalation",
        about=person,
    )


def _counts(flow: WelcomeFlow) -> bool:
    """A flow whose member still wants contact: running or completed, not stopped."""
    return flow.status in (FlowStatus.ACTIVE, FlowStatus.PAUSED, FlowStatus.COMPLETED)


# --- the steps ------------------------------------------------------------------------------


async def run_step(fx: Effects, timer: Timer) -> None:
    flow = await fx.uow.welcome.get(int(timer.payload["flow"]))
    kind = StepKind(str(timer.payload["step"]))
    if flow is None or flow.status is not FlowStatus.ACTIVE or kind.value in flow.steps_done:
        return
    person = await person_of(fx, flow.person_id)
    if person is None:
        return
    branch = await flow_org(fx, flow)
    plan = await plan_for(fx, branch.id or 0)
    step = plan.step(kind)
    if step is not None:
        build = await step_message(fx, kind, flow, person, branch)
        await fx.notify(
            person, views.with_note(build, step.note), key=f"welcome:{flow.id}:{kind.value}"
        )
        await tell_officer_of_email(fx, flow, person)
        if kind is StepKind.EDUCATION:
            # The open step-1 circles, each with its sign-up button, right after the offer.
            await offer_circles(
                fx,
                person,
                EducationKind.MEMBER_EDUCATION_1,
                key=f"welcome:{flow.id}:education:circles",
            )
    flow.steps_done = [*flow.steps_done, kind.value]
    if all(s.kind.value in flow.steps_done for s in plan.steps):
        flow.status = FlowStatus.COMPLETED
        flow.completed_at = fx.now


async def tell_officer_of_email(fx: Effects, flow: WelcomeFlow, person: Person) -> None:
    """Someone whose introduction reaches them by email: their contact person is told, once."""
    reached = await fx.reach(person)
    officer = await person_of(fx, flow.officer_id)
    if reached is None or reached.platform != EMAIL or officer is None:
        return
    build = views.officer_on_email(person.display_name, reached.external_id)
    await fx.notify(officer, build, key=f"welcome:{flow.id}:officer:email", about=person)


async def step_message(
    fx: Effects, kind: StepKind, flow: WelcomeFlow, person: Person, branch: Organisation
) -> MessageFor:
    """A step's message: what it needs is read now, the words in the member's language."""
    assert branch.id is not None
    flow_id = str(flow.id)
    if kind is StepKind.WELCOME:
        officer = await person_of(fx, flow.officer_id)
        officer_name = officer.display_name if officer else None
        officer_reach = await reach(fx, officer) if officer else ""
        name = person.display_name
        return lambda t: views.welcome_step(t, branch, name, officer_name, officer_reach, flow_id)
    if kind is StepKind.INTERESTS:
        return lambda t: views.interests_question(t, flow_id)
    if kind is StepKind.ASSOCIATION:
        association = await fx.uow.orgs.get(flow.association_id) if flow.association_id else None
        choices = [
            o
            for o in await fx.uow.orgs.subtree(branch.id)
            if o.kind is OrgKind.ASSOCIATION and o.parent_id == branch.id
        ]
        return lambda t: views.association_step(t, branch, association, choices, flow_id)
    if kind is StepKind.MEETING:
        org_ids = [o.id for o in await fx.uow.orgs.subtree(branch.id) if o.id is not None]
        org_ids += [o.id for o in await fx.uow.orgs.lineage(branch.id) if o.id is not None]
        upcoming = [
            m for m in await fx.uow.meetings.upcoming(org_ids, fx.now) if m.is_open_to_guests()
        ]
        meeting = upcoming[0] if upcoming else None
        host = await fx.uow.orgs.get(meeting.org_id) if meeting else None
        if meeting is not None:
            flow.meeting_invited_at = fx.now
        return lambda t: views.meeting_step(t, meeting, host, branch.zone)
    if kind is StepKind.EDUCATION:
        flow.education_offered_at = fx.now
        circles_open = bool(await open_circles(fx, person, EducationKind.MEMBER_EDUCATION_1))
        return lambda t: views.education_step(t, circles_open, flow_id)
    return lambda t: views.checkin_question(t, flow_id)


# --- the member's answers, pause and stop ---------------------------------------------------


def running(ctx: Context, flow: WelcomeFlow) -> WelcomeFlow:
    """The member's own flow, if their introduction has begun and not been stopped."""
    if flow.status in (FlowStatus.PENDING, FlowStatus.DECLINED, FlowStatus.STOPPED):
        raise Refusal(ctx.t("Your introduction is not running. Write /introduktion to see it."))
    return flow


async def finish_checkin(ctx: Context, flow: WelcomeFlow, wish: str | None) -> None:
    first = flow.checkin_answered_at is None
    flow.checkin_wish, flow.checkin_answered_at = wish, ctx.now
    officer = await person_of(ctx, flow.officer_id)
    await ctx.reply(
        message(
            ctx.t(
                "Thank you! I am passing it on to {officer}, your contact person. That was the "
                "last step of your introduction: it is good to have you with us!"
            ).format(officer=officer.display_name if officer else ctx.t("the branch"))
        )
    )
    if officer is None or not first:
        return
    build = views.checkin_summary(ctx.person.display_name, flow)
    await ctx.notify(officer, build, key=f"welcome:{flow.id}:officer:checkin", about=ctx.person)


async def pause(ctx: Context, flow: WelcomeFlow) -> None:
    if flow.status is not FlowStatus.ACTIVE:
        raise Refusal(ctx.t("Your introduction is not running. Write /introduktion to see it."))
    flow.status, flow.paused_at = FlowStatus.PAUSED, ctx.now
    for kind in StepKind:
        if kind.value not in flow.steps_done:
            await ctx.uow.timers.cancel(f"welcome:{flow.id}:{kind.value}")


async def resume(ctx: Context, flow: WelcomeFlow) -> None:
    if flow.status is not FlowStatus.PAUSED or flow.paused_at is None:
        raise Refusal(ctx.t("Your introduction is not paused."))
    flow.paused_seconds += int((ctx.now - flow.paused_at).total_seconds())
    flow.status, flow.paused_at = FlowStatus.ACTIVE, None
    branch = await flow_org(ctx, flow)
    for step in (await plan_for(ctx, branch.id or 0)).steps:
        if step.kind.value not in flow.steps_done:
            await schedule_step(ctx, flow, step, branch)


async def stop(ctx: Context, flow: WelcomeFlow) -> None:
    """No more introduction messages, and no more reminders to the contact person."""
    if flow.status not in (FlowStatus.ACTIVE, FlowStatus.PAUSED):
        raise Refusal(ctx.t("Your introduction is not running. Write /introduktion to see it."))
    flow.status, flow.stopped_at, flow.paused_at = FlowStatus.STOPPED, ctx.now, None
    for kind in StepKind:
        await ctx.uow.timers.cancel(f"welcome:{flow.id}:{kind.value}")
    await ctx.uow.timers.cancel(f"welcome:{flow.id}:contact:reminder")
    await ctx.uow.timers.cancel(f"welcome:{flow.id}:contact:escalation")


async def tell_officer_stopped(ctx: Context, flow: WelcomeFlow) -> None:
    officer = await person_of(ctx, flow.officer_id)
    if officer is None:
        return
    name = ctx.person.display_name

    def build(t: Translator) -> OutgoingMessage:
        return message(
            t(
                "{name} has stopped the introduction messages. I will not remind you about them any more."
            ).format(name=name)
        )

    await ctx.notify(officer, build, key=f"welcome:{flow.id}:officer:stopped", about=ctx.person)


# --- inviting guests who keep coming ----------------------------------------------------------


async def invite_guests(fx: Effects, timer: Timer) -> None:
    """Once a day: a guest who has come to enough open activities is invited to join, once."""
    org_ids = [o.id for o in await fx.uow.orgs.list_all() if o.id is not None]
    records = await fx.uow.meetings.attendance_in(org_ids, fx.now - GUEST_LOOKBACK, fx.now)
    open_meeting: dict[int, bool] = {}
    attended: dict[int, set[int]] = {}
    for record in records:
        if record.meeting_id not in open_meeting:
            meeting = await fx.uow.meetings.get(record.meeting_id)
            open_meeting[record.meeting_id] = meeting is not None and meeting.is_open_to_guests()
        if open_meeting[record.meeting_id] and record.person_id is not None:
            attended.setdefault(record.person_id, set()).add(record.meeting_id)
    for person_id, meetings in sorted(attended.items()):
        person = await fx.uow.people.get(person_id)
        if person is None or person.status is not Status.GUEST:
            continue
        if await fx.uow.welcome.guest_invited(person_id):
            continue
        if not any(c.withdrawn_at is None for c in await fx.uow.people.consents_of(person_id)):
            continue
        home = await fx.home_org(person)
        if home is None or home.id is None:
            continue
        plan = await plan_for(fx, home.id)
        if len(meetings) < plan.invite_after_activities:
            continue
        await fx.uow.welcome.add_guest_invitation(GuestInvitation(person_id, fx.now))
        await fx.notify(
            person,
            views.guest_invitation(person.display_name, len(meetings), home, fx.settings.join_url),
            key=f"welcome:guest:{person_id}",
        )


# The welcome's measures in words, for the insights' figures too.
figure_lines = views.figure_lines
