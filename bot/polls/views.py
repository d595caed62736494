"""What polls say: message builders, pure functions of the data and a Translator.

The use cases (`service.py`) and the handlers (`entry.py`) gather the data; nothing here
reads the database or the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.context import MessageFor
from bot.domain.organisations import Organisation
from bot.formatting import day, local, when
from bot.i18n import N_, Translator
from bot.messages import (
    Action,
    Attachment,
    Button,
    MessageBuilder,
    NativePoll,
    OutgoingMessage,
    bold,
    message,
)
from bot.polls.model import (
    Answer,
    Ballot,
    Poll,
    PollKind,
    Stance,
    Tally,
    option_span,
    quorum_reached,
    write_ranking,
)
from bot.polls.native import may_go_native
from bot.render.charts import Series, bar_chart

KIND_NAMES = {
    PollKind.SINGLE: N_("Single choice"),
    PollKind.MULTIPLE: N_("Multiple choice"),
    PollKind.TIME: N_("Find a time"),
    PollKind.RANKED: N_("Ranked choice"),
    PollKind.PROPOSAL: N_("Proposal"),
}
STANCE_NAMES = {
    Stance.AGREE: N_("Agree"),
    Stance.ABSTAIN: N_("Abstain"),
    Stance.DISAGREE: N_("Disagree"),
    Stance.BLOCK: N_("Block"),
}
ANSWER_NAMES = {Answer.YES: N_("Yes"), Answer.IF_NEED_BE: N_("If need be"), Answer.NO: N_("No")}
# A time poll's result, per time: "2 yes, 1 if need be, 1 no".
TIME_COUNTS = {
    Answer.YES: N_("{n} yes"),
    Answer.IF_NEED_BE: N_("{n} if need be"),
    Answer.NO: N_("{n} no"),
}
OUTCOME_NAMES = {
    "accepted": N_("Accepted"),
    "rejected": N_("Not accepted"),
    "blocked": N_("Blocked"),
}


def card(
    t: Translator, poll: Poll, org: Organisation, *, voted: bool, count: int, manages: bool
) -> OutgoingMessage:
    """A poll in /omrostningar: its settings, how many have voted, and what this person may press."""
    text = MessageBuilder().line(bold(poll.question))
    text.line(settings_line(t, poll, org))
    text.line(t("Closes {when}.").format(when=when(poll.deadline, org.zone, t)))
    if count:
        votes = t.ngettext("{n} has voted", "{n} have voted", count).format(n=count)
        text.line(votes + (t(", you too.") if voted else "."))
    else:
        text.line(t("No one has voted yet."))
    buttons = [
        Button(t("Change my vote") if voted else t("Vote"), Action("poll.open", (str(poll.id),)))
    ]
    if poll.results_visible_while_open or manages:
        buttons.append(Button(t("Results"), Action("poll.results", (str(poll.id),))))
    text.button_row(*buttons)
    if manages:
        organiser = [Button(t("Close now"), Action("poll.close", (str(poll.id),)))]
        if count == 0:
            label = t("Make visible") if poll.anonymous else t("Make anonymous")
            organiser.append(Button(label, Action("poll.anonymity", (str(poll.id),))))
        text.button_row(*organiser)
    return text.build()


def settings_line(_: Translator, poll: Poll, org: Organisation) -> str:
    parts = [_(KIND_NAMES[poll.kind])]
    if poll.kind is PollKind.MULTIPLE and poll.max_choices:
        parts[0] += " " + _("(at most {n})").format(n=poll.max_choices)
    parts.append(_("anonymous") if poll.anonymous else _("visible votes"))
    parts.append(_("members only") if poll.members_only else _("guests welcome"))
    if poll.quorum_percent:
        parts.append(_("quorum {percent} %").format(percent=poll.quorum_percent))
    return f"{org.name} · " + ", ".join(parts)


def announcement(t: Translator, poll: Poll, org: Organisation, now: datetime) -> OutgoingMessage:
    """The poll's post to the group: with a Vote button, and as a native poll where it may be."""

    def heading() -> MessageBuilder:
        text = MessageBuilder().line(bold(t("New poll: {question}").format(question=poll.question)))
        text.line(settings_line(t, poll, org))
        text.line(t("Closes {when}.").format(when=when(poll.deadline, org.zone, t)))
        return text

    text = heading()
    text.line(t("Press Vote and I will send you the ballot in a private message."))
    text.button_row(vote_button(t, poll))
    post = text.build()
    if not may_go_native(poll):
        return post
    native = heading().line(
        t(
            "Vote in the poll below: everyone in this chat sees who chose what. Your vote "
            "counts once you have started a private chat with me (/start); you can also "
            "vote there with /omrostningar."
        )
    )
    return replace(
        post,
        native_poll=NativePoll(
            ref=native_ref(poll),
            question=poll.question,
            options=tuple(poll.options),
            multiple=poll.kind is PollKind.MULTIPLE,
            opened_at=now,
            closes_at=poll.deadline,
            hide_results=not poll.live_results,
            spans=native.build().spans,
        ),
    )


def vote_button(t: Translator, poll: Poll) -> Button:
    """Opens the ballot in the person's private chat."""
    return Button(t("Vote"), Action("poll.open", (str(poll.id),)))


def native_ref(poll: Poll) -> str:
    return f"poll:{poll.id}"


def now_private(poll: Poll) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            t(
                'The poll "{question}" is anonymous now, so it takes votes only in a private '
                "chat with me: press Vote."
            ).format(question=poll.question)
        )
        text.button_row(vote_button(t, poll))
        return text.build()

    return build


def ballot_message(poll: Poll, org: Organisation, ballot: Ballot | None) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        pid = str(poll.id)
        chosen = ballot.choice if ballot else []
        text = MessageBuilder().line(bold(poll.question))
        text.line(t("Closes {when}.").format(when=when(poll.deadline, org.zone, t)))
        if poll.anonymous:
            text.line(t("Anonymous: I count your vote without knowing it is yours."))
        if poll.kind is PollKind.SINGLE:
            text.line(t("Press your choice. You can change it until the poll closes."))
            for index, option in enumerate(poll.options):
                mark = "✓ " if index in chosen else ""
                text.button_row(Button(mark + option, Action("poll.vote", (pid, str(index)))))
        elif poll.kind is PollKind.MULTIPLE:
            text.line(
                t(
                    "Press the options you choose, at most {n}. Press again to take one back."
                ).format(n=poll.max_choices or len(poll.options))
            )
            for index, option in enumerate(poll.options):
                mark = "✓ " if index in chosen else ""
                text.button_row(Button(mark + option, Action("poll.toggle", (pid, str(index)))))
        elif poll.kind is PollKind.TIME:
            text.line(
                t("Answer for each time: Yes, If need be or No. Times you leave count as No.")
            )
            for index, (moment, until) in enumerate(poll.spans(), start=1):
                answer = f" – {t(ANSWER_NAMES[Answer(chosen[index - 1])])}" if chosen else ""
                text.line(f"{index}. {short_time(t, moment, org.zone, until)}{answer}")
                text.button_row(
                    *(
                        Button(
                            f"{index}: {t(ANSWER_NAMES[a])}",
                            Action("poll.time", (pid, str(index - 1), str(a.value))),
                        )
                        for a in (Answer.YES, Answer.IF_NEED_BE, Answer.NO)
                    )
                )
        elif poll.kind is PollKind.RANKED:
            text.line(
                t(
                    "Press the options in the order you prefer them, your favourite first; "
                    "or write their numbers, e.g. 2 1 3. You need not rank them all."
                )
            )
            for index, option in enumerate(poll.options, start=1):
                text.line(f"{index}. {option}")
            if chosen:
                text.line(t("Your ranking: {ranking}").format(ranking=_ranking(poll, chosen)))
            for index, option in enumerate(poll.options):
                text.button_row(
                    Button(f"{index + 1}. {option}", Action("poll.rank", (pid, str(index))))
                )
            text.button_row(Button(t("Start over"), Action("poll.reset", (pid,))))
        else:
            if chosen:
                text.line(
                    t("Your answer: {stance}").format(stance=t(STANCE_NAMES[Stance(chosen[0])]))
                )
            text.line(t("Blocking means you can't accept the proposal at all."))
            stances = [
                Button(t(STANCE_NAMES[s]), Action("poll.vote", (pid, str(s.value)))) for s in Stance
            ]
            text.button_row(*stances[:2])
            text.button_row(*stances[2:])
        return text.build()

    return build


def counted(t: Translator, poll: Poll, org: Organisation) -> str:
    return t(
        "Counted. Anonymous poll: I don't repeat what you chose. Change your mind until {when}."
    ).format(when=when(poll.deadline, org.zone, t))


def ranked_reply(
    t: Translator, poll: Poll, org: Organisation, ranking: list[int]
) -> OutgoingMessage:
    if poll.anonymous:
        return ranking_to_confirm(t, poll, ranking)
    return message(
        t("Your ranking: {ranking}").format(ranking=_ranking(poll, ranking))
        + "\n"
        + t("Press the next one, or Start over.")
    )


def ranking_to_confirm(t: Translator, poll: Poll, ranking: list[int]) -> OutgoingMessage:
    """An anonymous ranked poll: the voter's order so far, shown only to her, not yet counted.
    The buttons carry it on: the next option, count it, or start over."""
    pid, so_far = str(poll.id), write_ranking(ranking)
    if not ranking:
        text = MessageBuilder().line(t("Press the options in your order, your favourite first."))
    else:
        text = MessageBuilder().line(bold(t("Your order, not counted yet:")))
        for number, chosen in enumerate(ranking, start=1):
            text.line(f"{number}. {poll.options[chosen]}")
        text.line(
            t(
                "Only you see this. Press the next option, or Count my vote when the order is "
                "right. Once counted, no one can see it is yours."
            )
        )
    for index, option in enumerate(poll.options):
        if index not in ranking:
            text.button_row(
                Button(
                    f"{index + 1}. {option}", Action("poll.rank_next", (pid, so_far, str(index)))
                )
            )
    if ranking:
        text.button_row(
            Button(t("Count my vote"), Action("poll.count", (pid, so_far))),
            Button(t("Start over"), Action("poll.restart", (pid,))),
        )
    return text.build()


def time_answers(
    t: Translator, poll: Poll, org: Organisation, answers: list[int]
) -> OutgoingMessage:
    lines = [
        f"{i}. {short_time(t, moment, org.zone, until)} – {t(ANSWER_NAMES[Answer(a)])}"
        for i, ((moment, until), a) in enumerate(zip(poll.spans(), answers, strict=True), start=1)
    ]
    return message(t("Your answers:") + "\n" + "\n".join(lines))


def nudge_message(poll: Poll, org: Organisation) -> MessageFor:
    """'Closing soon, and you have not voted yet', with the Vote button."""

    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            t('The poll "{question}" closes {when}, and you have not voted yet.').format(
                question=poll.question, when=when(poll.deadline, org.zone, t)
            )
        )
        text.button_row(vote_button(t, poll))
        return text.build()

    return build


def result_message(
    t: Translator,
    poll: Poll,
    org: Organisation,
    result: Tally,
    *,
    names: dict[int, list[str]] | None = None,
    time_names: dict[tuple[int, Answer], list[str]] | None = None,
    chart: bool = False,
    blocks: Sequence[tuple[str, str | None]] = (),
    offer_meeting: bool = False,
) -> OutgoingMessage:
    text = MessageBuilder()
    if poll.is_open:
        text.line(bold(t("Results so far: {question}").format(question=poll.question)))
    else:
        text.line(bold(t("Result: {question}").format(question=poll.question)))
    voters = t.ngettext("{n} vote", "{n} votes", result.voters).format(n=result.voters)
    if poll.is_open:
        text.line(voters + " · " + t("closes {when}").format(when=when(poll.deadline, org.zone, t)))
    else:
        text.line(
            voters
            + " · "
            + t("closed {when}").format(when=when(poll.closed_at or poll.deadline, org.zone, t))
        )

    def who(index: int) -> str:
        listed = (names or {}).get(index)
        return f" ({', '.join(listed)})" if listed else ""

    def by_answer(index: int, answer: Answer) -> str:
        listed = (time_names or {}).get((index, answer))
        return f" ({', '.join(listed)})" if listed else ""

    labels = _labels(t, poll, org)
    if poll.kind in (PollKind.SINGLE, PollKind.MULTIPLE):
        for index, label in enumerate(labels):
            text.line(
                f"{label}: {result.counts[index]}{_share(result.counts[index], result.voters)}{who(index)}"
            )
        # One choice: the most voted wins, or there is a tie. Several choices each: the
        # counts say it all, a "tie" between options one may choose together means nothing.
        if poll.kind is PollKind.SINGLE and len(result.leaders) == 1:
            text.line(t("Most votes: {option}").format(option=labels[result.leaders[0]]))
        elif poll.kind is PollKind.SINGLE and result.leaders:
            text.line(
                t("Tied: {options}").format(options=", ".join(labels[i] for i in result.leaders))
            )
    elif poll.kind is PollKind.TIME:
        for index, label in enumerate(labels):
            per_answer = {
                Answer.YES: result.counts[index],
                Answer.IF_NEED_BE: result.if_need_be[index],
                Answer.NO: result.voters - result.counts[index] - result.if_need_be[index],
            }
            parts = [
                t(TIME_COUNTS[answer]).format(n=count) + by_answer(index, answer)
                for answer, count in per_answer.items()
            ]
            text.line(f"{label}: " + ", ".join(parts))
        if result.leaders:
            text.line(bold(t("Best time: {time}").format(time=labels[result.leaders[0]])))
    elif poll.kind is PollKind.RANKED:
        assert result.runoff is not None
        for number, one in enumerate(result.runoff.rounds, start=1):
            counts = ", ".join(f"{labels[o]} {c}" for o, c in one.counts.items())
            line = t("Round {n}: {counts}").format(n=number, counts=counts)
            if one.eliminated is not None:
                line += " – " + t("{option} is out").format(option=labels[one.eliminated])
                fewest = one.counts[one.eliminated]
                if sum(1 for c in one.counts.values() if c == fewest) > 1:
                    line += " " + t(
                        "(a tie: fewer first choices goes out, then the one listed later)"
                    )
            text.line(line)
        if result.runoff.winner is not None:
            text.line(bold(t("Winner: {option}").format(option=labels[result.runoff.winner])))
        if names:
            text.line(
                t("First choices: {names}").format(
                    names="; ".join(f"{labels[i]}{who(i)}" for i in sorted(names))
                )
            )
    else:
        parts = [f"{labels[s]} {result.counts[s]}{who(s)}" for s in Stance]
        text.line(" · ".join(parts))
        assert result.outcome is not None
        outcome = bold(t(OUTCOME_NAMES[result.outcome]))
        text.line(t("Outcome:") + " ", outcome)
        if poll.anonymous and result.counts[Stance.BLOCK]:
            text.line(t("Anonymous poll: blocks come without reasons or names."))
    eligible = poll.eligible_count
    reached = quorum_reached(poll, result.voters, eligible or 0) if eligible is not None else None
    if reached is not None:
        word = t("reached") if reached else t("not reached")
        text.line(
            t.ngettext(
                "Quorum {percent} %: {word} ({voters} of the {eligible} who could vote).",
                "Quorum {percent} %: {word} ({voters} of {eligible} who could vote).",
                eligible or 0,
            ).format(
                percent=poll.quorum_percent, word=word, voters=result.voters, eligible=eligible
            )
        )
    elif poll.quorum_percent:
        text.line(t("Quorum {percent} %: counted at close.").format(percent=poll.quorum_percent))
    for name, reason in blocks:
        text.line(
            t("{name} blocks: {reason}").format(
                name=name or t("Someone who has left"), reason=reason or t("(no reason given)")
            )
        )
    if chart and result.voters:
        text.attach(_chart(t, poll, labels, result))
    if offer_meeting and poll.kind is PollKind.TIME and result.leaders and poll.meeting_id is None:
        text.line(t("Create the meeting at the best time in one step:"))
        text.button_row(Button(t("Create the meeting"), Action("poll.meeting", (str(poll.id),))))
    return text.build()


def _share(count: int, voters: int) -> str:
    return f" ({round(100 * count / voters)} %)" if voters else ""


def _labels(t: Translator, poll: Poll, org: Organisation) -> list[str]:
    if poll.kind is PollKind.PROPOSAL:
        return [t(STANCE_NAMES[s]) for s in Stance]
    if poll.kind is PollKind.TIME:
        return [short_time(t, m, org.zone, until) for m, until in poll.spans()]
    return list(poll.options)


def _chart(t: Translator, poll: Poll, labels: list[str], result: Tally) -> Attachment:
    name = f"poll-{poll.id}.png"
    if poll.kind is PollKind.TIME:
        series = [Series(t("Yes"), result.counts), Series(t("If need be"), result.if_need_be)]
    elif poll.kind is PollKind.RANKED and result.runoff is not None:
        final = result.runoff.rounds[-1].counts
        series = [Series(t("Final round"), [final.get(i, 0) for i in range(len(labels))])]
    else:
        series = [Series(t("Votes"), result.counts)]
    return bar_chart(poll.question, labels, series, filename=name)


def short_time(
    t: Translator, moment: datetime, zone: ZoneInfo, until: datetime | None = None
) -> str:
    clock = local(moment, zone).strftime("%H:%M")
    if until is not None:
        clock += "–" + local(until, zone).strftime("%H:%M")
    return t("{date} at {time}").format(date=day(moment, zone, t), time=clock)


def option_text(t: Translator, kind: str, option: str, zone: ZoneInfo) -> str:
    if kind == PollKind.TIME:
        start, until = option_span(option)
        return short_time(t, start, zone, until)
    return option


def _ranking(poll: Poll, ranking: Sequence[int]) -> str:
    return ", ".join(f"{n}. {poll.options[o]}" for n, o in enumerate(ranking, start=1))
