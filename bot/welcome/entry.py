"""The new-member welcome flow: personal contact and the digital introduction in the first month.

A person becomes a new member when an organiser or member officer registers
them (/ny_medlem), or when they come through a member join link
(`/start member_<slug>`), say they have just joined, and a member officer
confirms it. Then the plan's steps fall due as timers (`welcome:<flow>:<step>`),
the member officer is told and asked to confirm the personal contact, and is
reminded, then the branch's organisers are told, when it has not happened.

Here: the commands and buttons; the use cases are in `service`, the words in `views`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.actions import STALE_BUTTON, Choice
from bot.context import Context, Refusal
from bot.domain.organisations import Organisation, OrgKind
from bot.domain.people import Affiliation, Person, Role, Status
from bot.i18n import N_, Translator
from bot.messages import Action, Button, OutgoingMessage, message
from bot.permissions import Permission
from bot.registry import Access, CommandSpec, Registry, always
from bot.welcome import service, views
from bot.welcome.dialogs import WISH, Wish
from bot.welcome.model import (
    CHECKIN_DONE,
    INTERESTS,
    WAYS,
    FlowStatus,
    WelcomeFlow,
    welcome_figures,
)
from bot.welcome.service import FLOW, ORG, OWN_FLOW, person_of, privately, running


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
    # Someone with a member link, about the organisation they came through.
    registry.action("welcome.joined", said_joined, args=(ORG,))
    registry.action("welcome.curious", said_curious, args=(ORG,))
    # The organisers of the branch that welcomes the new member.
    organisers = Permission.MANAGE_NEW_MEMBERS
    registry.action("welcome.confirm", confirm_membership, organisers, args=(FLOW,))
    registry.action("welcome.not_found", membership_not_found, organisers, args=(FLOW,))
    registry.action("welcome.contacted", contacted, organisers, args=(FLOW,))
    registry.action("welcome.find", find_button, organisers, args=(ORG, Choice(*INTERESTS)))
    # The new member, on their own introduction.
    registry.action("welcome.interest", toggle_interest, args=(OWN_FLOW, Choice(*INTERESTS)))
    registry.action("welcome.interests_done", interests_done, args=(OWN_FLOW,))
    registry.action("welcome.way", toggle_way, args=(OWN_FLOW, Choice(*WAYS)))
    registry.action("welcome.ways_done", ways_done, args=(OWN_FLOW,))
    registry.action("welcome.tasks", answer_tasks, args=(OWN_FLOW, Choice("yes", "no")))
    registry.action("welcome.association", choose_association, args=(OWN_FLOW, ORG))
    registry.action("welcome.education", want_education, args=(OWN_FLOW,))
    registry.action("welcome.checkin", toggle_checkin, args=(OWN_FLOW, Choice(*CHECKIN_DONE)))
    registry.action("welcome.checkin_done", checkin_done, args=(OWN_FLOW,))
    registry.action("welcome.pause", pause, args=(OWN_FLOW,))
    registry.action("welcome.resume", resume, args=(OWN_FLOW,))
    registry.action("welcome.stop", stop, args=(OWN_FLOW,))
    registry.dialog(WISH)
    # The month's steps and the officers' reminders stay useful however late: each is
    # built when sent (the next meeting then, "N days ago" counted from now). The officer's
    # own reminder makes way for the escalation once that falls due.
    registry.timer(service.STEP_TIMER, service.run_step, useful_until=always)
    registry.timer(
        service.REMINDER_TIMER, service.remind_officer, useful_until=service.until_escalation
    )
    registry.timer(service.ESCALATION_TIMER, service.escalate, useful_until=always)
    registry.timer(service.CONFIRM_REMINDER_TIMER, service.remind_confirmation, useful_until=always)
    registry.daily(
        "welcome:guests", service.GUEST_TIMER, service.GUEST_RUN_AT, service.invite_guests
    )


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
        await service.confirm(ctx, flow, person)
        return
    if flow is not None and flow.status is not FlowStatus.DECLINED:
        await privately(
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
        await privately(
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
    branch, association = await service.branch_of(ctx, home)
    assert branch.id is not None
    flow = await service.flow_for(ctx, flow, person.id, branch, association)
    flow.registered_by = ctx.person_id
    officer = await service.start(ctx, flow, person, officer=None)
    await privately(
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
    await ctx.reply(views.join_question(ctx.t, org))


async def said_curious(ctx: Context, args: tuple[Any, ...]) -> None:
    await ctx.reply(
        message(
            ctx.t(
                "Welcome! As a guest you are welcome at every open activity and conversation: "
                "see /moten. Whenever you want to join the party, just ask us."
            )
        )
    )


async def said_joined(ctx: Context, args: tuple[Any, ...]) -> None:
    org: Organisation = args[0]
    if ctx.person.status is Status.MEMBER:
        raise Refusal(ctx.t("You are already registered as a member. Welcome!"))
    existing = await ctx.uow.welcome.of_person(ctx.person_id)
    if existing is not None and existing.status is not FlowStatus.DECLINED:
        raise Refusal(ctx.t("Thank you! A member officer will confirm your membership soon."))
    branch, association = await service.branch_of(ctx, org)
    assert branch.id is not None
    officer = await service.assign_officer(ctx, branch, association)
    flow = await service.flow_for(ctx, existing, ctx.person_id, branch, association)
    flow.status, flow.created_at = FlowStatus.PENDING, ctx.now  # a new request to confirm
    flow.officer_id = officer.id if officer else None
    await service.ask_confirmation(ctx, flow, branch)
    await ctx.reply(
        message(
            ctx.t(
                "Wonderful, welcome! A member officer will confirm your membership soon, "
                "and then your introduction begins."
            )
        )
    )


async def _pending(ctx: Context, flow: WelcomeFlow) -> tuple[WelcomeFlow, Person]:
    person = await person_of(ctx, flow.person_id)
    if person is None or flow.status is not FlowStatus.PENDING:  # None: they were erased
        raise Refusal(ctx.t("That is already taken care of."))
    return flow, person


async def confirm_membership(ctx: Context, args: tuple[Any, ...]) -> None:
    flow, person = await _pending(ctx, args[0])
    await service.confirm(ctx, flow, person)


async def membership_not_found(ctx: Context, args: tuple[Any, ...]) -> None:
    flow, person = await _pending(ctx, args[0])
    flow.status = FlowStatus.DECLINED
    await ctx.notify(
        person,
        views.not_found_notice,
        key=f"welcome:{flow.id}:not_found:{flow.created_at.isoformat()}",
    )
    await ctx.reply(
        message(
            ctx.t("Noted. I told {name} that the membership could not be confirmed yet.").format(
                name=person.display_name
            )
        )
    )


# --- the personal contact ---------------------------------------------------------------------


async def contacted(ctx: Context, args: tuple[Any, ...]) -> None:
    flow: WelcomeFlow = args[0]
    person = await person_of(ctx, flow.person_id)
    if person is None:  # erased since: their flow is only figures now
        raise Refusal(ctx.t(STALE_BUTTON))
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


# --- the member's answers ---------------------------------------------------------------------


def _toggled(chosen: Sequence[str], key: str) -> list[str]:
    return [k for k in chosen if k != key] if key in chosen else [*chosen, key]


async def toggle_interest(ctx: Context, args: tuple[Any, ...]) -> None:
    flow, key = running(ctx, args[0]), args[1]
    flow.interests = _toggled(flow.interests, key)
    await ctx.reply(views.chosen(ctx.t, flow.interests, "welcome.interest", str(flow.id)))


async def interests_done(ctx: Context, args: tuple[Any, ...]) -> None:
    flow = running(ctx, args[0])
    flow.interests_answered_at = ctx.now
    await ctx.reply(views.ways_question(ctx.t, str(flow.id)))


async def toggle_way(ctx: Context, args: tuple[Any, ...]) -> None:
    flow, key = running(ctx, args[0]), args[1]
    flow.ways = _toggled(flow.ways, key)
    await ctx.reply(views.chosen(ctx.t, flow.ways, "welcome.way", str(flow.id)))


async def ways_done(ctx: Context, args: tuple[Any, ...]) -> None:
    flow = running(ctx, args[0])
    branch = await service.flow_org(ctx, flow)
    await ctx.reply(views.tasks_question(ctx.t, branch, str(flow.id)))


async def answer_tasks(ctx: Context, args: tuple[Any, ...]) -> None:
    flow, answer = running(ctx, args[0]), args[1]
    first_answer = flow.tasks_consent is None
    flow.tasks_consent, flow.tasks_consent_at = answer == "yes", ctx.now
    await ctx.reply(
        message(
            ctx.t(
                "Thank you! Now we know a little more about you. You can change your mind "
                "any time with /introduktion."
            )
        )
    )
    officer = await person_of(ctx, flow.officer_id)
    if officer is None or not first_answer:
        return
    build = views.answers_summary(ctx.person.display_name, flow)
    await ctx.notify(officer, build, key=f"welcome:{flow.id}:officer:interests", about=ctx.person)


async def choose_association(ctx: Context, args: tuple[Any, ...]) -> None:
    flow, org = running(ctx, args[0]), args[1]
    if org.parent_id != flow.org_id or org.kind is not OrgKind.ASSOCIATION:
        raise Refusal(ctx.t(STALE_BUTTON))  # no longer one of the branch's associations
    flow.association_id = org.id
    await ctx.uow.people.affiliate(Affiliation(ctx.person_id, org.id, since=ctx.now))
    await ctx.reply(
        message(
            ctx.t("Welcome to {association}! You will hear about its meetings.").format(
                association=org.name
            )
        )
    )


async def want_education(ctx: Context, args: tuple[Any, ...]) -> None:
    flow = running(ctx, args[0])
    if flow.education_wanted_at is not None:
        await ctx.reply(message(ctx.t("You are already on the list for member education.")))
        return
    flow.education_wanted_at = ctx.now
    branch = await service.flow_org(ctx, flow)
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

    told = await service.holders(ctx, branch, (Role.STUDY_ORGANISER,)) or [
        p for p in [await person_of(ctx, flow.officer_id)] if p is not None
    ]
    await ctx.notify_each(told, build, key=f"welcome:{flow.id}:education_wanted", about=ctx.person)


async def toggle_checkin(ctx: Context, args: tuple[Any, ...]) -> None:
    flow, key = running(ctx, args[0]), args[1]
    flow.checkin_done = _toggled(flow.checkin_done, key)
    await ctx.reply(views.chosen(ctx.t, flow.checkin_done, "welcome.checkin", str(flow.id)))


async def checkin_done(ctx: Context, args: tuple[Any, ...]) -> None:
    flow = running(ctx, args[0])
    assert flow.id is not None
    await WISH.start(ctx, Wish(flow.id))


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
    branch = await service.flow_org(ctx, flow)
    plan = await service.plan_for(ctx, branch.id or 0)
    sent = [s.kind for s in plan.steps if s.kind.value in flow.steps_done]
    await ctx.reply(views.introduction(ctx.t, flow, sent))


async def pause(ctx: Context, args: tuple[Any, ...]) -> None:
    await _pause(ctx, running(ctx, args[0]))


async def resume(ctx: Context, args: tuple[Any, ...]) -> None:
    await _resume(ctx, running(ctx, args[0]))


async def stop(ctx: Context, args: tuple[Any, ...]) -> None:
    await _stop(ctx, running(ctx, args[0]))


async def _pause(ctx: Context, flow: WelcomeFlow) -> None:
    await service.pause(ctx, flow)
    await ctx.reply(
        message(
            ctx.t("Paused. I will not send any more introduction messages until you continue."),
            buttons=[[Button(ctx.t("Continue"), Action("welcome.resume", (str(flow.id),)))]],
        )
    )


async def _resume(ctx: Context, flow: WelcomeFlow) -> None:
    await service.resume(ctx, flow)
    await ctx.reply(message(ctx.t("Welcome back! Your introduction continues where it stopped.")))


async def _stop(ctx: Context, flow: WelcomeFlow) -> None:
    await service.stop(ctx, flow)
    await ctx.reply(
        message(
            ctx.t(
                "Done: no more introduction messages. You are still a member and welcome at "
                "everything: write /hjalp to see what you can do."
            )
        )
    )
    await service.tell_officer_stopped(ctx, flow)


# --- for organisers ---------------------------------------------------------------------------


async def _scope(ctx: Context) -> tuple[Organisation, list[int]]:
    org = ctx.org
    if org is None or org.id is None:
        raise Refusal(
            ctx.t("I don't know which organisation you mean. Write this in its group chat.")
        )
    return org, [o.id for o in await ctx.uow.orgs.subtree(org.id) if o.id is not None]


async def list_new_members(ctx: Context, args: str) -> None:
    org, org_ids = await _scope(ctx)
    flows = [f for f in await ctx.uow.welcome.in_orgs(org_ids) if f.started_at is not None]
    lines = []
    # Erased members stay in the figures, never on the list.
    for flow in [f for f in flows if f.person_id is not None][:20]:
        person = await person_of(ctx, flow.person_id)
        officer = await person_of(ctx, flow.officer_id)
        assert flow.started_at is not None and person is not None
        lines.append(
            views.new_member_line(
                ctx.t,
                org,
                person.display_name,
                flow.started_at,
                officer.display_name if officer else None,
                flow.contacted_at,
            )
        )
    figures = welcome_figures(flows, ctx.now)
    await privately(ctx, views.new_members(ctx.t, org, lines, figures))


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
        await ctx.reply(views.interest_choice(ctx.t, org))
        return
    key = _interest_key(ctx.t, args)
    if key is None:
        raise Refusal(
            ctx.t("I don't know that interest. Choose one of: {list}.").format(
                list=", ".join(ctx.t(label) for label in INTERESTS.values())
            )
        )
    await _list_interest(ctx, org, org_ids, key)


async def find_button(ctx: Context, args: tuple[Any, ...]) -> None:
    org: Organisation = args[0]
    assert org.id is not None
    org_ids = [o.id for o in await ctx.uow.orgs.subtree(org.id) if o.id is not None]
    await _list_interest(ctx, org, org_ids, args[1])


async def _list_interest(ctx: Context, org: Organisation, org_ids: list[int], key: str) -> None:
    found = [
        f
        for f in await ctx.uow.welcome.in_orgs(org_ids)
        if f.tasks_consent and key in f.interests and f.status is not FlowStatus.DECLINED
    ]
    people = []
    for flow in found:
        person = await person_of(ctx, flow.person_id)
        if person is not None:
            people.append((person.display_name, await service.reach(ctx, person), flow.ways))
    await privately(ctx, views.interested(ctx.t, org, key, people))
