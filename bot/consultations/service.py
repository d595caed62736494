"""Use cases for rådslag, callable without a chat: open, answer, contribute, submit, oversee.

Timers, useful until the deadline: `consultation:<id>:invite:<branch>` (kind `INVITE`, due
at once) tells one branch's organisers and invites its members; `consultation:<id>:remind`
(kind `REMIND`) once before the deadline reminds the members who have not answered and
the organisers of branches that have not submitted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.consultations import views
from bot.consultations.model import (
    BranchAnswer,
    Consultation,
    MeetingTie,
    MemberAnswer,
    QuestionSummary,
    Submission,
    ThreadContribution,
    Visibility,
    individual_answers_leave_branch,
    receipt_code,
    reminder_at,
    shown_name,
    took_part,
)
from bot.context import Context, Effects, Refusal
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation, OrgKind
from bot.domain.people import Person, Role, Status
from bot.i18n import Translator
from bot.messages import OutgoingMessage
from bot.permissions import Permission

log = logging.getLogger(__name__)

REMIND = "consultation.remind"
INVITE = "consultation.invite"
OPENING_KINDS = (OrgKind.PARTY, OrgKind.DISTRICT)


@dataclass
class BranchStatus:
    branch: Organisation
    invited: int
    took_part: int
    submitted: Submission | None


# --- who is in it ----------------------------------------------------------------


async def invited_branches(fx: Effects, c: Consultation) -> list[Organisation]:
    """The branches below (or among) the rådslag's targets: they inherit it."""
    found: dict[int, Organisation] = {}
    for target in c.targets:
        for org in await fx.uow.orgs.subtree(target):
            if org.kind is OrgKind.BRANCH and org.id is not None:
                found.setdefault(org.id, org)
    return [found[k] for k in sorted(found)]


async def branch_of(fx: Effects, c: Consultation, person: Person) -> Organisation | None:
    """The invited branch a member answers through (their own, or the one above their
    association); None for a guest or someone outside the rådslag."""
    if person.status is not Status.MEMBER or person.id is None:
        return None
    invited = {b.id: b for b in await invited_branches(fx, c)}
    for affiliation in await fx.uow.people.affiliations_of(person.id):
        for org in await fx.uow.orgs.lineage(affiliation.org_id):
            if org.id in invited:
                return invited[org.id]
    return None


async def members_of(fx: Effects, branch: Organisation) -> Sequence[Person]:
    """The consenting members of a branch and its associations."""
    ids = [o.id for o in await fx.uow.orgs.subtree(branch.id or 0) if o.id is not None]
    return await fx.uow.polls.eligible(ids, members_only=True)


async def organisers_of(fx: Effects, org: Organisation) -> list[Person]:
    assert org.id is not None
    return [p for p, role in await fx.uow.people.role_holders(org.id) if role is Role.ORGANISER]


async def may_manage(ctx: Context, org: Organisation) -> bool:
    return await ctx.meets(Permission.MANAGE_CONSULTATIONS, org)


async def visible_to(ctx: Context, c: Consultation) -> bool:
    """Who may know of a rådslag: its invited members, organisers of an invited branch, and
    organisers where it was opened."""
    if await oversight(ctx, c) is not None or await branch_of(ctx, c, ctx.person) is not None:
        return True
    return any([await may_manage(ctx, b) for b in await invited_branches(ctx, c)])


async def oversight(ctx: Context, c: Consultation) -> Organisation | None:
    """Where this person oversees the rådslag: the opening organisation, else the highest
    organisation between it and an invited branch (a district) where they organise."""
    opener = await fx_org(ctx, c.org_id)
    if await may_manage(ctx, opener):
        return opener
    for branch in await invited_branches(ctx, c):
        assert branch.id is not None
        above = list(reversed(await ctx.uow.orgs.lineage(branch.id)))[:-1]  # top first
        for org in above:
            below_opener = opener.id in [o.id for o in await ctx.uow.orgs.lineage(org.id or 0)]
            if below_opener and await may_manage(ctx, org):
                return org
    return None


async def branches_under(fx: Effects, c: Consultation, scope: Organisation) -> list[Organisation]:
    """The invited branches an overseer at `scope` sees."""
    found = []
    for branch in await invited_branches(fx, c):
        if scope.id in [o.id for o in await fx.uow.orgs.lineage(branch.id or 0)]:
            found.append(branch)
    return found


async def fx_org(fx: Effects, org_id: int) -> Organisation:
    org = await fx.uow.orgs.get(org_id)
    assert org is not None
    return org


async def find(ctx: Context, raw_id: int | None) -> Consultation:
    c = await ctx.uow.consultations.get(raw_id) if raw_id else None
    if c is None or not await visible_to(ctx, c):
        raise Refusal(ctx.t("I can't find that rådslag. Write /radslag to see yours."))
    return c


# --- opening ---------------------------------------------------------------------


async def open_consultation(fx: Effects, c: Consultation) -> int:
    """Stores the rådslag and arms its reminder; each invited branch is told, and its
    members invited, by a timer of its own (a branch at a time, never the whole party in
    one transaction). Returns how many branches it goes to."""
    c = await fx.uow.consultations.add(c)
    assert c.id is not None
    await fx.schedule(
        f"consultation:{c.id}:remind", REMIND, reminder_at(fx.now, c.deadline), {"id": c.id}
    )
    branches = await invited_branches(fx, c)
    for branch in branches:
        await fx.schedule(
            f"consultation:{c.id}:invite:{branch.id}",
            INVITE,
            fx.now,
            {"id": c.id, "branch": branch.id},
        )
    log.info("consultation %s opened for %d branches", c.id, len(branches))
    return len(branches)


async def invite(fx: Effects, timer: Timer) -> None:
    """One branch: its organisers are told, its members invited (once each, by key)."""
    c = await _timer_consultation(fx, timer)
    branch_id = timer.payload.get("branch")
    branch = await fx.uow.orgs.get(branch_id) if isinstance(branch_id, int) else None
    if c is None or branch is None or not c.is_open(fx.now):
        return
    opener = await fx_org(fx, c.org_id)

    def told(t: Translator) -> OutgoingMessage:
        return views.branch_told(t, c, opener, branch)

    await fx.notify_each(
        await organisers_of(fx, branch), told, key=f"consultation:{c.id}:branch:{branch.id}"
    )

    def invited(t: Translator) -> OutgoingMessage:
        return views.invitation(t, c, opener, branch)

    await fx.notify_each(await members_of(fx, branch), invited, key=f"consultation:{c.id}:invite")


# --- members' answers ------------------------------------------------------------


async def own_answers(fx: Effects, c: Consultation, person_id: int) -> dict[int, MemberAnswer]:
    assert c.id is not None
    return {a.question: a for a in await fx.uow.consultations.answers_of(c.id, person_id)}


async def save_answer(
    fx: Effects, c: Consultation, branch: Organisation, person_id: int, question: int, text: str
) -> None:
    """Saves (or changes) one answer as a draft until `finish_answers`."""
    assert c.id is not None and branch.id is not None
    existing = (await own_answers(fx, c, person_id)).get(question)
    if existing is None:
        await fx.uow.consultations.add_answer(
            MemberAnswer(c.id, branch.id, question, text, False, fx.now, person_id)
        )
    else:
        existing.text, existing.updated_at, existing.final = text, fx.now, False


async def finish_answers(fx: Effects, c: Consultation, person_id: int) -> int:
    """Hands in a member's answers; returns how many there are."""
    answers = await own_answers(fx, c, person_id)
    for answer in answers.values():
        answer.final, answer.updated_at = True, fx.now
    return len(answers)


# --- a meeting on it ---------------------------------------------------------------


async def tie_meeting(fx: Effects, c: Consultation, meeting_id: int) -> bool:
    """Ties a meeting to the rådslag; False if it was tied already."""
    assert c.id is not None
    if any(t.consultation_id == c.id for t in await fx.uow.consultations.ties(meeting_id)):
        return False
    await fx.uow.consultations.add_tie(MeetingTie(c.id, meeting_id))
    return True


async def tied_to(fx: Effects, meeting_id: int) -> Consultation | None:
    """The open rådslag a meeting is tied to (the newest, if several)."""
    for tie in reversed(await fx.uow.consultations.ties(meeting_id)):
        c = await fx.uow.consultations.get(tie.consultation_id)
        if c is not None and c.is_open(fx.now):
            return c
    return None


async def add_contribution(
    fx: Effects,
    c: Consultation,
    branch: Organisation,
    meeting_id: int,
    question: int,
    text: str,
    *,
    person_id: int | None,
    recorded_by: int | None,
) -> None:
    assert c.id is not None and branch.id is not None
    await fx.uow.consultations.add_contribution(
        ThreadContribution(
            c.id, branch.id, question, text, fx.now, meeting_id, person_id, recorded_by
        )
    )


# --- the branch's answer -----------------------------------------------------------


async def submission(fx: Effects, c: Consultation, branch: Organisation) -> Submission | None:
    assert c.id is not None
    return next(
        (s for s in await fx.uow.consultations.submissions(c.id) if s.org_id == branch.id), None
    )


async def save_branch_answer(
    fx: Effects, c: Consultation, branch: Organisation, question: int, text: str, by: int
) -> None:
    assert c.id is not None and branch.id is not None
    found = {a.question: a for a in await fx.uow.consultations.branch_answers(c.id, branch.id)}
    existing = found.get(question)
    if existing is None:
        await fx.uow.consultations.add_branch_answer(
            BranchAnswer(c.id, branch.id, question, text, fx.now, by)
        )
    else:
        existing.text, existing.updated_at, existing.updated_by = text, fx.now, by


async def submit(fx: Effects, c: Consultation, branch: Organisation, by: int) -> Submission:
    assert c.id is not None and branch.id is not None
    done = Submission(c.id, branch.id, fx.now, receipt_code(c.id, branch.id, fx.now), by)
    await fx.uow.consultations.add_submission(done)
    return done


# --- what is shown -------------------------------------------------------------------


async def _name(fx: Effects, person_id: int | None) -> str | None:
    person = await fx.uow.people.get(person_id) if person_id is not None else None
    return person.display_name if person is not None else None


async def summaries(
    fx: Effects, c: Consultation, branches: Sequence[Organisation], *, in_branch: bool
) -> list[QuestionSummary]:
    """Per question: the members' final answers and the contributions (named as the
    setting allows; within the branch, organisers see names unless it is anonymous), their
    counts, and the branches' answers."""
    assert c.id is not None
    ids = {b.id for b in branches}
    names = {b.id: b.name for b in branches}
    rows = [QuestionSummary(n + 1, q) for n, q in enumerate(c.questions)]
    listed = in_branch or individual_answers_leave_branch(c.visibility)
    for a in await fx.uow.consultations.answers(c.id):
        if a.org_id in ids and a.final and a.question < len(rows):
            rows[a.question].answer_count += 1
            if listed:
                rows[a.question].answers.append(
                    (await _shown(fx, c, a.person_id, in_branch), a.text)
                )
    for k in await fx.uow.consultations.contributions(c.id):
        if k.org_id in ids and k.question < len(rows):
            rows[k.question].contribution_count += 1
            if listed:
                rows[k.question].contributions.append(
                    (await _shown(fx, c, k.person_id, in_branch), k.text)
                )
    for b in await fx.uow.consultations.branch_answers(c.id):
        if b.org_id in ids and b.question < len(rows):
            rows[b.question].branch_answers.append((names[b.org_id], b.text))
    if c.visibility is Visibility.ANONYMOUS:  # never in the order people answered
        for row in rows:
            row.answers.sort(key=lambda pair: pair[1])
            row.contributions.sort(key=lambda pair: pair[1])
    return rows


async def _shown(
    fx: Effects, c: Consultation, person_id: int | None, in_branch: bool
) -> str | None:
    name = await _name(fx, person_id)
    if in_branch and c.visibility is Visibility.ORGANISERS:
        return name  # only the branch's organisers see this view
    return shown_name(c.visibility, name)


async def overview(fx: Effects, c: Consultation, scope: Organisation) -> list[BranchStatus]:
    """Per branch below `scope`: invited members, who took part, submitted or not."""
    assert c.id is not None
    done = {s.org_id: s for s in await fx.uow.consultations.submissions(c.id)}
    found = []
    for branch in await branches_under(fx, c, scope):
        answers = await fx.uow.consultations.answers(c.id, branch.id)
        found.append(
            BranchStatus(
                branch,
                len(await members_of(fx, branch)),
                len(took_part(answers)),
                done.get(branch.id or 0),
            )
        )
    return found


# --- the reminder ----------------------------------------------------------------------


async def until_deadline(fx: Effects, timer: Timer) -> datetime | None:
    c = await _timer_consultation(fx, timer)
    return c.deadline if c is not None else None


async def _timer_consultation(fx: Effects, timer: Timer) -> Consultation | None:
    raw = timer.payload.get("id")
    return await fx.uow.consultations.get(raw) if isinstance(raw, int) else None


async def remind(fx: Effects, timer: Timer) -> None:
    """Once: members without a handed-in answer, and organisers of branches not submitted."""
    c = await _timer_consultation(fx, timer)
    if c is None or not c.is_open(fx.now):
        return
    assert c.id is not None
    opener = await fx_org(fx, c.org_id)
    submitted = {s.org_id for s in await fx.uow.consultations.submissions(c.id)}
    for branch in await invited_branches(fx, c):
        answered = took_part(await fx.uow.consultations.answers(c.id, branch.id))
        waiting = [p for p in await members_of(fx, branch) if p.id not in answered]

        def member(t: Translator, branch: Organisation = branch) -> OutgoingMessage:
            return views.member_reminder(t, c, opener, branch, fx.now)

        await fx.notify_each(waiting, member, key=f"consultation:{c.id}:remind")
        if branch.id in submitted:
            continue

        def organiser(t: Translator, branch: Organisation = branch) -> OutgoingMessage:
            return views.branch_reminder(t, c, branch, fx.now)

        await fx.notify_each(
            await organisers_of(fx, branch),
            organiser,
            key=f"consultation:{c.id}:remind-branch:{branch.id}",
        )
