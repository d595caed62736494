"""Rådslag (consultations): the records and the pure rules.

A party or district organiser opens a rådslag: a title, 1–10 questions, an optional
background, a deadline, the organisations it goes to, and how individual answers are
shown (`Visibility`). Every branch (arbetarekommun) below those organisations inherits
it, as the annual wheel is inherited. Members answer privately per question; a branch
may hold a meeting on it whose thread contributions are marked per question; the
branch's organisers write and submit the branch's answer; the opening organisation sees
who took part and exports everything per question.

Anonymity, one rule for every output (`shown_name`): with `NAMED` an individual answer
carries its author's name; with `ANONYMOUS` it never does, for anyone (and the text
outlives its author's erasure, unnamed); with `ORGANISERS` individual answers are seen
only by the branch's organisers, and leave the branch only as counts and the branch's
answer. A member always sees their own answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

MAX_QUESTIONS = 10
MAX_TITLE = 200
MAX_QUESTION = 500
MAX_ANSWER = 2000
MAX_BACKGROUND = 2000
# Members are reminded once, this long before the deadline (or halfway there if sooner);
# branches that have not submitted are reminded at the same time.
REMIND_BEFORE = timedelta(days=2)


class Visibility(StrEnum):
    NAMED = "named"  # individual answers are shown with the author's name
    ANONYMOUS = "anonymous"  # shown, never with a name
    ORGANISERS = "organisers"  # only the branch's organisers see them


@dataclass
class Consultation:
    org_id: int  # the organisation that opened it (party or district)
    title: str
    questions: list[str]
    deadline: datetime
    visibility: Visibility
    targets: list[int]  # organisation ids it goes to; branches below them inherit it
    background: str = ""
    link: str | None = None
    created_by: int | None = None  # SET NULL: it outlives its organiser
    created_at: datetime | None = None
    id: int | None = None

    def is_open(self, now: datetime) -> bool:
        return now < self.deadline


@dataclass
class MemberAnswer:
    """One member's answer to one question, given through their branch.

    `person_id` is None once the author was erased and the setting let the text stay
    anonymous. A draft (`final` False) is seen by its author alone."""

    consultation_id: int
    org_id: int  # the branch
    question: int  # 0-based
    text: str
    final: bool
    updated_at: datetime
    person_id: int | None = None
    id: int | None = None


@dataclass
class ThreadContribution:
    """What someone said in a meeting on the rådslag, marked by an organiser for a question."""

    consultation_id: int
    org_id: int  # the branch
    question: int
    text: str
    created_at: datetime
    meeting_id: int | None = None
    person_id: int | None = None  # who said it, where known
    recorded_by: int | None = None
    id: int | None = None


@dataclass
class BranchAnswer:
    consultation_id: int
    org_id: int
    question: int
    text: str
    updated_at: datetime
    updated_by: int | None = None
    id: int | None = None


@dataclass
class Submission:
    """A branch's submitted answer: read-only from then on, with a receipt."""

    consultation_id: int
    org_id: int
    submitted_at: datetime
    receipt: str
    submitted_by: int | None = None
    id: int | None = None


@dataclass
class MeetingTie:
    consultation_id: int
    meeting_id: int
    id: int | None = None


@dataclass
class QuestionSummary:
    """What a branch (or the district) has for one question."""

    number: int  # 1-based
    question: str
    answers: list[tuple[str | None, str]] = field(default_factory=list)  # (name, text)
    contributions: list[tuple[str | None, str]] = field(default_factory=list)
    answer_count: int = 0
    contribution_count: int = 0
    branch_answers: list[tuple[str, str]] = field(default_factory=list)  # (branch, text)


def shown_name(visibility: Visibility, name: str | None) -> str | None:
    """The name an individual answer carries in anything shown beyond its author."""
    return name if visibility is Visibility.NAMED else None


def individual_answers_leave_branch(visibility: Visibility) -> bool:
    """Whether individual answers appear outside the branch (district view, exports)."""
    return visibility is not Visibility.ORGANISERS


def kept_anonymously_on_erasure(visibility: Visibility) -> bool:
    return visibility is Visibility.ANONYMOUS


def reminder_at(opened: datetime, deadline: datetime) -> datetime:
    """When members and branches are reminded: REMIND_BEFORE the deadline, or halfway."""
    return max(deadline - REMIND_BEFORE, opened + (deadline - opened) / 2)


def receipt_code(consultation_id: int, org_id: int, submitted_at: datetime) -> str:
    return f"R{consultation_id}-{org_id}-{submitted_at.strftime('%Y%m%d%H%M')}"


def parse_question_ref(word: str, count: int) -> int | None:
    """'F2', 'f2', 'Q2' or '2' → 1 (0-based), if within the questions."""
    raw = word.strip().lower().lstrip("fq#")
    if not raw.isascii() or not raw.isdigit():
        return None
    number = int(raw)
    return number - 1 if 1 <= number <= count else None


def took_part(answers: Iterable[MemberAnswer]) -> set[int]:
    """The people who answered (final answers only; the erased are not counted by name)."""
    return {a.person_id for a in answers if a.final and a.person_id is not None}


class ConsultationRepository(Protocol):
    async def add(self, consultation: Consultation) -> Consultation: ...
    async def get(self, consultation_id: int) -> Consultation | None: ...
    async def in_orgs(self, org_ids: Sequence[int]) -> Sequence[Consultation]:
        """Rådslag opened by or sent to any of these organisations, newest first."""
        ...

    async def answers(
        self, consultation_id: int, org_id: int | None = None
    ) -> Sequence[MemberAnswer]: ...
    async def answers_of(self, consultation_id: int, person_id: int) -> Sequence[MemberAnswer]: ...
    async def add_answer(self, answer: MemberAnswer) -> None: ...
    async def answered_since(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[MemberAnswer]: ...
    async def contributions(
        self, consultation_id: int, org_id: int | None = None
    ) -> Sequence[ThreadContribution]: ...
    async def add_contribution(self, contribution: ThreadContribution) -> None: ...
    async def branch_answers(
        self, consultation_id: int, org_id: int | None = None
    ) -> Sequence[BranchAnswer]: ...
    async def add_branch_answer(self, answer: BranchAnswer) -> None: ...
    async def submissions(self, consultation_id: int) -> Sequence[Submission]: ...
    async def add_submission(self, submission: Submission) -> None: ...
    async def ties(self, meeting_id: int) -> Sequence[MeetingTie]: ...
    async def tied_meetings(self, consultation_id: int) -> Sequence[MeetingTie]: ...
    async def add_tie(self, tie: MeetingTie) -> None: ...
