"""Rådslag in chat: /radslag, /nytt_radslag, /radslag_mote, and their buttons.

Thin: use cases in `bot.consultations.service`, words in `views`, dialogs in `dialogs`,
files in `export`, a meeting's marked contributions in `capture` (through /bidrag).
Buttons carry ids; each handler loads the rådslag and checks the permission in the
organisation it acts in (the branch, or where the rådslag was opened).
"""

from __future__ import annotations

from typing import Any

from bot.actions import Choice
from bot.consultations import capture, export, service, views
from bot.consultations.dialogs import (
    BRANCH_ANSWERS,
    MEMBER_ANSWERS,
    NEW_CONSULTATION,
    Answering,
    NewConsultation,
)
from bot.consultations.model import Consultation
from bot.context import Context, Refusal
from bot.domain.organisations import Organisation
from bot.i18n import N_
from bot.messages import MessageBuilder, message
from bot.parsing import parse_id
from bot.permissions import Permission
from bot.registry import CommandSpec, Registry


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "radslag",
            "consultations",
            N_("Rådslag: answer the party's questions, or follow your branch's answer"),
            show,
            usage=N_("[number]"),
        )
    )
    registry.command(
        CommandSpec(
            "nytt_radslag",
            "newconsultation",
            N_("Open a rådslag for the branches below you, step by step"),
            new,
            Permission.MANAGE_CONSULTATIONS,
        )
    )
    registry.command(
        CommandSpec(
            "radslag_mote",
            "consultationmeeting",
            N_("Tie a meeting to a rådslag: its thread gets the questions"),
            tie,
            Permission.MANAGE_MEETINGS,
            usage=N_("<rådslag> <meeting>"),
        )
    )
    registry.action(views.ANSWER, answer, args=(int,))
    registry.action(views.BRANCH, branch_button, args=(int, int))
    registry.action(views.WRITE, write, args=(int, int))
    registry.action(views.SUBMIT, ask_submit, args=(int, int))
    registry.action(views.SUBMIT_CONFIRM, confirm_submit, args=(int, int))
    registry.action(views.OVERVIEW, show_overview, args=(int,))
    registry.action(views.EXPORT, export_as, args=(int, Choice(*views.EXPORTS)))
    registry.action(capture.MARK, capture.marked, args=(int, int, str, str))
    registry.on_mark(N_("Contribution to a rådslag"), capture.mark)
    registry.dialog(NEW_CONSULTATION)
    registry.dialog(MEMBER_ANSWERS)
    registry.dialog(BRANCH_ANSWERS)
    registry.timer(service.REMIND, service.remind, useful_until=service.until_deadline)
    registry.timer(service.INVITE, service.invite, useful_until=service.until_deadline)


# --- /radslag -------------------------------------------------------------------------


async def _candidates(ctx: Context) -> list[int]:
    """Organisations whose rådslag this person may be part of: theirs, those above, and
    wherever they organise and below."""
    found: list[int] = []
    roots = [a.org_id for a in await ctx.uow.people.affiliations_of(ctx.person_id)]
    for org_id in roots:
        found += [o.id for o in await ctx.uow.orgs.lineage(org_id) if o.id is not None]
    for role in await ctx.uow.people.roles_of(ctx.person_id):
        found += [o.id for o in await ctx.uow.orgs.lineage(role.org_id) if o.id is not None]
        found += [o.id for o in await ctx.uow.orgs.subtree(role.org_id) if o.id is not None]
    return list(dict.fromkeys(found))


async def show(ctx: Context, args: str) -> None:
    if args.strip():
        await show_card(ctx, await service.find(ctx, parse_id(args.strip().lstrip("#"))))
        return
    found: list[tuple[Consultation, Organisation]] = []
    for c in await ctx.uow.consultations.in_orgs(await _candidates(ctx)):
        if await service.visible_to(ctx, c):
            found.append((c, await service.fx_org(ctx, c.org_id)))
    await ctx.reply(views.listing(ctx.t, found, ctx.now))


async def _managed_branches(ctx: Context, c: Consultation) -> list[Organisation]:
    return [b for b in await service.invited_branches(ctx, c) if await service.may_manage(ctx, b)]


async def show_card(ctx: Context, c: Consultation) -> None:
    assert c.id is not None
    opener = await service.fx_org(ctx, c.org_id)
    mine = await service.branch_of(ctx, c, ctx.person)
    own = await service.own_answers(ctx, c, ctx.person_id) if mine is not None else None
    await ctx.reply(
        views.card(
            ctx.t,
            c,
            opener,
            ctx.now,
            own,
            await _managed_branches(ctx, c),
            await service.oversight(ctx, c) is not None,
        )
    )


# --- /nytt_radslag --------------------------------------------------------------------


async def new(ctx: Context, args: str) -> None:
    _ = ctx.t
    if not ctx.chat.is_private and ctx.answered_elsewhere:
        raise Refusal(_("Let's do it in private: write /nytt_radslag to me directly."))
    wanted = args.strip().lower()
    hosts: list[Organisation] = []
    for role in await ctx.uow.people.roles_of(ctx.person_id):
        # Where they hold the role; with a name, any party or district below it too.
        found = (
            await ctx.uow.orgs.subtree(role.org_id)
            if wanted
            else [await service.fx_org(ctx, role.org_id)]
        )
        for org in found:
            if (
                org.kind in service.OPENING_KINDS
                and (not wanted or org.slug == wanted)
                and all(h.id != org.id for h in hosts)
                and await service.may_manage(ctx, org)
            ):
                hosts.append(org)
    if not hosts:
        raise Refusal(_("Only party and district organisers can open a rådslag."))
    if len(hosts) > 1:
        names = ", ".join(h.slug for h in hosts)
        raise Refusal(
            _("Write which one it is from, e.g. /nytt_radslag {slug} ({names}).").format(
                slug=hosts[0].slug, names=names
            )
        )
    assert hosts[0].id is not None
    await NEW_CONSULTATION.start(
        ctx,
        NewConsultation(org_id=hosts[0].id),
        lead=_("A new rådslag from {org}.").format(org=hosts[0].name),
    )


# --- members --------------------------------------------------------------------------


async def answer(ctx: Context, args: tuple[Any, ...]) -> None:
    c = await service.find(ctx, args[0])
    if not c.is_open(ctx.now):
        raise Refusal(ctx.t("This rådslag is closed."))
    branch = await service.branch_of(ctx, c, ctx.person)
    if branch is None or branch.id is None:
        raise Refusal(ctx.t("This rådslag asks the members of the branches it went to."))
    await MEMBER_ANSWERS.start(ctx, Answering(args[0], branch.id, len(c.questions)))


# --- the branch ----------------------------------------------------------------------


async def _branch(ctx: Context, args: tuple[Any, ...]) -> tuple[Consultation, Organisation]:
    c = await service.find(ctx, args[0])
    branch = next((b for b in await service.invited_branches(ctx, c) if b.id == args[1]), None)
    if branch is None:
        raise Refusal(ctx.t("I can't find that rådslag. Write /radslag to see yours."))
    await ctx.require(Permission.MANAGE_CONSULTATIONS, branch)
    return c, branch


async def show_branch(ctx: Context, c: Consultation, branch: Organisation) -> None:
    rows = await service.summaries(ctx, c, [branch], in_branch=True)
    done = await service.submission(ctx, c, branch)
    await ctx.reply(views.branch_view(ctx.t, c, branch, rows, done, ctx.now))


async def branch_button(ctx: Context, args: tuple[Any, ...]) -> None:
    await show_branch(ctx, *await _branch(ctx, args))


async def write(ctx: Context, args: tuple[Any, ...]) -> None:
    c, branch = await _branch(ctx, args)
    if await service.submission(ctx, c, branch) is not None or not c.is_open(ctx.now):
        raise Refusal(ctx.t("The branch's answer is submitted and can no longer be changed."))
    assert branch.id is not None
    await BRANCH_ANSWERS.start(ctx, Answering(args[0], branch.id, len(c.questions)))


async def ask_submit(ctx: Context, args: tuple[Any, ...]) -> None:
    c, branch = await _branch(ctx, args)
    await _still_open(ctx, c, branch)
    answered = len(await ctx.uow.consultations.branch_answers(args[0], branch.id))
    await ctx.reply(views.submit_question(ctx.t, c, branch, answered))


async def _still_open(ctx: Context, c: Consultation, branch: Organisation) -> None:
    if await service.submission(ctx, c, branch) is not None:
        raise Refusal(ctx.t("The branch's answer is submitted and can no longer be changed."))
    if not c.is_open(ctx.now):
        raise Refusal(ctx.t("This rådslag is closed."))


async def confirm_submit(ctx: Context, args: tuple[Any, ...]) -> None:
    c, branch = await _branch(ctx, args)
    await _still_open(ctx, c, branch)
    done = await service.submit(ctx, c, branch, ctx.person_id)
    rows = await service.summaries(ctx, c, [branch], in_branch=True)
    await ctx.reply(views.receipt(ctx.t, c, branch, done, rows))


# --- upward ---------------------------------------------------------------------------


async def _opened_here(ctx: Context, raw: int) -> tuple[Consultation, Organisation]:
    """The rådslag and where this person oversees it (the party, or their district)."""
    c = await service.find(ctx, raw)
    scope = await service.oversight(ctx, c)
    if scope is None:
        await ctx.require(Permission.MANAGE_CONSULTATIONS, await service.fx_org(ctx, c.org_id))
    assert scope is not None
    return c, scope


async def show_overview(ctx: Context, args: tuple[Any, ...]) -> None:
    c, scope = await _opened_here(ctx, args[0])
    await ctx.reply(views.overview(ctx.t, c, scope, await service.overview(ctx, c, scope)))


async def export_as(ctx: Context, args: tuple[Any, ...]) -> None:
    c, scope = await _opened_here(ctx, args[0])
    data = await export.gather(ctx, c, scope)
    attachment = export.export_file(ctx.t, data, args[1])
    await ctx.reply(
        MessageBuilder()
        .line(ctx.t("{title}, per question.").format(title=c.title))
        .attach(attachment)
        .build()
    )


# --- a meeting on it ----------------------------------------------------------------


async def tie(ctx: Context, args: str) -> None:
    words = args.split()
    if len(words) != 2 or parse_id(words[0].lstrip("#")) is None:
        raise Refusal(
            ctx.t("Write the rådslag's number and the meeting's, e.g. /radslag_mote 1 3.")
        )
    c = await service.find(ctx, parse_id(words[0].lstrip("#")))
    await capture.tie_meeting(ctx, c, words[1].lstrip("#"))
    await ctx.reply(
        message(
            ctx.t("The meeting is tied to {title}; its thread has the questions.").format(
                title=c.title
            )
        )
    )
