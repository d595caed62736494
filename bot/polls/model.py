"""Polls: the records, the pure rules (validation, tallies, instant-runoff) and the repository port.

How a vote stays anonymous (read this before touching anonymous polls)
-----------------------------------------------------------------------
An anonymous poll stores two things that are never joined:

* a *participation* row (poll, person): who has voted, so nobody votes twice
  and the "closing soon" nudge goes only to those who have not;
* a *ballot* row (poll, choice) with no person id, a random id (so row ids
  don't follow the order people voted in) and no timestamp.

To let a voter change their mind, the ballot carries a *voter key*:
HMAC-SHA256 over (poll id, person id) with a secret of that poll, kept in a
table of its own that names no person (so no personal-data export, not even
the organiser's own, ever carries it). The bot
computes the key when the same person votes again and replaces their ballot.
At close the poll's secret is destroyed and every voter key of the poll is
cleared, so afterwards nothing in the database links a ballot to a person,
not even with the code at hand.

What the bot itself never does with an anonymous poll: show a voter's
choice to anyone (the voter included: what the bot says is stored in the
outbox with the recipient, so confirmations say "counted", not what),
show live counts before close (watching a count move as someone votes would
give them away), take a comment with the vote, or log a choice.

Limits, honestly: while the poll is open, someone with direct access to the
database (an operator, a backup) holds the secret and can recompute the
voter key of every person and so link ballots; after close that is no longer
possible. The database's own files (SQLite free pages, the PostgreSQL heap
and its write-ahead log) may keep deleted or earlier row versions until they
are reused or vacuumed, and PostgreSQL stores rows in insertion order. A
result with very few voters can give a choice away to someone who knows who
voted (a poll with one voter shows that voter's choice): that is arithmetic,
not storage, and the result says how many voted so people can judge.

Two accounts that become one person (`/koppla`): `merge_votes` in the
handlers re-keys or drops the dropped account's anonymous ballot, so one
person keeps one vote. Logging: nothing here logs a choice, and the
command line keeps the database drivers' DEBUG output (which carries SQL
parameters) switched off.

Erasure: a participation row is the person's own data and goes with them
(CASCADE). Ballots outlive the person and stay counted: anonymous ballots
never named anyone; a visible ballot loses its person (SET NULL) and keeps
its choice, so a closed result never changes because someone left.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.domain.people import Person
from bot.timeread import read_span

MAX_OPTIONS = 10  # Discord's native polls and a phone screen both stop about here
MAX_OPTION_LENGTH = 100  # Telegram's limit for a poll option
MAX_QUESTION_LENGTH = 300  # Telegram's limit for a poll question
MAX_REASON_LENGTH = 500


class PollKind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TIME = "time"
    RANKED = "ranked"
    PROPOSAL = "proposal"


class PollStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Answer(IntEnum):
    """A time poll's answer for one proposed time."""

    NO = 0
    IF_NEED_BE = 1
    YES = 2


class Stance(IntEnum):
    """A proposal's answers, in the order they are offered."""

    AGREE = 0
    ABSTAIN = 1
    DISAGREE = 2
    BLOCK = 3


@dataclass
class Poll:
    org_id: int
    kind: PollKind
    question: str
    options: list[str]  # time polls: ISO instants in UTC, "start/end" with an end; proposals: none
    deadline: datetime
    anonymous: bool = False
    members_only: bool = True
    live_results: bool = True
    max_choices: int | None = None  # multiple choice only
    quorum_percent: int | None = None  # minimum share of those eligible who must vote
    created_by: int | None = None
    created_at: datetime | None = None
    status: PollStatus = PollStatus.OPEN
    closed_at: datetime | None = None
    eligible_count: int | None = None  # counted at close, for the quorum
    meeting_id: int | None = None  # time polls: the meeting created at the best time
    id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.status is PollStatus.OPEN

    def accepts_votes(self, now: datetime) -> bool:
        return self.is_open and now < self.deadline

    @property
    def option_count(self) -> int:
        return len(Stance) if self.kind is PollKind.PROPOSAL else len(self.options)

    @property
    def results_visible_while_open(self) -> bool:
        # Anonymous polls never show live counts: see the module's note.
        return self.live_results and not self.anonymous

    def times(self) -> list[datetime]:
        return [option_span(option)[0] for option in self.options]

    def spans(self) -> list[tuple[datetime, datetime | None]]:
        """A time poll's proposed times: start and, where given, end."""
        return [option_span(option) for option in self.options]


@dataclass
class Ballot:
    """One live vote. Anonymous: no person, only a voter key while the poll is open."""

    poll_id: int
    choice: list[int]
    person_id: int | None = None
    voter_key: str | None = None
    reason: str | None = None  # visible proposals only: why someone blocks
    id: str = ""


@dataclass
class Participation:
    """That a person has voted in a poll; never what they chose."""

    poll_id: int
    person_id: int
    id: int | None = None


def voter_key(secret: str, poll_id: int, person_id: int) -> str:
    """The keyed hash that finds an anonymous voter's ballot while the poll is open."""
    return hmac.new(
        bytes.fromhex(secret), f"{poll_id}:{person_id}".encode(), hashlib.sha256
    ).hexdigest()


class InvalidChoice(ValueError):
    pass


def validate_choice(poll: Poll, choice: Sequence[int]) -> list[int]:
    """Checks a ballot's shape for the poll's kind; returns it normalised."""
    n = poll.option_count
    values = list(choice)
    if poll.kind is PollKind.TIME:
        if len(values) != n or any(v not in (0, 1, 2) for v in values):
            raise InvalidChoice("a time poll needs an answer for each time")
        return values
    if any(not 0 <= v < n for v in values) or len(set(values)) != len(values):
        raise InvalidChoice("unknown or repeated option")
    if poll.kind in (PollKind.SINGLE, PollKind.PROPOSAL) and len(values) != 1:
        raise InvalidChoice("choose exactly one")
    if poll.kind is PollKind.MULTIPLE:
        if not values or len(values) > (poll.max_choices or n):
            raise InvalidChoice("too many or no choices")
        return sorted(values)
    if poll.kind is PollKind.RANKED and not values:
        raise InvalidChoice("rank at least one")
    return values


# "När ska vi ha samtalskvällen om bostäder?" asks about a meeting; its theme is what follows.
_WHEN_QUESTION = re.compile(
    r"^\s*(?:när\s+(?:ska|skall|kan)\s+vi\s+(?:ha|hålla|träffas\s+(?:om|för)|ses\s+(?:om|för))"
    r"|when\s+(?:shall|should|can|do|will)\s+we\s+(?:have|hold|meet\s+(?:about|for)))\s+",
    re.IGNORECASE,
)


def suggested_theme(question: str) -> str:
    """A meeting's theme from the time poll that found its time: the question's subject."""
    subject = _WHEN_QUESTION.sub("", question).strip().rstrip("?").strip()
    return subject[:1].upper() + subject[1:] if subject else question.strip()


def write_ranking(ranking: Sequence[int]) -> str:
    """A ranking not yet counted, carried by the buttons that continue or count it: "2.0.1"."""
    return ".".join(str(o) for o in ranking)


def read_ranking(poll: Poll, raw: str) -> list[int] | None:
    """`write_ranking`'s text read back for this poll; None if it doesn't fit it."""
    parts = raw.split(".") if raw else []
    if not all(p.isascii() and p.isdigit() and len(p) <= 3 for p in parts):
        return None
    try:
        return validate_choice(poll, [int(p) for p in parts]) if parts else []
    except InvalidChoice:
        return None


# --- tallies ---------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    counts: dict[int, int]  # continuing option -> ballots counting for it
    eliminated: int | None
    exhausted: int  # ballots with no continuing option left


@dataclass(frozen=True)
class Runoff:
    rounds: list[Round]
    winner: int | None


def instant_runoff(ballots: Sequence[Sequence[int]], option_count: int) -> Runoff:
    """Instant-runoff voting, one elimination per round, with every round kept for display.

    An option wins with more than half of the ballots still counting. Otherwise
    the option with the fewest votes goes out; a tie for fewest goes to the one
    with fewer first choices in the first round, then to the one listed later.
    """
    first = [0] * option_count
    for ballot in ballots:
        if ballot:
            first[ballot[0]] += 1
    continuing = set(range(option_count))
    rounds: list[Round] = []
    while continuing:
        counts = dict.fromkeys(sorted(continuing), 0)
        exhausted = 0
        for ballot in ballots:
            top = next((o for o in ballot if o in continuing), None)
            if top is None:
                exhausted += 1
            else:
                counts[top] += 1
        active = sum(counts.values())
        if active == 0:
            rounds.append(Round(counts, None, exhausted))
            return Runoff(rounds, None)
        leader = max(continuing, key=lambda o: (counts[o], first[o], -o))
        if 2 * counts[leader] > active or len(continuing) == 1:
            rounds.append(Round(counts, None, exhausted))
            return Runoff(rounds, leader)
        loser = min(continuing, key=lambda o: (counts[o], first[o], -o))
        rounds.append(Round(counts, loser, exhausted))
        continuing.remove(loser)
    return Runoff(rounds, None)


@dataclass(frozen=True)
class Tally:
    kind: PollKind
    voters: int
    counts: list[int]  # per option (or per stance): single, multiple, proposal; time: yes
    if_need_be: list[int] = field(default_factory=list)  # time polls
    runoff: Runoff | None = None  # ranked polls
    leaders: list[int] = field(default_factory=list)  # the winning option(s); ties give several
    outcome: str | None = None  # proposals: "accepted", "rejected", "blocked"


def tally(poll: Poll, choices: Sequence[Sequence[int]]) -> Tally:
    n = poll.option_count
    voters = len(choices)
    if poll.kind is PollKind.RANKED:
        runoff = instant_runoff(choices, n)
        return Tally(
            poll.kind,
            voters,
            list(runoff.rounds[0].counts.values()) if runoff.rounds else [0] * n,
            runoff=runoff,
            leaders=[runoff.winner] if runoff.winner is not None else [],
        )
    if poll.kind is PollKind.TIME:
        yes, maybe = [0] * n, [0] * n
        for choice in choices:
            for index, answer in enumerate(choice):
                yes[index] += answer == Answer.YES
                maybe[index] += answer == Answer.IF_NEED_BE
        best = max(range(n), key=lambda i: (yes[i], maybe[i], -i)) if voters else None
        return Tally(poll.kind, voters, yes, maybe, leaders=[best] if best is not None else [])
    counts = [0] * n
    for choice in choices:
        for option in choice:
            counts[option] += 1
    if poll.kind is PollKind.PROPOSAL:
        if counts[Stance.BLOCK]:
            outcome = "blocked"
        elif counts[Stance.AGREE] > counts[Stance.DISAGREE]:
            outcome = "accepted"
        else:
            outcome = "rejected"
        return Tally(poll.kind, voters, counts, outcome=outcome)
    top = max(counts) if counts else 0
    leaders = [i for i, c in enumerate(counts) if c == top] if top else []
    return Tally(poll.kind, voters, counts, leaders=leaders)


def quorum_reached(poll: Poll, voters: int, eligible: int) -> bool | None:
    """None when the poll has no quorum; else whether enough of those eligible voted."""
    if poll.quorum_percent is None:
        return None
    return eligible > 0 and voters * 100 >= poll.quorum_percent * eligible


# A nudge with less time left than this to vote would arrive together with the result.
NUDGE_USEFUL_BEFORE = timedelta(minutes=30)


def nudge_time(now: datetime, deadline: datetime) -> datetime | None:
    """When to remind those who have not voted: a day before, or an hour before a short poll."""
    for before in (timedelta(days=1), timedelta(hours=1)):
        if deadline - before > now + NUDGE_USEFUL_BEFORE:
            return deadline - before
    return None


# --- proposed times ----------------------------------------------------------


def time_option(text: str, now: datetime, zone: ZoneInfo) -> str:
    """A time poll's proposed time as stored: the start in UTC (ISO), '/' and the end if given.

    Reads what `bot.timeread` reads: 'tis 10/3 18:00', '12/1 18-21', 'nästa torsdag kl 18'.
    Raises TimeReadError, also for a time that has passed.
    """
    start, end = read_span(text, now, zone)
    stored = start.astimezone(UTC).isoformat()
    return stored if end is None else f"{stored}/{end.astimezone(UTC).isoformat()}"


def option_span(option: str) -> tuple[datetime, datetime | None]:
    """A stored proposed time: its start, and its end when one was given."""
    start, _, end = option.partition("/")
    return datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None


# --- the repository port ---------------------------------------------------


class PollRepository(Protocol):
    async def add(self, poll: Poll) -> Poll: ...
    async def get(self, poll_id: int) -> Poll | None: ...
    async def open_in(self, org_ids: Sequence[int]) -> Sequence[Poll]:
        """Open polls of these organisations, the soonest deadline last (nearest the reply box)."""
        ...

    async def participants(self, poll_id: int) -> Sequence[int]: ...
    async def voted_in(self, person_id: int) -> Sequence[int]:
        """The polls this person has voted in (ids)."""
        ...

    async def has_voted(self, poll_id: int, person_id: int) -> bool: ...
    async def participate(self, poll_id: int, person_id: int) -> None: ...
    async def withdraw(self, poll_id: int, person_id: int) -> None: ...
    async def ballot_of(self, poll_id: int, person_id: int) -> Ballot | None:
        """A visible poll's ballot of this person."""
        ...

    async def ballot_by_key(self, poll_id: int, key: str) -> Ballot | None:
        """An anonymous poll's ballot with this voter key."""
        ...

    async def add_ballot(self, ballot: Ballot) -> Ballot: ...
    async def put_ballot(self, ballot: Ballot) -> None:
        """Stores the ballot in place of the voter's earlier one, if any (same person, or
        same voter key): a visible ballot keeps its id, an anonymous one gets a new one."""
        ...

    async def remove_ballot(self, ballot: Ballot) -> None: ...
    async def ballots(self, poll_id: int) -> Sequence[Ballot]: ...
    async def secret(self, poll_id: int) -> str | None:
        """An anonymous poll's voter-key secret (hex), while it is open."""
        ...

    async def set_secret(self, poll_id: int, secret: str | None) -> None:
        """Stores the secret, or destroys it (None)."""
        ...

    async def seal(self, poll_id: int) -> None:
        """Clears every voter key of the poll (done at close, with the secret)."""
        ...

    async def eligible(self, org_ids: Sequence[int], members_only: bool) -> Sequence[Person]:
        """Consenting people affiliated with these organisations (members only, if asked)."""
        ...
