"""A stateful property test: votes, changes, closing and erasure, through the core on real SQLite.

Every step goes through the console adapter and the core's handlers (commands
and button presses on the messages the bot actually sent), against a real
SQLite database. After each step the stored ballots must match the votes
people cast: every tally equals the live ballots, there is at most one ballot
per person and poll, nothing is accepted after close, and erased people's
ballots stay counted without a link to anyone.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.console.app import Delivered, chat_for, sender
from adapters.console.transcript import Say
from bot.clock import VirtualClock
from bot.events import ButtonPressed
from bot.polls.model import voter_key
from storage.database import Database, sqlite_url
from storage.polls import poll_ballots, poll_participation, poll_secrets, polls
from tests.conftest import START, Console

VOTERS = ("anna", "bertil", "cecilia", "erik", "oliver", "david")  # david is a guest
OPTIONS = ("Skolan", "Vården", "Jobben")
POLLS = {
    # question: (anonymous, guests may vote, deadline as typed, deadline in the clock's words)
    "Synlig fråga": (False, True, "tisdag 18:00", "2026-03-03T18:00"),
    "Anonym fråga": (True, False, "onsdag 18:00", "2026-03-04T18:00"),
}


def _create(question: str) -> str:
    anonymous, guests, deadline, _ = POLLS[question]
    lines = [
        "@bertil: /ny_omrostning",
        "@bertil: [Enkelval]",
        f"@bertil: {question}",
        "@bertil: " + "; ".join(OPTIONS),
        "@bertil: [Klart]",
        f"@bertil: {deadline}",
        "@bertil: [Anonym]" if anonymous else "@bertil: [Synliga]",
        "@bertil: [Även gäster]" if guests else "@bertil: [Bara medlemmar]",
    ]
    if not anonymous:
        lines.append("@bertil: [Löpande]")
    lines += ["@bertil: [Inget kvorum]", "@bertil: [Publicera]"]
    return "\n".join(lines)


class PollMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp())
        self.database = Database(sqlite_url(self.folder / "samtal.db"))
        self.run(self.database.upgrade())
        self.clock = VirtualClock(START)
        self.console = Console(self.database, self.clock)
        self.run(self.console.samtal.start())
        self.run(self.console.seed_demo())
        self.poll_ids: dict[str, int] = {}
        self.announcement: dict[str, Delivered] = {}
        for question in POLLS:
            start = len(self.delivered)
            self.run(self.console.run(_create(question)))
            self.announcement[question] = next(
                d for d in self.delivered[start:] if not d.direct and d.message.buttons
            )
        self.run(self._load_ids())
        self.votes: dict[str, dict[str, int]] = {q: {} for q in POLLS}  # the living voters'
        self.departed: dict[str, Counter[int]] = {q: Counter() for q in POLLS}  # erased voters'
        self.closed: set[str] = set()
        self.erased: set[str] = set()
        self.last_ballot: dict[tuple[str, str], Delivered] = {}

    @property
    def delivered(self) -> list[Delivered]:
        return self.console.gateway.delivered

    def run(self, work):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(work)

    async def _load_ids(self) -> None:
        async with self.database.engine.connect() as connection:
            rows = (await connection.execute(sa.select(polls.c.id, polls.c.question))).all()
        self.poll_ids = {question: poll_id for poll_id, question in rows if question in POLLS}
        self.person_ids: dict[str, int] = {}
        async with self.database.unit_of_work() as uow:
            for name in VOTERS:
                person = await uow.people.by_identity("console", name)
                assert person is not None and person.id is not None
                self.person_ids[name] = person.id

    def teardown(self) -> None:
        self.run(self.database.dispose())
        self.loop.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- driving the bot the way a person does --------------------------------

    def _say(self, name: str, text: str) -> list[Delivered]:
        start = len(self.delivered)
        self.run(self.console.session.step(Say(name, None, text)))
        return self.delivered[start:]

    def _press(self, name: str, delivered: Delivered, index: int) -> list[Delivered]:
        button = delivered.message.button_list()[index]
        assert button.token is not None
        chat = chat_for(name, None if delivered.direct else delivered.chat_id)
        start = len(self.delivered)
        event = ButtonPressed(self.console.session._event_id(), sender(name), chat, button.token)
        self.run(self.console.samtal.handle(event))
        self.run(self.console.samtal.run_due())
        return self.delivered[start:]

    def _ballot_for(self, name: str, question: str) -> Delivered | None:
        """Opens the ballot from /omrostningar, or finds the one they had (a closed poll is not listed)."""
        cards = [
            d
            for d in self._say(name, "/omrostningar")
            if d.message.plain_text.startswith(question) and d.message.buttons
        ]
        opened = self._press(name, cards[0], 0) if cards else []
        ballots = [d for d in opened if d.message.plain_text.startswith(question)]
        if ballots:
            self.last_ballot[(name, question)] = ballots[-1]
            return ballots[-1]
        return self.last_ballot.get((name, question))

    def _accepts(self, name: str, question: str) -> bool:
        _, guests, _, _ = POLLS[question]
        return question not in self.closed and (guests or name != "david")

    # --- rules -------------------------------------------------------------------

    @rule(
        name=st.sampled_from(VOTERS),
        question=st.sampled_from(list(POLLS)),
        option=st.integers(0, 2),
    )
    def vote(self, name: str, question: str, option: int) -> None:
        if name in self.erased:
            return
        ballot = self._ballot_for(name, question)
        if ballot is None:
            # Never had a ballot: press Vote on the group post, which must refuse if it can't count.
            self._press(name, self.announcement[question], 0)
            assert not self._accepts(name, question)
            return
        answers = self._press(name, ballot, option)
        if self._accepts(name, question):
            self.votes[question][name] = option
        else:
            assert answers and not answers[-1].message.buttons  # a refusal, kindly worded

    @rule(question=st.sampled_from(list(POLLS)), by_hand=st.booleans())
    def close(self, question: str, by_hand: bool) -> None:
        if question in self.closed:
            return
        if by_hand:
            cards = [
                d
                for d in self._say("bertil", "/omrostningar")
                if d.message.plain_text.startswith(question)
            ]
            self._press(
                "bertil",
                cards[0],
                len(cards[0].message.button_list())
                - 1
                - (
                    # the last row is [Stäng nu] alone, or [Stäng nu] [Gör ...] before the first vote
                    1 if len(cards[0].message.buttons[-1]) == 2 else 0
                ),
            )
            self.closed.add(question)
        else:
            _, _, _, when = POLLS[question]
            self.run(self.console.run(f"@clock: {when}"))
            for other, (_, _, _, its) in POLLS.items():
                if its <= when:
                    self.closed.add(other)

    @precondition(lambda self: len(self.erased) < 3)
    @rule(name=st.sampled_from(VOTERS))
    def erase(self, name: str) -> None:
        if name in self.erased or name == "bertil":  # keep the organiser
            return
        asked = self._say(name, "/glom_mig")
        self._press(name, asked[-1], 0)
        self.erased.add(name)
        for question in POLLS:
            if name in self.votes[question]:
                self.departed[question][self.votes[question].pop(name)] += 1

    # --- what must always hold -------------------------------------------------

    @invariant()
    def ballots_match_the_votes(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        async with self.database.engine.connect() as connection:
            for question, poll_id in self.poll_ids.items():
                rows = (
                    (
                        await connection.execute(
                            sa.select(poll_ballots).where(poll_ballots.c.poll_id == poll_id)
                        )
                    )
                    .mappings()
                    .all()
                )
                voters = set(
                    (
                        await connection.execute(
                            sa.select(poll_participation.c.person_id).where(
                                poll_participation.c.poll_id == poll_id
                            )
                        )
                    ).scalars()
                )
                secret = (
                    await connection.execute(
                        sa.select(poll_secrets.c.secret).where(poll_secrets.c.poll_id == poll_id)
                    )
                ).scalar()
                status = (
                    await connection.execute(sa.select(polls.c.status).where(polls.c.id == poll_id))
                ).scalar()
                expected = Counter(self.votes[question].values()) + self.departed[question]
                assert Counter(r["choice"][0] for r in rows) == expected
                assert voters == {self.person_ids[n] for n in self.votes[question]}
                assert (status == "closed") == (question in self.closed)
                anonymous = POLLS[question][0]
                if anonymous:
                    assert all(r["person_id"] is None for r in rows)
                    if question in self.closed:
                        assert secret is None and all(r["voter_key"] is None for r in rows)
                    else:
                        assert secret is not None
                        # An erased voter's ballot stays counted but loses its key, so
                        # several may have none; the keys left are one per person.
                        keys = [r["voter_key"] for r in rows if r["voter_key"] is not None]
                        assert len(set(keys)) == len(keys)
                        assert len(rows) - len(keys) == self.departed[question].total()
                        for name, option in self.votes[question].items():
                            key = voter_key(secret, poll_id, self.person_ids[name])
                            assert [r["choice"] for r in rows if r["voter_key"] == key] == [
                                [option]
                            ]
                else:
                    linked = Counter(r["person_id"] for r in rows if r["person_id"] is not None)
                    assert all(n == 1 for n in linked.values())  # one ballot per person
                    assert {
                        p: next(r["choice"] for r in rows if r["person_id"] == p) for p in linked
                    } == {self.person_ids[n]: [o] for n, o in self.votes[question].items()}
                    assert sum(1 for r in rows if r["person_id"] is None) == sum(
                        self.departed[question].values()
                    )


PollMachine.TestCase.settings = settings(
    max_examples=5,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_polls_state = PollMachine.TestCase
