"""The new-member welcome flow: personal contact and the digital introduction in the first month.

A person becomes a new member when an organiser or member officer registers
them (/ny_medlem), or when they come through a member join link
(`/start member_<slug>`), say they have just joined, and a member officer
confirms it. Then the plan's steps fall due as timers (`welcome:<flow>:<step>`),
the member officer is told and asked to confirm the personal contact, and is
reminded, then the branch's organisers are told, when it has not happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from babel.numbers import format_decimal

from bot.circles.model import EducationKind
from bot.circles.service import offer_circles, open_circles
from bot.context import Context, Effects, MessageFor, Refusal
from bot.dialogs import Dialog, DialogOver, Skip, Step
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation, OrgKind
from bot.domain.people import Affiliation, Person, Role, Status
from bot.formatting import day
from bot.i18n import N_, Translator, plural_form
from bot.meetings.service import add_facts, rsvp_buttons
from bot.messages import Action, Button, MessageBuilder, OutgoingMessage, bold, link, message
from bot.permissions import Permission
from bot.registry import Access, CommandSpec, Registry, always
from bot.welcome.model import (
    CHECKIN_DONE,
    INTERESTS,
    WAYS,
    FlowStatus,
    GuestInvitation,
    PlanStep,
    StepKind,
    WelcomeFlow,
    WelcomePlan,
    default_plan,
    parse_plan,
    step_due,
    welcome_figures,
)

STEP_TIMER = "welcome.step"
REMINDER_TIMER = "welcome.contact_reminder"
CONFIRM_REMINDER_TIMER = "welcome.confirm_reminder"
ESCALATION_TIMER = "welcome.contact_escalation"
GUEST_TIMER = "welcome.guest_invitations"
GUEST_RUN_AT = time(4, 15)  # local time, once a day
GUEST_LOOKBACK = timedelta(days=365)
WISH_DIALOG = "welcome.wish"
MAX_WISH = 1000

PLATFORM_NAMES = {"telegram": "Telegram", "discord": "Discord", "console": "console"}

STEP_NAMES = {
    StepKind.WELCOME: N_("welcome"),
    StepKind.INTERESTS: N_("interests"),
    StepKind.ASSOCIATION: N_("local association"),
    StepKind.MEETING: N_("next open meeting"),
    StepKind.EDUCATION: N_("member education"),
    StepKind.CHECKIN: N_("check-in after a month"),
}


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "ny_medlem",
            "newmember",
            N_("Register a new member and start their welcome"),
            register_member,
            Permission.MANAGE_NEW_MEMBERS,
            usage=N_("<name>"),
        )
    )
    registry.command(
        CommandSpec(
            "nya_medlemmar",
            "newmembers",
            N_("New members: contact, introduction and the figures"),
            list_new_members,
            Permission.MANAGE_NEW_MEMBERS,
        )
    )
    registry.command(
        CommandSpec(
            "intresse",
            "interest",
            N_("Find members by interest who welcome a task"),
            find_by_interest,
            Permission.MANAGE_NEW_MEMBERS,
            usage=N_("[interest]"),
        )
    )
    registry.command(
        CommandSpec(
            "introduktion",
            "introduction",
            N_("Your introduction as a new member: pause or stop it"),
            show_introduction,
            Access.MEMBER,
        )
    )
    registry.payload("member", member_link)
    for name, handler in (
        ("welcome.joined", said_joined),
        ("welcome.curious", said_curious),
        ("welcome.confirm", confirm_membership),
        ("welcome.not_found", membership_not_found),
        ("welcome.contacted", contacted),
        ("welcome.interest", toggle_interest),
        ("welcome.interests_done", interests_done),
        ("welcome.way", toggle_way),
        ("welcome.ways_done", ways_done),
        ("welcome.tasks", answer_tasks),
        ("welcome.association", choose_association),
        ("welcome.education", want_education),
        ("welcome.checkin", toggle_checkin),
        ("welcome.checkin_done", checkin_done),
        ("welcome.pause", pause),
        ("welcome.resume", resume),
        ("welcome.stop", stop),
        ("welcome.find", find_button),
    ):
        registry.action(name, handler, Access.CONSENTED)
    registry.dialog(WISH)
    # The month's steps and the officers' reminders stay useful however late: each is
    # built when sent (the next meeting then, "N days ago" counted from now). The officer's
    # own reminder makes way for the escalation once that falls due.
    registry.timer(STEP_TIMER, run_step, useful_until=always)
    registry.timer(REMINDER_TIMER, remind_officer, useful_until=until_escalation)
    registry.timer(ESCALATION_TIMER, escalate, useful_until=always)
    registry.timer(CONFIRM_REMINDER_TIMER, remind_confirmation, useful_until=always)
    registry.daily("welcome:guests", GUEST_TIMER, GUEST_RUN_AT, invite_guests)


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
        parts.append(f"{platform} {handle}")
    return ", ".join(parts) or "-"


def labels(t: Translator, chosen: Sequence[str], options: dict[str, str]) -> str:
    return ", ".join(t(options[key]) for key in options if key in chosen)


async def _flow_org(fx: Effects, flow: WelcomeFlow) -> Organisation:
    org = await fx.uow.orgs.get(flow.org_id)
    assert org is not None
    return org


async def _person(fx: Effects, person_id: int | None) -> Person | None:
    return await fx.uow.people.get(person_id) if person_id is not None else None


# --- becoming a member ----------------------------------------------------------------------


async def register_member(ctx: Context, args: str) -> None:
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    name = args.strip().lstrip("@")
    if not name:
        raise Refusal(ctx.t("Write the new member's name, e.g. /ny_medlem nora."))
    subtree = {o.id: o for o in await ctx.uow.orgs.subtree(org.id) if o.id is not None}
    matches = await ctx.uow.people.find_in_orgs(list(subtree), name)
    if len(matches) != 1:
        raise Refusal(
            ctx.t(
                "I found no one called {name} in {org}. They need to write /start to me first, "
                "e.g. through the organisation's join link."
            ).format(name=name, org=org.name)
            if not matches
            else ctx.t("Several people match {name}; write their username.").format(name=name)
        )
    person = matches[0]
    assert person.id is not None
    if person.id == ctx.person_id:
        raise Refusal(
            ctx.t(
                "You can't register yourself as a new member. Write the name of the person "
                "who has just joined, e.g. /ny_medlem nora."
            )
        )
    flow = await ctx.uow.welcome.of_person(person.id)
    if flow is not None and flow.status is FlowStatus.PENDING:
        await _confirm(ctx, flow, person)
        return
    if flow is not None and flow.status is not FlowStatus.DECLINED:
        await _privately(
            ctx,
            message(
                ctx.t("{name} is already registered as a new member.").format(
                    name=person.display_name
                )
            ),
        )
        return
    if person.status is Status.MEMBER:
        # An introduction for someone who has long been a member would count them as new.
        await _privately(
            ctx,
            message(
                ctx.t(
                    "{name} is already a member, so there is no introduction to start. "
                    "/ny_medlem is for people who have just joined the party."
                ).format(name=person.display_name)
            ),
        )
        return
    home = next(
        (
            subtree[a.org_id]
            for a in await ctx.uow.people.affiliations_of(person.id)
            if a.org_id in subtree
        ),
        org,
    )
    branch, association = await branch_of(ctx, home)
    assert branch.id is not None
    if flow is None:
        flow = await ctx.uow.welcome.add(
            WelcomeFlow(
                person_id=person.id,
                org_id=branch.id,
                association_id=association.id if association else None,
                status=FlowStatus.PENDING,
                created_at=ctx.now,
                registered_by=ctx.person_id,
            )
        )
    else:
        flow.org_id = branch.id
        flow.registered_by = ctx.person_id
    officer = await _start(ctx, flow, person, officer=None)
    await _privately(
        ctx,
        message(
            ctx.t(
                "{name} is registered as a new member of {org}. Contact person: {officer}. "
                "The introduction has begun."
            ).format(
                name=person.display_name,
                org=branch.name,
                officer=officer.display_name if officer else ctx.t("no member officer yet"),
            )
        ),
    )


async def member_link(ctx: Context, slug: str) -> None:
    """`/start member_<slug>`: the join link a new member gets; they tell us they have joined."""
    org = await ctx.uow.orgs.by_slug(slug)
    if org is None or org.id is None:
        await ctx.reply(message(ctx.t("That link is not valid any more. Ask for a new one.")))
        return
    await ctx.uow.people.affiliate(Affiliation(ctx.person_id, org.id, since=ctx.now))
    flow = await ctx.uow.welcome.of_person(ctx.person_id)
    if flow is not None and flow.status is FlowStatus.PENDING:
        await ctx.reply(
            message(ctx.t("Thank you! A member officer will confirm your membership soon."))
        )
        return
    if ctx.person.status is Status.MEMBER or (flow is not None and flow.running):
        await ctx.reply(
            message(
                ctx.t("Welcome, {name}! You now follow {org}.").format(
                    name=ctx.person.display_name, org=org.name
                )
            )
        )
        return
    await ctx.reply(
        message(
            ctx.t("Welcome to {org}! Have you just become a member of the party?").format(
                org=org.name
            ),
            buttons=[
                [
                    Button(
                        ctx.t("Yes, I have just joined"), Action("welcome.joined", (str(org.id),))
                    )
                ],
                [Button(ctx.t("No, I'm curious"), Action("welcome.curious", (str(org.id),)))],
            ],
        )
    )


async def said_curious(ctx: Context, args: tuple[str, ...]) -> None:
    await ctx.reply(
        message(
            ctx.t(
                "Welcome! As a guest you are welcome at every open activity and conversation: "
                "see /moten. Whenever you want to join the party, just ask us."
            )
        )
    )


async def said_joined(ctx: Context, args: tuple[str, ...]) -> None:
    org = (
        await ctx.uow.orgs.get(int(args[0]))
        if args and (args[0].isascii() and args[0].isdigit())
        else None
    )
    if org is None or org.id is None:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    if ctx.person.status is Status.MEMBER:
        raise Refusal(ctx.t("You are already registered as a member. Welcome!"))
    existing = await ctx.uow.welcome.of_person(ctx.person_id)
    if existing is not None and existing.status is not FlowStatus.DECLINED:
        raise Refusal(ctx.t("Thank you! A member officer will confirm your membership soon."))
    branch, association = await branch_of(ctx, org)
    assert branch.id is not None
    officer = await assign_officer(ctx, branch, association)
    if existing is None:
        flow = await ctx.uow.welcome.add(
            WelcomeFlow(
                person_id=ctx.person_id,
                org_id=branch.id,
                association_id=association.id if association else None,
                status=FlowStatus.PENDING,
                created_at=ctx.now,
                officer_id=officer.id if officer else None,
            )
        )
    else:
        flow = existing
        flow.status, flow.org_id, flow.created_at = FlowStatus.PENDING, branch.id, ctx.now
        flow.officer_id = officer.id if officer else None
    assert flow.id is not None
    ask = await _confirmation_question(ctx, flow, ctx.person, branch, reminder=False)
    deciders = [officer] if officer else await holders(ctx, branch, (Role.ORGANISER, Role.ADMIN))
    for person in deciders:
        await ctx.notify(
            person,
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
    await ctx.reply(
        message(
            ctx.t(
                "Wonderful, welcome! A member officer will confirm your membership soon, "
                "and then your introduction begins."
            )
        )
    )


async def _confirmation_question(
    fx: Effects, flow: WelcomeFlow, person: Person, branch: Organisation, *, reminder: bool
) -> MessageFor:
    contact = await reach(fx, person)
    name, flow_id = person.display_name, str(flow.id)
    since = flow.created_at

    def ask(t: Translator) -> OutgoingMessage:
        text = (
            t(
                "Still waiting: {name} ({reach}) said on {day} that they had joined the party "
                "through the link of {org}. Can you confirm the membership?"
            ).format(name=name, reach=contact, org=branch.name, day=day(since, branch.zone, t))
            if reminder
            else t(
                "{name} ({reach}) says they have just joined the party through the link "
                "of {org}. Can you confirm the membership?"
            ).format(name=name, reach=contact, org=branch.name)
        )
        return message(
            text,
            buttons=[
                [Button(t("Confirm membership"), Action("welcome.confirm", (flow_id,)))],
                [Button(t("Can't find the membership"), Action("welcome.not_found", (flow_id,)))],
            ],
        )

    return ask


async def remind_confirmation(fx: Effects, timer: Timer) -> None:
    """A join nobody has confirmed: the member officer and the branch's organisers are asked again."""
    flow = await fx.uow.welcome.get(int(timer.payload["flow"]))
    if flow is None or flow.status is not FlowStatus.PENDING:
        return
    if flow.created_at.isoformat() != timer.payload.get("created"):
        return  # they asked again later: that request has its own reminder
    person = await _person(fx, flow.person_id)
    if person is None:
        return
    branch = await _flow_org(fx, flow)
    ask = await _confirmation_question(fx, flow, person, branch, reminder=True)
    officer = await _person(fx, flow.officer_id)
    asked = {p.id: p for p in await holders(fx, branch, (Role.ORGANISER, Role.ADMIN))}
    if officer is not None:
        asked[officer.id] = officer
    for decider in asked.values():
        await fx.notify(
            decider,
            ask,
            key=f"welcome:{flow.id}:confirm:{timer.payload['created']}:again",
            about=person,
        )


async def _confirmable(ctx: Context, args: tuple[str, ...]) -> tuple[WelcomeFlow, Person]:
    flow = await _flow_arg(ctx, args)
    if Permission.MANAGE_NEW_MEMBERS not in await ctx.permissions(await _flow_org(ctx, flow)):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(
                org=(await _flow_org(ctx, flow)).name
            )
        )
    person = await _person(ctx, flow.person_id)
    if person is None or flow.status is not FlowStatus.PENDING:  # None: they were erased
        raise Refusal(ctx.t("That is already taken care of."))
    return flow, person


async def confirm_membership(ctx: Context, args: tuple[str, ...]) -> None:
    flow, person = await _confirmable(ctx, args)
    await _confirm(ctx, flow, person)


async def _confirm(ctx: Context, flow: WelcomeFlow, person: Person) -> None:
    # A member officer who confirms becomes the contact person; an organiser keeps the assigned one.
    me = ctx.person if await _is_officer(ctx, flow) else None
    officer = await _start(ctx, flow, person, officer=me)
    await _privately(
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


async def _is_officer(ctx: Context, flow: WelcomeFlow) -> bool:
    org = await _flow_org(ctx, flow)
    lineage = {o.id for o in await ctx.uow.orgs.lineage(org.id or 0)}
    return any(
        r.role is Role.MEMBER_OFFICER and r.org_id in lineage | {flow.association_id}
        for r in await ctx.uow.people.roles_of(ctx.person_id)
    )


async def membership_not_found(ctx: Context, args: tuple[str, ...]) -> None:
    flow, person = await _confirmable(ctx, args)
    flow.status = FlowStatus.DECLINED

    def tell(t: Translator) -> OutgoingMessage:
        return message(
            t(
                "We could not find your membership yet. If you joined very recently it can "
                "take a few days; a member officer will be in touch. Meanwhile you are "
                "welcome at every open activity: see /moten."
            )
        )

    await ctx.notify(person, tell, key=f"welcome:{flow.id}:not_found:{flow.created_at.isoformat()}")
    await ctx.reply(
        message(
            ctx.t("Noted. I told {name} that the membership could not be confirmed yet.").format(
                name=person.display_name
            )
        )
    )


async def _start(
    fx: Effects, flow: WelcomeFlow, person: Person, *, officer: Person | None
) -> Person | None:
    """Makes them a member and starts the introduction; returns their contact person."""
    assert flow.id is not None and person.id is not None
    branch = await _flow_org(fx, flow)
    association = await fx.uow.orgs.get(flow.association_id) if flow.association_id else None
    if officer is None:
        officer = await _person(fx, flow.officer_id) or await assign_officer(
            fx, branch, association
        )
    person.status = Status.MEMBER
    flow.status = FlowStatus.ACTIVE
    flow.started_at = fx.now
    flow.officer_id = officer.id if officer else None
    plan = await plan_for(fx, branch.id or 0)
    for step in plan.steps:
        await _schedule_step(fx, flow, step, branch)
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
        await _tell_officer_new(fx, flow, person, officer, branch, plan)
    return officer


async def _schedule_step(
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


async def _tell_officer_new(
    fx: Effects,
    flow: WelcomeFlow,
    person: Person,
    officer: Person,
    branch: Organisation,
    plan: WelcomePlan,
) -> None:
    contact = await reach(fx, person)
    name = person.display_name
    flow_id = str(flow.id)

    def build(t: Translator) -> OutgoingMessage:
        return (
            MessageBuilder()
            .line(bold(t("New member in {org}: {name}").format(org=branch.name, name=name)))
            .line(t("Reach them: {reach}").format(reach=contact))
            .line(
                t.ngettext(
                    "You are their contact person. Please call or write to them personally within {days} day, and press the button when you have.",
                    "You are their contact person. Please call or write to them personally within {days} days, and press the button when you have.",
                    plan.reminder_after_days,
                ).format(days=plan.reminder_after_days)
            )
            .line(t("I will tell you their interests when they have answered."))
            .button_row(Button(t("I have made contact"), Action("welcome.contacted", (flow_id,))))
            .build()
        )

    await fx.notify(officer, build, key=f"welcome:{flow.id}:officer:new", about=person)


# --- the personal contact ---------------------------------------------------------------------


async def _flow_arg(ctx: Context, args: tuple[str, ...]) -> WelcomeFlow:
    flow = (
        await ctx.uow.welcome.get(int(args[0]))
        if args and (args[0].isascii() and args[0].isdigit())
        else None
    )
    if flow is None:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    return flow


async def contacted(ctx: Context, args: tuple[str, ...]) -> None:
    flow = await _flow_arg(ctx, args)
    org = await _flow_org(ctx, flow)
    if Permission.MANAGE_NEW_MEMBERS not in await ctx.permissions(org):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(org=org.name)
        )
    person = await _person(ctx, flow.person_id)
    if person is None:  # erased since: their flow is only figures now
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    if flow.contacted_at is not None:
        await ctx.reply(
            message(
                ctx.t("The contact with {name} was already noted.").format(name=person.display_name)
            )
        )
        return
    flow.contacted_at, flow.contacted_by = ctx.now, ctx.person_id
    await ctx.uow.timers.cancel(f"welcome:{flow.id}:contact:reminder")
    await ctx.uow.timers.cancel(f"welcome:{flow.id}:contact:escalation")
    await ctx.reply(
        message(
            ctx.t("Thank you! Noted that you have been in touch with {name}.").format(
                name=person.display_name
            )
        )
    )


async def until_escalation(fx: Effects, timer: Timer) -> datetime | None:
    flow = await fx.uow.welcome.get(int(timer.payload["flow"]))
    if flow is None or flow.started_at is None:
        return None
    plan = await plan_for(fx, flow.org_id)
    return flow.started_at + timedelta(days=plan.escalate_after_days)


async def remind_officer(fx: Effects, timer: Timer) -> None:
    flow = await fx.uow.welcome.get(int(timer.payload["flow"]))
    if flow is None or flow.contacted_at is not None or not _counts(flow):
        return
    person = await _person(fx, flow.person_id)
    officer = await _person(fx, flow.officer_id)
    if person is None or officer is None:
        return
    assert flow.started_at is not None
    days = (fx.now - flow.started_at).days
    contact = await reach(fx, person)
    name, flow_id = person.display_name, str(flow.id)

    def build(t: Translator) -> OutgoingMessage:
        return message(
            t.ngettext(
                "A reminder: {name} became a member {days} day ago and has not had a "
                "personal contact yet. Reach them: {reach}",
                "A reminder: {name} became a member {days} days ago and has not had a "
                "personal contact yet. Reach them: {reach}",
                days,
            ).format(name=name, days=days, reach=contact),
            buttons=[[Button(t("I have made contact"), Action("welcome.contacted", (flow_id,)))]],
        )

    await fx.notify(officer, build, key=f"welcome:{flow.id}:officer:reminder", about=person)


async def escalate(fx: Effects, timer: Timer) -> None:
    flow = await fx.uow.welcome.get(int(timer.payload["flow"]))
    if flow is None or flow.contacted_at is not None or not _counts(flow):
        return
    person = await _person(fx, flow.person_id)
    if person is None:
        return
    branch = await _flow_org(fx, flow)
    officer = await _person(fx, flow.officer_id)
    assert flow.started_at is not None
    days = (fx.now - flow.started_at).days
    contact = await reach(fx, person)
    name, flow_id = person.display_name, str(flow.id)
    officer_name = officer.display_name if officer else None

    def build(t: Translator) -> OutgoingMessage:
        return message(
            t.ngettext(
                "{name} became a member of {org} {days} day ago and has still not been "
                "contacted personally. Member officer: {officer}. Can you make sure someone "
                "gets in touch? Reach them: {reach}",
                "{name} became a member of {org} {days} days ago and has still not been "
                "contacted personally. Member officer: {officer}. Can you make sure someone "
                "gets in touch? Reach them: {reach}",
                days,
            ).format(
                name=name,
                org=branch.name,
                days=days,
                officer=officer_name or t("no member officer yet"),
                reach=contact,
            ),
            buttons=[[Button(t("I have made contact"), Action("welcome.contacted", (flow_id,)))]],
        )

    for organiser in await holders(fx, branch, (Role.ORGANISER,)):
        await fx.notify(organiser, build, key=f"welcome:{flow.id}:escalation", about=person)


def _counts(flow: WelcomeFlow) -> bool:
    """A flow whose member still wants contact: running or completed, not stopped."""
    return flow.status in (FlowStatus.ACTIVE, FlowStatus.PAUSED, FlowStatus.COMPLETED)


# --- the steps ------------------------------------------------------------------------------


async def run_step(fx: Effects, timer: Timer) -> None:
    flow = await fx.uow.welcome.get(int(timer.payload["flow"]))
    kind = StepKind(str(timer.payload["step"]))
    if flow is None or flow.status is not FlowStatus.ACTIVE or kind.value in flow.steps_done:
        return
    person = await _person(fx, flow.person_id)
    if person is None:
        return
    branch = await _flow_org(fx, flow)
    plan = await plan_for(fx, branch.id or 0)
    step = plan.step(kind)
    if step is not None:
        build = await STEP_BUILDERS[kind](fx, flow, person, branch)
        if build is not None:
            await fx.notify(
                person, _with_note(build, step.note), key=f"welcome:{flow.id}:{kind.value}"
            )
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


def _with_note(build: MessageFor, note: str) -> MessageFor:
    if not note:
        return build

    def noted(t: Translator) -> OutgoingMessage:
        built = build(t)
        return OutgoingMessage(
            (*built.spans, *message("\n\n" + note).spans), built.buttons, built.attachment
        )

    return noted


def _pause_stop_row(t: Translator, flow_id: str) -> list[Button]:
    return [
        Button(t("Pause"), Action("welcome.pause", (flow_id,))),
        Button(t("Stop"), Action("welcome.stop", (flow_id,))),
    ]


async def _welcome(
    fx: Effects, flow: WelcomeFlow, person: Person, branch: Organisation
) -> MessageFor:
    officer = await _person(fx, flow.officer_id)
    officer_name = officer.display_name if officer else None
    officer_reach = await reach(fx, officer) if officer else ""
    name, flow_id = person.display_name, str(flow.id)

    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            bold(
                t("A warm welcome as a new member of {org}, {name}!").format(
                    org=branch.name, name=name
                )
            )
        )
        if officer_name:
            text.paragraph(
                t(
                    "Your contact person is {officer}, member officer. {officer} will get in "
                    "touch with you personally soon; you can also write to them: {reach}."
                ).format(officer=officer_name, reach=officer_reach)
            )
        else:
            text.paragraph(t("Someone from the branch will get in touch with you personally soon."))
        text.paragraph(
            t(
                "During your first month I will send you a few short messages: about your "
                "interests, your local association, the next open meeting and member education."
            )
        )
        text.paragraph(t("You can pause or stop this at any time, here or with /introduktion."))
        text.button_row(*_pause_stop_row(t, flow_id))
        return text.build()

    return build


def _choice_rows(
    t: Translator, action: str, flow_id: str, options: dict[str, str], per_row: int
) -> list[tuple[Button, ...]]:
    buttons = [Button(t(label), Action(action, (flow_id, key))) for key, label in options.items()]
    return [tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


async def _interests(
    fx: Effects, flow: WelcomeFlow, person: Person, branch: Organisation
) -> MessageFor:
    flow_id = str(flow.id)

    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            t(
                "Tell us a little about yourself, so we can find things that suit you. "
                "What are you interested in? Choose as many as you like, then press Done."
            )
        )
        for row in _choice_rows(t, "welcome.interest", flow_id, INTERESTS, 3):
            text.button_row(*row)
        text.button_row(Button(t("Done"), Action("welcome.interests_done", (flow_id,))))
        return text.build()

    return build


async def _association(
    fx: Effects, flow: WelcomeFlow, person: Person, branch: Organisation
) -> MessageFor:
    assert branch.id is not None
    association = await fx.uow.orgs.get(flow.association_id) if flow.association_id else None
    choices = [
        o
        for o in await fx.uow.orgs.subtree(branch.id)
        if o.kind is OrgKind.ASSOCIATION and o.parent_id == branch.id
    ]
    flow_id = str(flow.id)

    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder()
        if association is not None:
            text.line(
                t(
                    "Your local association is {association}, part of {org}. That is where "
                    "members near you meet: you are welcome at its meetings."
                ).format(association=association.name, org=branch.name)
            )
        elif choices:
            text.line(
                t(
                    "{org} has these local associations (S-föreningar), where members near "
                    "you meet. Would you like to belong to one of them?"
                ).format(org=branch.name)
            )
            for org in choices[:8]:
                text.button_row(
                    Button(org.name, Action("welcome.association", (flow_id, str(org.id))))
                )
        else:
            text.line(
                t("Your local organisation is {org}: its meetings are where you belong.").format(
                    org=branch.name
                )
            )
        return text.build()

    return build


async def _meeting(
    fx: Effects, flow: WelcomeFlow, person: Person, branch: Organisation
) -> MessageFor:
    assert branch.id is not None
    org_ids = [o.id for o in await fx.uow.orgs.subtree(branch.id) if o.id is not None]
    org_ids += [o.id for o in await fx.uow.orgs.lineage(branch.id) if o.id is not None]
    upcoming = [m for m in await fx.uow.meetings.upcoming(org_ids, fx.now) if m.is_open_to_guests()]
    meeting = upcoming[0] if upcoming else None
    host = await fx.uow.orgs.get(meeting.org_id) if meeting else None
    if meeting is not None:
        flow.meeting_invited_at = fx.now
    zone = branch.zone

    def build(t: Translator) -> OutgoingMessage:
        if meeting is None or host is None:
            return message(
                t(
                    "There is no open meeting planned right now. Write /moten to see the "
                    "next one when it is announced: new members are especially welcome."
                )
            )
        text = MessageBuilder().line(
            t("You are warmly invited to the next open meeting: a good way to meet us.")
        )
        text.line("")
        add_facts(text, meeting, host, zone, t)
        for row in rsvp_buttons(meeting, t):
            text.button_row(*row)
        return text.build()

    return build


async def _education(
    fx: Effects, flow: WelcomeFlow, person: Person, branch: Organisation
) -> MessageFor:
    flow.education_offered_at = fx.now
    flow_id = str(flow.id)
    circles = await open_circles(fx, person, EducationKind.MEMBER_EDUCATION_1)

    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(bold(t("Member education step 1")))
        text.line(
            t(
                "Every member is offered Member education step 1: the party, our ideas and "
                "how you can make a difference, in a study circle with ABF together with "
                "new and experienced members."
            )
        )
        if circles:
            text.paragraph(t("These circles are open for sign-up now:"))
        else:
            # No circle open yet: they can say they want one, and the study organisers hear it.
            text.paragraph(t("Would you like to take part? See the circles with /cirklar."))
            text.button_row(Button(t("Yes, sign me up"), Action("welcome.education", (flow_id,))))
        return text.build()

    return build


async def _checkin(
    fx: Effects, flow: WelcomeFlow, person: Person, branch: Organisation
) -> MessageFor:
    flow_id = str(flow.id)

    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            t(
                "You have been a member for a month now: how has it been? What have you "
                "had time to do? Choose all that fit, then press Done."
            )
        )
        for row in _choice_rows(t, "welcome.checkin", flow_id, CHECKIN_DONE, 1):
            text.button_row(*row)
        text.button_row(Button(t("Done"), Action("welcome.checkin_done", (flow_id,))))
        return text.build()

    return build


STEP_BUILDERS = {
    StepKind.WELCOME: _welcome,
    StepKind.INTERESTS: _interests,
    StepKind.ASSOCIATION: _association,
    StepKind.MEETING: _meeting,
    StepKind.EDUCATION: _education,
    StepKind.CHECKIN: _checkin,
}


# --- the member's answers ---------------------------------------------------------------------


async def _own_flow(ctx: Context, args: tuple[str, ...]) -> WelcomeFlow:
    flow = await _flow_arg(ctx, args)
    if flow.person_id != ctx.person_id:
        raise Refusal(ctx.t("That button belongs to someone else."))
    if flow.status in (FlowStatus.PENDING, FlowStatus.DECLINED, FlowStatus.STOPPED):
        raise Refusal(ctx.t("Your introduction is not running. Write /introduktion to see it."))
    return flow


def _toggled(chosen: Sequence[str], key: str) -> list[str]:
    return [k for k in chosen if k != key] if key in chosen else [*chosen, key]


async def toggle_interest(ctx: Context, args: tuple[str, ...]) -> None:
    flow = await _own_flow(ctx, args)
    if len(args) < 2 or args[1] not in INTERESTS:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    flow.interests = _toggled(flow.interests, args[1])
    await _chosen_reply(ctx, flow.interests, INTERESTS, "welcome.interests_done", str(flow.id))


async def _chosen_reply(
    ctx: Context, chosen: Sequence[str], options: dict[str, str], done: str, flow_id: str
) -> None:
    picked = labels(ctx.t, chosen, options)
    await ctx.reply(
        message(
            ctx.t("Chosen: {chosen}.").format(chosen=picked)
            if picked
            else ctx.t("Nothing chosen yet."),
            buttons=[[Button(ctx.t("Done"), Action(done, (flow_id,)))]],
        )
    )


async def interests_done(ctx: Context, args: tuple[str, ...]) -> None:
    flow = await _own_flow(ctx, args)
    flow.interests_answered_at = ctx.now
    text = MessageBuilder().line(
        ctx.t("And how do you like to take part? Choose one or more, then press Done.")
    )
    for row in _choice_rows(ctx.t, "welcome.way", str(flow.id), WAYS, 1):
        text.button_row(*row)
    text.button_row(Button(ctx.t("Done"), Action("welcome.ways_done", (str(flow.id),))))
    await ctx.reply(text.build())


async def toggle_way(ctx: Context, args: tuple[str, ...]) -> None:
    flow = await _own_flow(ctx, args)
    if len(args) < 2 or args[1] not in WAYS:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    flow.ways = _toggled(flow.ways, args[1])
    await _chosen_reply(ctx, flow.ways, WAYS, "welcome.ways_done", str(flow.id))


async def ways_done(ctx: Context, args: tuple[str, ...]) -> None:
    flow = await _own_flow(ctx, args)
    branch = await _flow_org(ctx, flow)
    flow_id = str(flow.id)
    await ctx.reply(
        message(
            ctx.t(
                "One last question: may the organisers of {org} get in touch with you about "
                "tasks and roles that fit your interests?"
            ).format(org=branch.name),
            buttons=[
                [
                    Button(ctx.t("Yes, gladly"), Action("welcome.tasks", (flow_id, "yes"))),
                    Button(ctx.t("No thanks"), Action("welcome.tasks", (flow_id, "no"))),
                ]
            ],
        )
    )


async def answer_tasks(ctx: Context, args: tuple[str, ...]) -> None:
    flow = await _own_flow(ctx, args)
    if len(args) < 2 or args[1] not in ("yes", "no"):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    first_answer = flow.tasks_consent is None
    flow.tasks_consent, flow.tasks_consent_at = args[1] == "yes", ctx.now
    await ctx.reply(
        message(
            ctx.t(
                "Thank you! Now we know a little more about you. You can change your mind "
                "any time with /introduktion."
            )
        )
    )
    officer = await _person(ctx, flow.officer_id)
    if officer is None or not first_answer:
        return
    name = ctx.person.display_name
    interests, ways, consent = list(flow.interests), list(flow.ways), flow.tasks_consent

    def build(t: Translator) -> OutgoingMessage:
        return (
            MessageBuilder()
            .line(bold(t("{name} has answered the welcome questions").format(name=name)))
            .line(t("Interests: {list}").format(list=labels(t, interests, INTERESTS) or "-"))
            .line(t("Likes to take part: {list}").format(list=labels(t, ways, WAYS) or "-"))
            .line(
                t("Welcomes questions about tasks: yes")
                if consent
                else t("Welcomes questions about tasks: no")
            )
            .build()
        )

    await ctx.notify(officer, build, key=f"welcome:{flow.id}:officer:interests", about=ctx.person)


async def choose_association(ctx: Context, args: tuple[str, ...]) -> None:
    flow = await _own_flow(ctx, args)
    org = (
        await ctx.uow.orgs.get(int(args[1]))
        if len(args) > 1 and (args[1].isascii() and args[1].isdigit())
        else None
    )
    if (
        org is None
        or org.id is None
        or org.parent_id != flow.org_id
        or org.kind is not OrgKind.ASSOCIATION
    ):
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    flow.association_id = org.id
    await ctx.uow.people.affiliate(Affiliation(ctx.person_id, org.id, since=ctx.now))
    await ctx.reply(
        message(
            ctx.t("Welcome to {association}! You will hear about its meetings.").format(
                association=org.name
            )
        )
    )


async def want_education(ctx: Context, args: tuple[str, ...]) -> None:
    flow = await _own_flow(ctx, args)
    if flow.education_wanted_at is not None:
        await ctx.reply(message(ctx.t("You are already on the list for member education.")))
        return
    flow.education_wanted_at = ctx.now
    branch = await _flow_org(ctx, flow)
    await ctx.reply(
        message(
            ctx.t(
                "Great! The study organisers of {org} will let you know when the next "
                "Member education step 1 starts. Open circles: /cirklar."
            ).format(org=branch.name)
        )
    )
    name = ctx.person.display_name

    def build(t: Translator) -> OutgoingMessage:
        return message(
            t("{name}, a new member, would like to take Member education step 1.").format(name=name)
        )

    for organiser in await holders(ctx, branch, (Role.STUDY_ORGANISER,)) or [
        p for p in [await _person(ctx, flow.officer_id)] if p is not None
    ]:
        await ctx.notify(
            organiser, build, key=f"welcome:{flow.id}:education_wanted", about=ctx.person
        )


async def toggle_checkin(ctx: Context, args: tuple[str, ...]) -> None:
    flow = await _own_flow(ctx, args)
    if len(args) < 2 or args[1] not in CHECKIN_DONE:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    flow.checkin_done = _toggled(flow.checkin_done, args[1])
    await _chosen_reply(ctx, flow.checkin_done, CHECKIN_DONE, "welcome.checkin_done", str(flow.id))


async def checkin_done(ctx: Context, args: tuple[str, ...]) -> None:
    flow = await _own_flow(ctx, args)
    assert flow.id is not None
    await WISH.start(ctx, Wish(flow.id))


@dataclass
class Wish:
    """What a new member would like to do from now on, asked at the month's check-in."""

    flow: int
    wish: str | None = None


async def _wish_flow(ctx: Context, draft: Wish) -> WelcomeFlow:
    flow = await ctx.uow.welcome.get(draft.flow)
    if flow is None or flow.person_id != ctx.person_id:
        raise DialogOver()
    return flow


async def _check_wish(ctx: Context, draft: Wish) -> None:
    await _wish_flow(ctx, draft)


def _read_wish(ctx: Context, value: str, draft: Wish) -> str:
    if len(value) > MAX_WISH:
        raise Refusal(
            ctx.t.ngettext(
                "That is a bit long: please keep it under {limit} character.",
                "That is a bit long: please keep it under {limit} characters.",
                MAX_WISH,
            ).format(limit=MAX_WISH)
        )
    return value


async def _save_wish(ctx: Context, draft: Wish) -> None:
    await _finish_checkin(ctx, await _wish_flow(ctx, draft), draft.wish)


WISH: Dialog[Wish] = Dialog(
    name=WISH_DIALOG,
    draft=Wish,
    check=_check_wish,
    steps=(
        Step(
            "wish",
            lambda ctx, d: ctx.t(
                "And what would you like to do from now on? Write it in your own words, or press Skip."
            ),
            parse=_read_wish,
            skip=Skip(None),
        ),
    ),
    finish=_save_wish,
)


async def _finish_checkin(ctx: Context, flow: WelcomeFlow, wish: str | None) -> None:
    first = flow.checkin_answered_at is None
    flow.checkin_wish, flow.checkin_answered_at = wish, ctx.now
    officer = await _person(ctx, flow.officer_id)
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
    name, done = ctx.person.display_name, list(flow.checkin_done)

    def build(t: Translator) -> OutgoingMessage:
        return (
            MessageBuilder()
            .line(bold(t("{name} after a month as a member").format(name=name)))
            .line(t("Has done: {list}").format(list=labels(t, done, CHECKIN_DONE) or "-"))
            .line(t("Would like: {wish}").format(wish=wish or "-"))
            .build()
        )

    await ctx.notify(officer, build, key=f"welcome:{flow.id}:officer:checkin", about=ctx.person)


# --- pause and stop ---------------------------------------------------------------------------


async def show_introduction(ctx: Context, args: str) -> None:
    flow = await ctx.uow.welcome.of_person(ctx.person_id)
    if flow is None or flow.status in (FlowStatus.PENDING, FlowStatus.DECLINED):
        await ctx.reply(
            message(
                ctx.t("Thank you! A member officer will confirm your membership soon.")
                if flow is not None and flow.status is FlowStatus.PENDING
                else ctx.t("You have no introduction running. New members get one when they join.")
            )
        )
        return
    word = args.strip().lower()
    if word in ("paus", "pausa", "pause"):
        await _pause(ctx, flow)
        return
    if word in ("fortsatt", "fortsätt", "resume", "continue"):
        await _resume(ctx, flow)
        return
    if word in ("stopp", "stoppa", "avsluta", "stop"):
        await _stop(ctx, flow)
        return
    branch = await _flow_org(ctx, flow)
    plan = await plan_for(ctx, branch.id or 0)
    status_text = {
        FlowStatus.ACTIVE: N_("running"),
        FlowStatus.PAUSED: N_("paused"),
        FlowStatus.STOPPED: N_("stopped"),
        FlowStatus.COMPLETED: N_("completed"),
    }[flow.status]
    sent = [ctx.t(STEP_NAMES[s.kind]) for s in plan.steps if s.kind.value in flow.steps_done]
    text = MessageBuilder().line(
        bold(ctx.t("Your introduction: {status}").format(status=ctx.t(status_text)))
    )
    text.line(ctx.t("Steps so far: {steps}").format(steps=", ".join(sent) or "-"))
    flow_id = str(flow.id)
    if flow.status is FlowStatus.ACTIVE:
        text.button_row(*_pause_stop_row(ctx.t, flow_id))
    elif flow.status is FlowStatus.PAUSED:
        text.button_row(
            Button(ctx.t("Continue"), Action("welcome.resume", (flow_id,))),
            Button(ctx.t("Stop"), Action("welcome.stop", (flow_id,))),
        )
    if flow.tasks_consent is not None:
        text.line(
            ctx.t("Organisers may ask you about tasks: yes")
            if flow.tasks_consent
            else ctx.t("Organisers may ask you about tasks: no")
        )
        text.button_row(
            Button(
                ctx.t("No more questions about tasks")
                if flow.tasks_consent
                else ctx.t("Yes, ask me about tasks"),
                Action("welcome.tasks", (flow_id, "no" if flow.tasks_consent else "yes")),
            )
        )
    await ctx.reply(text.build())


async def pause(ctx: Context, args: tuple[str, ...]) -> None:
    await _pause(ctx, await _own_flow(ctx, args))


async def resume(ctx: Context, args: tuple[str, ...]) -> None:
    await _resume(ctx, await _own_flow(ctx, args))


async def stop(ctx: Context, args: tuple[str, ...]) -> None:
    await _stop(ctx, await _own_flow(ctx, args))


async def _pause(ctx: Context, flow: WelcomeFlow) -> None:
    if flow.status is not FlowStatus.ACTIVE:
        raise Refusal(ctx.t("Your introduction is not running. Write /introduktion to see it."))
    flow.status, flow.paused_at = FlowStatus.PAUSED, ctx.now
    for kind in StepKind:
        if kind.value not in flow.steps_done:
            await ctx.uow.timers.cancel(f"welcome:{flow.id}:{kind.value}")
    await ctx.reply(
        message(
            ctx.t("Paused. I will not send any more introduction messages until you continue."),
            buttons=[[Button(ctx.t("Continue"), Action("welcome.resume", (str(flow.id),)))]],
        )
    )


async def _resume(ctx: Context, flow: WelcomeFlow) -> None:
    if flow.status is not FlowStatus.PAUSED or flow.paused_at is None:
        raise Refusal(ctx.t("Your introduction is not paused."))
    flow.paused_seconds += int((ctx.now - flow.paused_at).total_seconds())
    flow.status, flow.paused_at = FlowStatus.ACTIVE, None
    branch = await _flow_org(ctx, flow)
    for step in (await plan_for(ctx, branch.id or 0)).steps:
        if step.kind.value not in flow.steps_done:
            await _schedule_step(ctx, flow, step, branch)
    await ctx.reply(message(ctx.t("Welcome back! Your introduction continues where it stopped.")))


async def _stop(ctx: Context, flow: WelcomeFlow) -> None:
    if flow.status not in (FlowStatus.ACTIVE, FlowStatus.PAUSED):
        raise Refusal(ctx.t("Your introduction is not running. Write /introduktion to see it."))
    flow.status, flow.stopped_at, flow.paused_at = FlowStatus.STOPPED, ctx.now, None
    for kind in StepKind:
        await ctx.uow.timers.cancel(f"welcome:{flow.id}:{kind.value}")
    await ctx.uow.timers.cancel(f"welcome:{flow.id}:contact:reminder")
    await ctx.uow.timers.cancel(f"welcome:{flow.id}:contact:escalation")
    await ctx.reply(
        message(
            ctx.t(
                "Done: no more introduction messages. You are still a member and welcome at "
                "everything: write /hjalp to see what you can do."
            )
        )
    )
    officer = await _person(ctx, flow.officer_id)
    if officer is not None:
        name = ctx.person.display_name

        def build(t: Translator) -> OutgoingMessage:
            return message(
                t(
                    "{name} has stopped the introduction messages. I will not remind you about them any more."
                ).format(name=name)
            )

        await ctx.notify(officer, build, key=f"welcome:{flow.id}:officer:stopped", about=ctx.person)


# --- for organisers ---------------------------------------------------------------------------


async def _scope(ctx: Context) -> tuple[Organisation, list[int]]:
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    return org, [o.id for o in await ctx.uow.orgs.subtree(org.id) if o.id is not None]


async def _privately(ctx: Context, text: OutgoingMessage) -> None:
    """Lists of members are sensitive: they go to the organiser's private chat, never a group."""
    if ctx.chat.is_private or ctx.answered_elsewhere:  # personal answers go there anyway
        await ctx.reply(text)
        return
    await ctx.notify(
        ctx.person, lambda t: text, key=f"welcome:list:{ctx.chat.platform}:{ctx.event_id}"
    )
    await ctx.reply(message(ctx.t("I have sent it to you in a private message.")))


def _percent(count: int, of: int) -> str:
    return f"{count}/{of} ({round(100 * count / of)} %)" if of else "–"


async def list_new_members(ctx: Context, args: str) -> None:
    org, org_ids = await _scope(ctx)
    flows = [f for f in await ctx.uow.welcome.in_orgs(org_ids) if f.started_at is not None]
    text = MessageBuilder().line(bold(ctx.t("New members in {org}").format(org=org.name)))
    if not flows:
        text.line(ctx.t("No new members yet."))
    # Erased members stay in the figures below, never on the list.
    listed = [f for f in flows if f.person_id is not None]
    for flow in listed[:20]:
        person = await _person(ctx, flow.person_id)
        officer = await _person(ctx, flow.officer_id)
        assert flow.started_at is not None and person is not None
        contact = (
            ctx.t("contacted {day}").format(day=day(flow.contacted_at, org.zone, ctx.t))
            if flow.contacted_at
            else ctx.t("not contacted yet")
        )
        text.line(
            ctx.t("{name}: member since {day}, contact person {officer}, {contact}").format(
                name=person.display_name,
                day=day(flow.started_at, org.zone, ctx.t),
                officer=officer.display_name if officer else "-",
                contact=contact,
            )
        )
    figures = welcome_figures(flows, ctx.now)
    median = figures.median_days_to_contact
    text.paragraph(bold(ctx.t("Figures")))
    text.line(
        ctx.t("Personally contacted: {share}").format(
            share=_percent(figures.contacted.count, figures.contacted.of)
        )
        + (
            ctx.t.ngettext(
                ", median {days} day", ", median {days} days", plural_form(median)
            ).format(days=format_decimal(median, format="0.#", locale=ctx.t.language))
            if median is not None
            else ""
        )
    )
    text.line(
        ctx.t("Introduction completed within a month: {share}").format(
            share=_percent(
                figures.introduced_within_month.count, figures.introduced_within_month.of
            )
        )
    )
    text.line(
        ctx.t("Offered member education within six months: {share}").format(
            share=_percent(
                figures.education_offered_within_six_months.count,
                figures.education_offered_within_six_months.of,
            )
        )
    )
    await _privately(ctx, text.build())


def _interest_key(t: Translator, word: str) -> str | None:
    wanted = word.strip().casefold()
    for key, label in INTERESTS.items():
        if wanted in (key, t(label).casefold(), label.casefold()):
            return key
    for key, label in INTERESTS.items():
        if t(label).casefold().startswith(wanted) or label.casefold().startswith(wanted):
            return key
    return None


async def find_by_interest(ctx: Context, args: str) -> None:
    org, org_ids = await _scope(ctx)
    if not args.strip():
        text = MessageBuilder().line(
            ctx.t("Which interest? Only members who said yes to questions about tasks are shown.")
        )
        buttons = [
            Button(ctx.t(label), Action("welcome.find", (str(org.id), key)))
            for key, label in INTERESTS.items()
        ]
        for i in range(0, len(buttons), 3):
            text.button_row(*buttons[i : i + 3])
        await ctx.reply(text.build())
        return
    key = _interest_key(ctx.t, args)
    if key is None:
        raise Refusal(
            ctx.t("I don't know that interest. Choose one of: {list}.").format(
                list=", ".join(ctx.t(label) for label in INTERESTS.values())
            )
        )
    await _list_interest(ctx, org, org_ids, key)


async def find_button(ctx: Context, args: tuple[str, ...]) -> None:
    org = (
        await ctx.uow.orgs.get(int(args[0]))
        if args and (args[0].isascii() and args[0].isdigit())
        else None
    )
    if org is None or org.id is None or len(args) < 2 or args[1] not in INTERESTS:
        raise Refusal(ctx.t("That button no longer works. Try the command again."))
    if Permission.MANAGE_NEW_MEMBERS not in await ctx.permissions(org):
        raise Refusal(
            ctx.t("Only organisers with the right role in {org} can do that.").format(org=org.name)
        )
    org_ids = [o.id for o in await ctx.uow.orgs.subtree(org.id) if o.id is not None]
    await _list_interest(ctx, org, org_ids, args[1])


async def _list_interest(ctx: Context, org: Organisation, org_ids: list[int], key: str) -> None:
    found = [
        f
        for f in await ctx.uow.welcome.in_orgs(org_ids)
        if f.tasks_consent and key in f.interests and f.status is not FlowStatus.DECLINED
    ]
    text = MessageBuilder().line(
        bold(
            ctx.t("Interested in {interest} in {org}").format(
                interest=ctx.t(INTERESTS[key]), org=org.name
            )
        )
    )
    if not found:
        text.line(ctx.t("No one yet who has said yes to questions about tasks."))
    for flow in found:
        person = await _person(ctx, flow.person_id)
        if person is None:
            continue
        ways = labels(ctx.t, flow.ways, WAYS)
        text.line(
            f"{person.display_name} ({await reach(ctx, person)})" + (f" – {ways}" if ways else "")
        )
    await _privately(ctx, text.build())


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
            _guest_invitation(person.display_name, len(meetings), home, fx.settings.join_url),
            key=f"welcome:guest:{person_id}",
        )


def _guest_invitation(name: str, count: int, home: Organisation, join_url: str) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            t(
                "Thank you for coming to {count} of our open meetings, {name}! Would you like "
                "to become a member? As a member you help shape the politics, can take member "
                "education, and get a contact person who helps you find your way."
            ).format(count=count, name=name)
        )
        if join_url:
            text.paragraph(t("Join here: "), link(join_url, join_url))
        else:
            text.paragraph(t("Ask an organiser of {org} how to join.").format(org=home.name))
        text.paragraph(t("When you have joined, press the button and we will welcome you."))
        text.button_row(Button(t("I have joined"), Action("welcome.joined", (str(home.id),))))
        return text.build()

    return build
