"""Themed conversation meetings (tematräffar): the records and the pure rules.

Everything here is plain data and plain functions: capacity and waitlist,
reminder offsets, and reading the times organisers type. The use cases that
read and write them are in `bot.meetings.service`; the chat in
`bot.meetings.entry` (wording in `bot.meetings.views`, dialogs in `bot.meetings.dialogs`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.i18n import N_
from bot.timeread import Problem, TimeReadError, read_end, read_span


class Audience(StrEnum):
    OPEN = "open"  # guests welcome: the default, all non-decision activity is open
    MEMBERS = "members"  # members only (a decision meeting)


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Answer(StrEnum):
    COMING = "coming"
    MAYBE = "maybe"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"  # wanted to come while the meeting was full


@dataclass
class Meeting:
    org_id: int
    theme: str
    starts_at: datetime
    ends_at: datetime
    description: str = ""
    questions: list[str] = field(default_factory=list)
    place: str | None = None  # an address
    link: str | None = None  # a digital meeting link
    audience: Audience = Audience.OPEN
    capacity: int | None = None
    status: MeetingStatus = MeetingStatus.SCHEDULED
    # Raised on every change: timer keys and the calendar's SEQUENCE follow it.
    version: int = 0
    created_by: int | None = None  # people.id, SET NULL: the meeting outlives its organiser
    created_at: datetime | None = None
    updated_at: datetime | None = None
    id: int | None = None

    @property
    def cancelled(self) -> bool:
        return self.status is MeetingStatus.CANCELLED

    def is_open_to_guests(self) -> bool:
        return self.audience is Audience.OPEN


def visible_to(meeting: Meeting, member_of: Collection[int], manages: bool = False) -> bool:
    """Whether someone may know a meeting exists: an open one is for everyone; a members-only
    one only for members of its organisation (`member_of`: the organisations they are a member
    of and those above them, as a member of an association is one of its branch) and for
    organisers who may manage it. To anyone else it is as if it did not exist."""
    return meeting.is_open_to_guests() or manages or meeting.org_id in member_of


@dataclass
class Rsvp:
    meeting_id: int
    person_id: int
    answer: Answer
    answered_at: datetime
    # The place in the waitlist: 1, 2, … in the order people asked for a place at this
    # meeting, first asked, first promoted. A number, not the time: requests in the same
    # second (or under a stopped clock) keep their order, whatever else they answered before.
    asked: int | None = None
    id: int | None = None


@dataclass
class Attendance:
    """Someone was there: checked in themselves, or confirmed by an organiser."""

    meeting_id: int
    person_id: int | None  # None once the person is erased: still counted, naming no one
    recorded_at: datetime
    confirmed_by: int | None = None  # the organiser, None when the person checked in
    id: int | None = None


@dataclass
class Feedback:
    meeting_id: int
    person_id: int | None  # None once the person is erased: the rating still counts
    rating: int
    given_at: datetime
    comment: str | None = None
    id: int | None = None


@dataclass
class Contribution:
    """Something a person said in the meeting's discussion, collected as input to policy work.

    It is the person's own words, so it goes with them when they are erased
    (`person_id` is ON DELETE CASCADE): an export made afterwards no longer
    holds it. `recorded_by` is the organiser who noted it for them (SET NULL).
    """

    meeting_id: int
    person_id: int
    text: str
    created_at: datetime
    recorded_by: int | None = None
    id: int | None = None


@dataclass
class MeetingThread:
    """The meeting's thread in one group channel: its announcement message there.

    The core knows it by the outbox key of the announcement; adapters that
    have threads or forum topics open one on that message.
    """

    meeting_id: int
    platform: str
    chat_id: str
    outbox_key: str
    id: int | None = None


@dataclass
class MeetingSettings:
    """Per organisation: when reminders go out, in minutes before the start."""

    org_id: int
    reminder_minutes: list[int]


@dataclass(frozen=True)
class AttendanceRecord:
    """One person at one meeting, for the participation figures."""

    meeting_id: int
    org_id: int
    person_id: int | None
    starts_at: datetime


class MeetingRepository(Protocol):
    async def add(self, meeting: Meeting) -> Meeting: ...
    async def get(self, meeting_id: int) -> Meeting | None: ...
    async def lock(self, meeting_id: int) -> None:
        """Holds the meeting until the transaction ends: who counts its places goes one
        at a time (a no-op where units of work take turns anyway)."""
        ...

    async def upcoming(
        self, org_ids: Sequence[int], now: datetime, limit: int = 10
    ) -> Sequence[Meeting]:
        """Scheduled meetings of these organisations that have not ended, soonest first."""
        ...

    async def between(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[Meeting]:
        """Every meeting (cancelled too) starting in [start, end), soonest first."""
        ...

    async def of_org(self, org_id: int) -> Sequence[Meeting]:
        """Every meeting of one organisation, cancelled ones too, oldest first."""
        ...

    async def rsvps(
        self, meeting_id: int, answers: Sequence[Answer] | None = None
    ) -> Sequence[Rsvp]:
        """Every answer (or only those with one of `answers`), in the order given (the
        waitlist order)."""
        ...

    async def answered_by(
        self, person_id: int, answers: Sequence[Answer], after: datetime
    ) -> Sequence[Meeting]:
        """Scheduled meetings starting after `after` that the person answered with one of
        `answers`, soonest first."""
        ...

    async def rsvp(self, meeting_id: int, person_id: int) -> Rsvp | None: ...
    async def add_rsvp(self, rsvp: Rsvp) -> Rsvp: ...
    async def get_answering(self, meeting_id: int, person_id: int) -> Meeting | None:
        """`get`, for an answer by this person: where the database allows, the `places` it
        reads next come with the meeting (one statement less)."""
        ...

    async def places(self, meeting_id: int, person_id: int | None, *, limited: bool) -> Places:
        """What an answer decides on, in one read: the person's own answer, those waiting,
        and (`limited`: the meeting has a capacity) how many hold a place."""
        ...

    async def set_answer(self, rsvp: Rsvp) -> None:
        """Stores the person's answer in place of any earlier one (one write)."""
        ...

    async def move_in(self, rsvp_ids: Sequence[int], at: datetime) -> None:
        """Those waiting (by answer id) get a place: "coming" from `at`."""
        ...

    async def attendance(self, meeting_id: int) -> Sequence[Attendance]: ...
    async def add_attendance(self, attendance: Attendance) -> None: ...
    async def remove_attendance(self, meeting_id: int, person_id: int) -> None: ...
    async def attendance_in(
        self, org_ids: Sequence[int], start: datetime, end: datetime
    ) -> Sequence[AttendanceRecord]:
        """Who attended which meeting of these organisations starting in [start, end)."""
        ...

    async def feedback(self, meeting_id: int) -> Sequence[Feedback]: ...
    async def feedback_of(self, meeting_id: int, person_id: int) -> Feedback | None: ...
    async def add_feedback(self, feedback: Feedback) -> None: ...
    async def contributions(self, meeting_id: int) -> Sequence[Contribution]: ...
    async def add_contribution(self, contribution: Contribution) -> Contribution: ...
    async def threads(self, meeting_id: int) -> Sequence[MeetingThread]: ...
    async def add_thread(self, thread: MeetingThread) -> None: ...
    async def settings(self, org_id: int) -> MeetingSettings | None: ...
    async def save_settings(self, settings: MeetingSettings) -> None: ...


# --- Capacity and waitlist -------------------------------------------------

TAKES_A_SPOT = (Answer.COMING,)
ANSWERED = (Answer.COMING, Answer.MAYBE, Answer.DECLINED, Answer.WAITLISTED)
REMINDED = (Answer.COMING, Answer.MAYBE)


def coming_count(rsvps: Sequence[Rsvp]) -> int:
    return sum(1 for r in rsvps if r.answer is Answer.COMING)


def spots_left(capacity: int | None, rsvps: Sequence[Rsvp]) -> int | None:
    """Free places, or None when there is no limit."""
    if capacity is None:
        return None
    return max(0, capacity - coming_count(rsvps))


def answer_for(
    wanted: Answer, capacity: int | None, rsvps: Sequence[Rsvp], person_id: int
) -> Answer:
    """What a person's answer becomes: "coming" to a full meeting puts them on the waitlist.

    Someone already coming keeps their place; someone already waiting keeps waiting.
    """
    current = next((r.answer for r in rsvps if r.person_id == person_id), None)
    if wanted is not Answer.COMING or current is Answer.COMING:
        return wanted
    if current is Answer.WAITLISTED:
        return Answer.WAITLISTED
    left = spots_left(capacity, rsvps)
    return Answer.WAITLISTED if left == 0 else Answer.COMING


def waitlist(rsvps: Sequence[Rsvp]) -> list[Rsvp]:
    """Those waiting, in the order they asked for a place (never by how old their row is)."""
    waiting = [r for r in rsvps if r.answer is Answer.WAITLISTED]
    return sorted(waiting, key=lambda r: (r.asked or 0, r.answered_at, r.id or 0))


def next_in_line(rsvps: Sequence[Rsvp]) -> int:
    """The number of a new request for a place: after everyone who holds or waits for one."""
    return max((r.asked or 0 for r in rsvps), default=0) + 1


@dataclass(frozen=True)
class Places:
    """A meeting's places as one person's answer sees them (`MeetingRepository.places`)."""

    own: Rsvp | None  # the person's answer so far
    waiting: tuple[Rsvp, ...]  # those waiting for a place, the person too if waiting
    coming: int = 0  # those holding a place (counted only where places are limited)
    last_asked: int = 0  # the highest `asked` of those holding or waiting for a place

    def answer_for(self, wanted: Answer, capacity: int | None) -> Answer:
        """`answer_for` on what was read: "coming" to a full meeting means waiting."""
        current = self.own.answer if self.own is not None else None
        if wanted is not Answer.COMING or current is Answer.COMING:
            return wanted
        if current is Answer.WAITLISTED:
            return Answer.WAITLISTED
        if capacity is None:
            return Answer.COMING
        return Answer.WAITLISTED if capacity - self.coming <= 0 else Answer.COMING

    def next_in_line(self) -> int:
        """`next_in_line`: after everyone who holds or waits for a place (and the person)."""
        own = self.own.asked if self.own is not None else None
        return max(self.last_asked, own or 0) + 1

    def after(self, person_id: int, answer: Rsvp) -> Places:
        """The places once the person's answer is `answer`."""
        own = self.own.answer if self.own is not None else None
        coming = self.coming - int(own is Answer.COMING) + int(answer.answer is Answer.COMING)
        waiting = [r for r in self.waiting if r.person_id != person_id]
        if answer.answer is Answer.WAITLISTED:
            waiting.append(answer)
        return replace(self, own=answer, waiting=tuple(waitlist(waiting)), coming=coming)

    def to_promote(self, capacity: int | None) -> list[Rsvp]:
        """`to_promote`: those waiting who now fit, in waitlist order."""
        waiting = waitlist(self.waiting)
        return waiting if capacity is None else waiting[: max(0, capacity - self.coming)]


def to_promote(capacity: int | None, rsvps: Sequence[Rsvp]) -> list[Rsvp]:
    """The waiting answers that now fit, in waitlist order."""
    waiting = waitlist(rsvps)
    left = spots_left(capacity, rsvps)
    return waiting if left is None else waiting[:left]


def waitlist_position(rsvps: Sequence[Rsvp], person_id: int) -> int | None:
    for position, rsvp in enumerate(waitlist(rsvps), start=1):
        if rsvp.person_id == person_id:
            return position
    return None


# --- Reminders ---------------------------------------------------------------

DEFAULT_REMINDER_MINUTES = (7 * 24 * 60, 24 * 60, 2 * 60)
MAX_REMINDERS = 5
CHECK_IN_EARLY = timedelta(minutes=30)  # check-in opens a little before the start
FOLLOW_UP_AFTER = timedelta(minutes=30)
FOLLOW_UP_USEFUL = timedelta(days=3)  # "how was it?" asked later than this is dropped

_OFFSET = re.compile(r"(\d+)\s*(v|w|d|h|t|m)\w*")
_OFFSET_UNITS = {"v": 7 * 24 * 60, "w": 7 * 24 * 60, "d": 24 * 60, "h": 60, "t": 60, "m": 1}


def parse_reminder_offsets(text: str) -> list[int]:
    """'1v 1d 2h' / '1w 1d 2h' / '3 days, 30 min' -> minutes before the start, largest first.

    'av', 'off', 'inga' or 'none' turn reminders off (an empty list).
    Raises ValueError on anything else.
    """
    cleaned = text.strip().lower()
    if cleaned in ("av", "off", "inga", "none", "0"):
        return []
    parts = [p for p in re.split(r"[,\s]+(?=\d)", cleaned) if p.strip()]
    minutes: set[int] = set()
    for part in parts:
        match = _OFFSET.fullmatch(part.strip().rstrip(","))
        if match is None:
            raise ValueError(part)
        amount = int(match[1]) * _OFFSET_UNITS[match[2]]
        if not 0 < amount <= 30 * 24 * 60:
            raise ValueError(part)
        minutes.add(amount)
    if not minutes or len(minutes) > MAX_REMINDERS:
        raise ValueError(text)
    return sorted(minutes, reverse=True)


def reminder_times(starts_at: datetime, offsets: Sequence[int], now: datetime) -> list[datetime]:
    """When each reminder falls due; those already past are left out."""
    return [t for t in (starts_at - timedelta(minutes=m) for m in offsets) if t > now]


# A timer this late still says what it was armed to say; later, its words are computed anew.
LATE_TOLERANCE = timedelta(minutes=5)


def reminder_useful_until(starts_at: datetime, minutes: int, offsets: Sequence[int]) -> datetime:
    """A reminder is worth sending until the meeting starts, or until a closer one falls due
    (after downtime, "starts in 1 week" and "in 1 day" make way for the closest)."""
    closer = [m for m in offsets if m < minutes]
    return starts_at - timedelta(minutes=max(closer)) if closer else starts_at


def minutes_left(starts_at: datetime, now: datetime, armed: int) -> int:
    """What a reminder says is left: its own offset when on time, else the time really left,
    rounded the way people say it (days, then hours, then minutes)."""
    left = starts_at - now
    if abs(left - timedelta(minutes=armed)) <= LATE_TOLERANCE:
        return armed
    minutes = max(int(left.total_seconds() // 60), 1)
    if minutes >= 2 * 24 * 60:
        return round(minutes / (24 * 60)) * 24 * 60
    if minutes >= 2 * 60:
        return round(minutes / 60) * 60
    return minutes


# --- Reading times -----------------------------------------------------------

MAX_LENGTH = timedelta(hours=24)
TOO_LONG = N_("A meeting can last at most 24 hours.")


def parse_when(text: str, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime | None]:
    """A meeting's start (and perhaps its end) as typed; `bot.timeread` says what is read.

    E.g. '2026-03-12 18:00-20:00', '12/3 18-20', 'torsdag 17 december 18:30', 'nästa
    torsdag kl 18'. The end is None when only a start was given. Raises TimeReadError.
    """
    start, end = read_span(text, now, zone)
    check_times(start, end, now)
    return start, end


def parse_end(text: str, start: datetime, zone: ZoneInfo, now: datetime) -> datetime:
    """The end: a time after the start ('20:00', 'halv tio') or a length ('2h', '90 min')."""
    end = read_end(text, start, zone)
    check_times(start, end, now)
    return end


def check_times(start: datetime, end: datetime | None, now: datetime) -> None:
    if start <= now:
        raise TimeReadError(Problem.PAST)
    if end is not None:
        if end <= start:
            raise TimeReadError(Problem.END_BEFORE_START)
        if end - start > MAX_LENGTH:
            raise TimeReadError(Problem.TOO_LONG, TOO_LONG)


# --- Places ------------------------------------------------------------------


def split_place(text: str) -> tuple[str | None, str | None]:
    """An address or a link: 'https://…' and 'www.…' are links, anything else is a place."""
    value = " ".join(text.split())
    lowered = value.lower()
    if lowered.startswith(("http://", "https://")) and " " not in value:
        return None, value
    if lowered.startswith("www.") and " " not in value:
        return None, f"https://{value}"
    return value, None


def parse_capacity(text: str) -> int | None:
    """A positive number, or nothing for no limit ('-', 'nej', 'ingen', 'no', 'none'). ValueError otherwise."""
    cleaned = text.strip().lower()
    if cleaned in ("-", "nej", "ingen", "inget", "no", "none", "0"):
        return None
    if not (cleaned.isascii() and cleaned.isdigit()) or not 1 <= int(cleaned) <= 10000:
        raise ValueError(text)
    return int(cleaned)
