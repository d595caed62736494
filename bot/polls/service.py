"""Polls' use cases: what the handlers, other capabilities, the CLI and the demo call.

Opening, casting, closing and counting live here; so does `POLL`, the target every
poll button acts on (`bot.actions`): the core loads the poll by id and checks an
organiser's permission in the poll's own organisation. Anonymous polls follow the
scheme in `bot/polls/model.py`: nothing here links a person to what they chose.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from bot.actions import Choice, Target
from bot.context import Context, Effects, MessageFor, Refusal
from bot.domain.organisations import Organisation
from bot.domain.people import Person, Status
from bot.formatting import when
from bot.i18n import Translator
from bot.meetings.model import Audience, Meeting
from bot.meetings.service import MeetingDraft, create_meeting
from bot.messages import message
from bot.outbox import enqueue
from bot.permissions import Permission
from bot.polls.model import (
    MAX_OPTIONS,
    Answer,
    Ballot,
    InvalidChoice,
    Poll,
    PollKind,
    PollStatus,
    Stance,
    Tally,
    nudge_time,
    tally,
    validate_choice,
    voter_key,
)
from bot.polls.native import NativePollPost
from bot.polls.views import announcement, native_ref, now_private, result_message

CLOSE_TIMER = "poll.close"
NUDGE_TIMER = "poll.nudge"
MEETING_LENGTH = timedelta(hours=2)  # a meeting made from a time poll; the organiser can change it

POLL: Target[Poll] = Target(
    load=lambda fx, poll_id: fx.uow.polls.get(poll_id),
    org_id=lambda poll: poll.org_id,
)
# A button's option: its position among the options (or the stance), from 0.
OPTION = Choice(*(str(i) for i in range(max(MAX_OPTIONS, len(Stance)))))
# A time poll's answer for one time.
ANSWER = Choice(*(str(a.value) for a in Answer))


async def reachable_org_ids(effects: Effects, person: Person) -> list[int]:
    """Organisations whose polls this person may answer: theirs and those above them."""
    assert person.id is not None
    found: list[int] = []
    for affiliation in await effects.uow.people.affiliations_of(person.id):
        for org in await effects.uow.orgs.lineage(affiliation.org_id):
            if org.id is not None and org.id not in found:
                found.append(org.id)
    return found


async def subtree_ids(effects: Effects, org_id: int) -> list[int]:
    return [o.id for o in await effects.uow.orgs.subtree(org_id) if o.id is not None]


async def poll_org(effects: Effects, poll: Poll) -> Organisation:
    org = await effects.uow.orgs.get(poll.org_id)
    assert org is not None
    return org


async def manages(ctx: Context, poll: Poll) -> bool:
    return Permission.MANAGE_POLLS in await ctx.permissions(await poll_org(ctx, poll))


async def check_can_vote(ctx: Context, poll: Poll) -> None:
    """Refuses, saying why, unless the poll takes votes and this person may cast one."""
    org = await poll_org(ctx, poll)
    if not poll.accepts_votes(ctx.now):
        closed = poll.closed_at or poll.deadline
        raise Refusal(
            ctx.t(
                "Sorry, this poll closed {when}, so your vote was not counted. "
                "Write /omrostningar to see the open ones."
            ).format(when=when(min(closed, poll.deadline), org.zone, ctx.t))
        )
    if poll.org_id not in await reachable_org_ids(ctx, ctx.person):
        raise Refusal(
            ctx.t("This poll is for {org}, so you can't vote in it.").format(org=org.name)
        )
    if poll.members_only and ctx.person.status is not Status.MEMBER:
        raise Refusal(
            ctx.t(
                "This poll is for members only. You are welcome in every open conversation; "
                "ask an organiser if you would like to become a member."
            )
        )


async def current(effects: Effects, poll: Poll, person_id: int) -> Ballot | None:
    assert poll.id is not None
    if poll.anonymous:
        secret = await effects.uow.polls.secret(poll.id)
        if secret is None:
            return None
        return await effects.uow.polls.ballot_by_key(poll.id, voter_key(secret, poll.id, person_id))
    return await effects.uow.polls.ballot_of(poll.id, person_id)


async def cast(
    effects: Effects,
    poll: Poll,
    person_id: int,
    choice: list[int] | None,
    reason: str | None = None,
) -> None:
    """Replaces the person's ballot with `choice`, or withdraws it (None). The one way votes change.

    Callers check that the poll is open and that the person may vote.
    """
    assert poll.id is not None and poll.accepts_votes(effects.now)
    polls = effects.uow.polls
    if choice is None:
        old = await current(effects, poll, person_id)
        if old is not None:
            await polls.remove_ballot(old)
        await polls.withdraw(poll.id, person_id)
        return
    choice = validate_choice(poll, choice)
    if poll.anonymous:
        secret = await polls.secret(poll.id)
        assert secret is not None
        ballot = Ballot(poll.id, choice, voter_key=voter_key(secret, poll.id, person_id))
    else:
        ballot = Ballot(poll.id, choice, person_id=person_id, reason=reason)
    # Written over any earlier ballot without reading it first (a statement less a vote).
    await polls.put_ballot(ballot)
    await polls.participate(poll.id, person_id)


async def store(
    ctx: Context, poll: Poll, choice: list[int] | None, reason: str | None = None
) -> None:
    """`cast` for the person pressing or writing: a choice that doesn't fit is refused."""
    try:
        await cast(ctx, poll, ctx.person_id, choice, reason)
    except InvalidChoice as exc:
        raise Refusal(ctx.t("That vote doesn't fit this poll. Nothing was changed.")) from exc


async def open_poll(effects: Effects, poll: Poll, org: Organisation) -> Poll:
    """Stores a new poll, arms its timers and posts it in the organisation's group chats."""
    poll = await effects.uow.polls.add(poll)
    assert poll.id is not None
    if poll.anonymous:
        await effects.uow.polls.set_secret(poll.id, secrets.token_hex(32))
    await schedule(effects, poll)
    now = effects.now
    await effects.post_to_org(
        org, lambda t: announcement(t, poll, org, now), key=f"poll:{poll.id}:open"
    )
    return poll


async def schedule(effects: Effects, poll: Poll) -> None:
    payload = {"poll_id": poll.id}
    await effects.schedule(f"poll:{poll.id}:close", CLOSE_TIMER, poll.deadline, payload)
    reminder = nudge_time(effects.now, poll.deadline)
    if reminder is not None:
        await effects.schedule(f"poll:{poll.id}:nudge", NUDGE_TIMER, reminder, payload)


async def stop_native(
    effects: Effects,
    poll: Poll,
    *,
    only: NativePollPost | None = None,
    notice: MessageFor | None = None,
) -> None:
    """Ends the poll's native polls on the platforms (each once), through the outbox.

    `notice` is posted with it (in the organisation's language), e.g. where voting goes now.
    """
    org = await poll_org(effects, poll)
    for post in await effects.uow.native_polls.of(native_ref(poll)):
        if only is not None and post.id != only.id:
            continue
        text = notice(Translator(org.language)) if notice else message()
        await enqueue(
            effects.uow,
            key=f"poll:{poll.id}:stop:{post.platform}:{post.handle}",
            platform=post.platform,
            chat_id=post.chat_id,
            direct=False,
            message=replace(
                text,
                stop_native_poll=True,
                refers_to=f"poll:{poll.id}:open",
                reference=post.reference,
            ),
            now=effects.now,
        )


async def set_anonymous(effects: Effects, poll: Poll, anonymous: bool) -> None:
    """Makes a poll without votes anonymous or visible; callers check that no one has voted."""
    assert poll.id is not None
    poll.anonymous = anonymous
    await effects.uow.polls.set_secret(poll.id, secrets.token_hex(32) if anonymous else None)
    if anonymous:  # a native poll shows every voter: from now on votes are private only
        await stop_native(effects, poll, notice=now_private(poll))


async def close_poll(effects: Effects, poll: Poll, *, on_time: bool = False) -> None:
    """Closes the poll for good: the secret goes, the result is posted to the channels and voters."""
    assert poll.id is not None
    org = await poll_org(effects, poll)
    polls = effects.uow.polls
    eligible = await polls.eligible(await subtree_ids(effects, poll.org_id), poll.members_only)
    poll.status = PollStatus.CLOSED
    poll.closed_at = min(effects.now, poll.deadline)
    poll.eligible_count = len(eligible)
    await polls.set_secret(poll.id, None)  # from here on no ballot can be linked to anyone
    await polls.seal(poll.id)
    await stop_native(effects, poll)  # the platforms' own polls end now, before the result
    if not on_time:  # the running close timer is marked done by the core itself
        await effects.uow.timers.cancel(f"poll:{poll.id}:close")
    await effects.uow.timers.cancel(f"poll:{poll.id}:nudge")
    result = await tally_of(effects, poll)
    key = f"poll:{poll.id}:result"
    await effects.post_to_org(
        org, lambda t: result_message(t, poll, org, result, chart=True), key=key
    )
    voters = [
        person
        for person_id in await polls.participants(poll.id)
        if person_id != poll.created_by  # the creator gets the organiser's copy below
        and (person := await effects.uow.people.get(person_id)) is not None
    ]
    await effects.notify_each(voters, lambda t: result_message(t, poll, org, result), key=key)
    creator = await effects.uow.people.get(poll.created_by) if poll.created_by else None
    if creator is not None:
        names = None if poll.anonymous else await names_by_choice(effects, poll)
        time_names = None if poll.anonymous else await names_by_answer(effects, poll)
        blocks = [] if poll.anonymous else await blocking_reasons(effects, poll)
        await effects.notify(
            creator,
            lambda t: result_message(
                t,
                poll,
                org,
                result,
                names=names,
                time_names=time_names,
                chart=True,
                blocks=blocks,
                offer_meeting=True,
            ),
            key=f"poll:{poll.id}:organiser",
        )


async def blocking_reasons(effects: Effects, poll: Poll) -> list[tuple[str, str | None]]:
    assert poll.id is not None
    if poll.kind is not PollKind.PROPOSAL:
        return []
    found: list[tuple[str, str | None]] = []
    for ballot in await effects.uow.polls.ballots(poll.id):
        if ballot.choice == [Stance.BLOCK]:
            person = await effects.uow.people.get(ballot.person_id) if ballot.person_id else None
            found.append((person.display_name if person else "", ballot.reason))
    return sorted(found, key=lambda b: b[0])


async def tally_of(effects: Effects, poll: Poll) -> Tally:
    assert poll.id is not None
    return tally(poll, [b.choice for b in await effects.uow.polls.ballots(poll.id)])


async def names_by_choice(effects: Effects, poll: Poll) -> dict[int, list[str]]:
    """Visible polls only: who chose each option (or stance), and blocks with reasons."""
    assert poll.id is not None and not poll.anonymous
    names: dict[int, list[str]] = {}
    for ballot in await effects.uow.polls.ballots(poll.id):
        person = await effects.uow.people.get(ballot.person_id) if ballot.person_id else None
        if person is None:
            continue
        if poll.kind is PollKind.TIME:
            continue  # per time and answer: names_by_answer
        for position, option in enumerate(ballot.choice):
            if poll.kind is PollKind.RANKED:
                if position == 0:
                    names.setdefault(option, []).append(person.display_name)
            else:
                names.setdefault(option, []).append(person.display_name)
    for listed in names.values():
        listed.sort()
    return names


async def names_by_answer(effects: Effects, poll: Poll) -> dict[tuple[int, Answer], list[str]]:
    """A visible time poll: who answered yes, if need be and no to each time."""
    assert poll.id is not None and not poll.anonymous
    names: dict[tuple[int, Answer], list[str]] = {}
    if poll.kind is not PollKind.TIME:
        return names
    for ballot in await effects.uow.polls.ballots(poll.id):
        person = await effects.uow.people.get(ballot.person_id) if ballot.person_id else None
        if person is not None:
            for position, answer in enumerate(ballot.choice):
                names.setdefault((position, Answer(answer)), []).append(person.display_name)
    for listed in names.values():
        listed.sort()
    return names


async def meeting_at_best_time(ctx: Context, poll: Poll, org: Organisation, theme: str) -> Meeting:
    """A closed time poll becomes a themed meeting at its best time: the details can be edited later."""
    starts, ends = await best_time(ctx, poll)
    draft = MeetingDraft(
        theme=theme,
        starts_at=starts,
        ends_at=ends or starts + MEETING_LENGTH,
        audience=Audience.MEMBERS if poll.members_only else Audience.OPEN,
    )
    meeting = await create_meeting(ctx, org, draft, created_by=ctx.person_id)
    poll.meeting_id = meeting.id
    return meeting


async def best_time(ctx: Context, poll: Poll) -> tuple[datetime, datetime | None]:
    """The time a meeting from this poll gets; refuses when there is none to be had."""
    if poll.kind is not PollKind.TIME or poll.is_open:
        raise Refusal(ctx.t("A meeting can be created from a closed time poll."))
    if poll.meeting_id is not None:
        raise Refusal(
            ctx.t("The meeting is created already: see it with /moten {n}.").format(
                n=poll.meeting_id
            )
        )
    result = await tally_of(ctx, poll)
    if not result.leaders:
        raise Refusal(ctx.t("No one answered, so there is no best time."))
    return poll.spans()[result.leaders[0]]


async def merge_votes(effects: Effects, keep_id: int, drop_id: int) -> None:
    """Keeps one vote per person when two accounts become one person (`/koppla`).

    Call it before `PeopleRepository.merge(keep_id, drop_id)`. Visible ballots and
    participation rows are merged there (the kept person's row wins a clash);
    anonymous ballots name no one, so they are found by voter key here: the
    dropped account's ballot is removed where the kept one voted too, and
    re-keyed to the kept person where it did not.
    """
    polls = effects.uow.polls
    for poll_id in await polls.voted_in(drop_id):
        poll = await polls.get(poll_id)
        secret = await polls.secret(poll_id)
        if poll is None or not poll.anonymous or secret is None:
            continue
        dropped = await polls.ballot_by_key(poll_id, voter_key(secret, poll_id, drop_id))
        if dropped is None:
            continue
        if await polls.ballot_by_key(poll_id, voter_key(secret, poll_id, keep_id)) is not None:
            await polls.remove_ballot(dropped)
        else:
            choice = list(dropped.choice)
            await polls.remove_ballot(dropped)
            key = voter_key(secret, poll_id, keep_id)
            await polls.add_ballot(Ballot(poll_id, choice, voter_key=key))


# --- demo --------------------------------------------------------------------

DEMO_QUESTION = "Vilka teman vill du att vi samtalar om under året?"
DEMO_THEMES = ("Skolan och barnen", "Vården nära dig", "Jobben i Sandviken", "Klimatet", "Trygghet")
# Far enough out that no transcript on the demo data walks the clock past its nudge or close.
DEMO_OPEN_FOR = timedelta(days=330)


async def seed_demo_poll(effects: Effects) -> None:
    """One open, anonymous ranked-choice poll in Sandviken, created by Bertil."""
    org = await effects.uow.orgs.by_slug("sandviken")
    bertil = await effects.uow.people.by_identity("console", "bertil")
    if org is None or org.id is None or bertil is None:
        return
    poll = await effects.uow.polls.add(
        Poll(
            org_id=org.id,
            kind=PollKind.RANKED,
            question=DEMO_QUESTION,
            options=list(DEMO_THEMES),
            deadline=effects.now + DEMO_OPEN_FOR,
            anonymous=True,
            members_only=False,
            live_results=False,
            created_by=bertil.id,
            created_at=effects.now,
        )
    )
    assert poll.id is not None
    await effects.uow.polls.set_secret(poll.id, secrets.token_hex(32))
    await schedule(effects, poll)
