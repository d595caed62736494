"""Study circles (studiecirklar, with the study association ABF): the records and the pure rules.

Everything here is plain data and plain functions: the study association's
rules for a reportable circle, places and the waitlist, who counts as a
participant, and reading the sessions organisers type. The use cases are in
`bot.circles.service`, the chat in `entry`, `views` and `dialogs`; the tables in
`storage.circles`.

The study association's rules (ABF), as checked here:

- a circle has at least 3 and at most 20 participants, the leader counted;
- at least 3 meetings and at least 9 study hours (a study hour is 45 minutes);
- at most 4 study hours in one meeting;
- at least 3 present at every meeting (the leader counted);
- a participant counts when present for at least 9 study hours over at least
  3 meetings, one of them among the first three.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

from bot.i18n import Translator
from bot.timeread import UNREADABLE_CLOCK, Problem, TimeReadError, read_date, read_span

# --- The study association's rules -------------------------------------------

STUDY_HOUR_MINUTES = 45
MIN_GROUP = 3  # participants, the leader counted
MAX_GROUP = 20
MIN_MEETINGS = 3
MIN_STUDY_HOURS = 9
MAX_STUDY_HOURS_PER_MEETING = 4
MIN_PRESENT = 3  # at every meeting, the leader counted
PARTICIPANT_MIN_MEETINGS = 3
PARTICIPANT_EARLY_MEETINGS = 3  # one of the meetings attended must be among the first three

# The version of the question a participant answers about the attendance list
# leaving the organisation; raise it when the question changes in substance.
LIST_CONSENT_VERSION = "circles-abf-list-2026-11-23"


class EducationKind(StrEnum):
    MEMBER_EDUCATION_1 = "member_education_1"  # Medlemsutbildning steg 1
    MEMBER_EDUCATION_2 = "member_education_2"  # Medlemsutbildning steg 2
    LEADERSHIP = "leadership"
    LECTURE_SERIES = "lecture_series"
    OTHER = "other"


class CircleStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


class EnrolmentState(StrEnum):
    ENROLLED = "enrolled"
    WAITLISTED = "waitlisted"
    WITHDRAWN = "withdrawn"


class ChangeKind(StrEnum):
    JOINED = "joined"
    WAITLISTED = "waitlisted"
    PROMOTED = "promoted"
    LEFT = "left"
    MOVED = "moved"  # a session's time changed
    PLACE = "place"  # a session's place changed


@dataclass
class Circle:
    org_id: int
    title: str
    kind: EducationKind
    min_participants: int  # sign-ups, the leader not included
    max_participants: int
    signup_deadline: datetime
    description: str = ""
    material: str = ""
    place: str | None = None
    link: str | None = None  # a digital circle's meeting link
    leader_id: int | None = None  # people.id, SET NULL
    status: CircleStatus = CircleStatus.OPEN
    # Circles are for members; an organiser may open one to guests (a film club, a lecture).
    open_to_guests: bool = False
    version: int = 0  # raised when sessions move: reminder keys follow it
    created_by: int | None = None  # people.id, SET NULL
    created_at: datetime | None = None
    id: int | None = None

    @property
    def is_digital(self) -> bool:
        return bool(self.link) and not self.place

    @property
    def where(self) -> str:
        return " · ".join(part for part in (self.place, self.link) if part)


@dataclass
class CircleSession:
    circle_id: int
    starts_at: datetime
    ends_at: datetime
    place: str | None = None  # None: the circle's place
    id: int | None = None

    @property
    def minutes(self) -> int:
        return minutes_between(self.starts_at, self.ends_at)


@dataclass
class Enrolment:
    """A person's sign-up; the order of `signed_up_at` is the waitlist order."""

    circle_id: int
    person_id: int
    state: EnrolmentState
    signed_up_at: datetime
    # Whether the person agreed to be named on the attendance list sent to the
    # study association, when, and which version of the question they saw.
    list_consent: bool = False
    list_consent_at: datetime | None = None
    list_consent_version: str | None = None
    changed_at: datetime | None = None
    id: int | None = None


@dataclass
class SessionAttendance:
    session_id: int
    person_id: int | None  # None once the person is erased: still counted at the session
    recorded_at: datetime
    marked_by: int | None = None  # the leader; None when the person checked in
    id: int | None = None


@dataclass
class CircleChange:
    """What changed since the start, for the attendance list: who joined or left, moved sessions."""

    circle_id: int
    kind: ChangeKind
    at: datetime
    person_id: int | None = None  # SET NULL: the change stays, anonymously
    session_id: int | None = None
    detail: str = ""  # e.g. the old time or place, plain text
    id: int | None = None


@dataclass
class CircleThread:
    """The circle's group thread: its announcement message in one group channel.

    The core knows it by the outbox key of the announcement; adapters with
    threads or forum topics open one on that message, so a digital circle has
    its own place to talk.
    """

    circle_id: int
    platform: str
    chat_id: str
    outbox_key: str
    id: int | None = None


class CircleRepository(Protocol):
    async def add(self, circle: Circle) -> Circle: ...
    async def get(self, circle_id: int) -> Circle | None: ...
    async def lock(self, circle_id: int) -> None:
        """Holds the circle until the transaction ends: who counts its places goes one
        at a time (a no-op where units of work take turns anyway)."""
        ...

    async def of_orgs(self, org_ids: Sequence[int]) -> Sequence[Circle]:
        """Every circle of these organisations, cancelled ones too, oldest first."""
        ...

    async def flush(self) -> None:
        """Writes changes to loaded records, so that the next queries see them."""
        ...

    async def add_session(self, session: CircleSession) -> CircleSession: ...
    async def get_session(self, session_id: int) -> CircleSession | None: ...
    async def sessions(self, circle_id: int) -> Sequence[CircleSession]:
        """The circle's sessions in time order."""
        ...

    async def enrolments(self, circle_id: int) -> Sequence[Enrolment]:
        """Every sign-up, withdrawn ones too, in sign-up order (the waitlist order)."""
        ...

    async def enrolment(self, circle_id: int, person_id: int) -> Enrolment | None: ...
    async def add_enrolment(self, enrolment: Enrolment) -> Enrolment: ...
    async def remove_enrolment(self, enrolment: Enrolment) -> None: ...
    async def enrolments_of(self, person_id: int) -> Sequence[Enrolment]: ...
    async def attendance(self, circle_id: int) -> Sequence[SessionAttendance]:
        """Every attendance at any of the circle's sessions."""
        ...

    async def add_attendance(self, attendance: SessionAttendance) -> None: ...
    async def remove_attendance(self, session_id: int, person_id: int) -> None: ...
    async def add_change(self, change: CircleChange) -> None: ...
    async def changes(self, circle_id: int) -> Sequence[CircleChange]: ...
    async def add_thread(self, thread: CircleThread) -> None: ...
    async def threads(self, circle_id: int) -> Sequence[CircleThread]: ...


# --- Study hours --------------------------------------------------------------


def minutes_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def study_hours(minutes: int) -> float:
    """Minutes as study hours of 45 minutes: 135 minutes are 3.0."""
    return minutes / STUDY_HOUR_MINUTES


def format_hours(hours: float) -> str:
    """'3', '2.5', '1.33': as few decimals as the number needs, at most two."""
    text = f"{hours:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def hours_text(t: Translator, hours: float) -> str:
    """Study hours as the reader writes numbers: '8,67' in Swedish, '8.67' in English.

    Files (CSV) keep a plain '.' so that programs read them the same everywhere.
    """
    return str(format_decimal(round(hours, 2), format="#,##0.##", locale=t.language))


# --- Warnings before a circle breaks the rules ---------------------------------


class Rule(StrEnum):
    GROUP_TOO_SMALL = "group_too_small"  # the minimum allows fewer than 3, leader counted
    GROUP_TOO_LARGE = "group_too_large"  # the maximum allows more than 20, leader counted
    TOO_FEW_MEETINGS = "too_few_meetings"
    TOO_FEW_HOURS = "too_few_hours"
    MEETING_TOO_LONG = "meeting_too_long"
    TOO_FEW_PRESENT = "too_few_present"
    TOO_FEW_SIGNED_UP = "too_few_signed_up"


@dataclass(frozen=True)
class RuleWarning:
    rule: Rule
    session: int | None = None  # 1-based session number, where it concerns one
    value: float = 0  # the offending figure


def group_size(participants: int) -> int:
    """The size the study association counts: the participants and the leader."""
    return participants + 1


def plan_warnings(
    session_minutes: Sequence[int], min_participants: int, max_participants: int
) -> list[RuleWarning]:
    """What in a planned circle breaks the study association's rules, before it starts."""
    warnings: list[RuleWarning] = []
    if group_size(min_participants) < MIN_GROUP:
        warnings.append(RuleWarning(Rule.GROUP_TOO_SMALL, value=group_size(min_participants)))
    if group_size(max_participants) > MAX_GROUP:
        warnings.append(RuleWarning(Rule.GROUP_TOO_LARGE, value=group_size(max_participants)))
    if len(session_minutes) < MIN_MEETINGS:
        warnings.append(RuleWarning(Rule.TOO_FEW_MEETINGS, value=len(session_minutes)))
    total = sum(session_minutes)
    if total < MIN_STUDY_HOURS * STUDY_HOUR_MINUTES:
        warnings.append(RuleWarning(Rule.TOO_FEW_HOURS, value=study_hours(total)))
    for number, minutes in enumerate(session_minutes, start=1):
        if minutes > MAX_STUDY_HOURS_PER_MEETING * STUDY_HOUR_MINUTES:
            warnings.append(RuleWarning(Rule.MEETING_TOO_LONG, number, study_hours(minutes)))
    return warnings


def enrolment_warnings(enrolled: int) -> list[RuleWarning]:
    """The group as signed up now, the leader counted."""
    size = group_size(enrolled)
    if size < MIN_GROUP:
        return [RuleWarning(Rule.TOO_FEW_SIGNED_UP, value=size)]
    if size > MAX_GROUP:
        return [RuleWarning(Rule.GROUP_TOO_LARGE, value=size)]
    return []


def present_count(participants_present: int, leader_present: bool = True) -> int:
    return participants_present + (1 if leader_present else 0)


def session_attendance_warning(
    number: int, participants_present: int, leader_present: bool = True
) -> RuleWarning | None:
    """A held meeting with fewer than 3 present (the leader counted) breaks the rules."""
    present = present_count(participants_present, leader_present)
    if present < MIN_PRESENT:
        return RuleWarning(Rule.TOO_FEW_PRESENT, number, present)
    return None


def counts_as_participant(
    sessions: Sequence[CircleSession], present_session_ids: Collection[int]
) -> bool:
    """Present for at least 9 study hours over at least 3 meetings, one among the first three.

    `sessions` are the circle's sessions; their order in time decides which are the first three.
    """
    ordered = sorted(sessions, key=lambda s: (s.starts_at, s.id or 0))
    attended = [s for s in ordered if s.id in present_session_ids]
    minutes = sum(s.minutes for s in attended)
    early = {s.id for s in ordered[:PARTICIPANT_EARLY_MEETINGS]}
    return (
        len(attended) >= PARTICIPANT_MIN_MEETINGS
        and minutes >= MIN_STUDY_HOURS * STUDY_HOUR_MINUTES
        and any(s.id in early for s in attended)
    )


# --- Places and the waitlist -----------------------------------------------------


def active(enrolments: Sequence[Enrolment]) -> list[Enrolment]:
    return [e for e in enrolments if e.state is not EnrolmentState.WITHDRAWN]


def enrolled(enrolments: Sequence[Enrolment]) -> list[Enrolment]:
    return [e for e in enrolments if e.state is EnrolmentState.ENROLLED]


def waitlist(enrolments: Sequence[Enrolment]) -> list[Enrolment]:
    """Waiting people, first come first."""
    waiting = [e for e in enrolments if e.state is EnrolmentState.WAITLISTED]
    return sorted(waiting, key=lambda e: (e.signed_up_at, e.id or 0))


def state_for_new(enrolments: Sequence[Enrolment], max_participants: int) -> EnrolmentState:
    """A new sign-up gets a place while there is one, else a place in the waitlist."""
    if len(enrolled(enrolments)) < max_participants:
        return EnrolmentState.ENROLLED
    return EnrolmentState.WAITLISTED


def to_promote(enrolments: Sequence[Enrolment], max_participants: int) -> list[Enrolment]:
    """Who moves up from the waitlist, first come first, until the circle is full."""
    free = max_participants - len(enrolled(enrolments))
    return waitlist(enrolments)[: max(free, 0)]


# --- Reading what organisers type -----------------------------------------------


class InputError(ValueError):
    """Input that cannot be read; `code` says which explanation to show.

    `cause` is the time reader's own reason where it says more than the code
    (a weekday that doesn't match the date, a date that isn't in the calendar).
    """

    def __init__(self, code: str, cause: TimeReadError | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.cause = cause


MAX_SESSIONS = 30
MAX_TITLE = 120

_COUNT = re.compile(r"^(?:x|×|\*)\s*(\d{1,2})$|^(\d{1,2})\s*(?:x|×|ggr|gånger|ganger|times)$")


def parse_date(text: str, today: date) -> date:
    """A day as `bot.timeread` reads it: '2026-03-10', '10/3', '10 mars', 'torsdag', 'i morgon'.

    Without a year: the next such date from today on. A past date is returned; the caller
    says why it is too early.
    """
    now = datetime.combine(today, time(12), UTC)
    try:
        return read_date(text, now, ZoneInfo("UTC"), allow_past=True)
    except TimeReadError as error:
        raise _input_error(error, "date") from error


def _input_error(error: TimeReadError, unreadable: str) -> InputError:
    codes = {
        Problem.NO_TIME: "span",
        Problem.END_BEFORE_START: "end_before_start",
        Problem.PAST: "past",
    }
    if error.problem is Problem.UNREADABLE:
        return InputError("time" if error.reason == UNREADABLE_CLOCK else unreadable)
    return InputError(codes.get(error.problem, "explained"), error)


@dataclass(frozen=True)
class PlannedSession:
    starts_at: datetime
    ends_at: datetime

    @property
    def minutes(self) -> int:
        return minutes_between(self.starts_at, self.ends_at)


def parse_sessions(text: str, zone: ZoneInfo, now: datetime) -> list[PlannedSession]:
    """Reads the sessions an organiser types, in the organisation's zone.

    Either a list, one session per line or separated by ';' or ',':
    '10/3 18:00-20:15; 17/3 18:00-20:15; 24/3 18:00-20:15', or a weekly
    recurrence with a count: '10/3 18:00-20:15 x4' (also '4 ggr', '4 gånger').
    Each session is a day and a range as `bot.timeread` reads them ('tors 12/3
    kl 18-20.15'). Every session must start in the future and end after it starts.
    """
    items = [part.strip() for part in re.split(r"[;\n,]", text) if part.strip()]
    if not items:
        raise InputError("sessions")
    sessions: list[PlannedSession] = []
    for item in items:
        sessions.extend(_parse_item(item, zone, now))
    if len(sessions) > MAX_SESSIONS:
        raise InputError("too_many_sessions")
    sessions.sort(key=lambda s: s.starts_at)
    for first, second in itertools.pairwise(sessions):
        if second.starts_at < first.ends_at:
            raise InputError("overlap")
    if sessions[0].starts_at <= now:
        raise InputError("past")
    return sessions


def _parse_item(item: str, zone: ZoneInfo, now: datetime) -> list[PlannedSession]:
    words = item.split()
    count = 1
    tail = " ".join(words[-2:]) if len(words) >= 2 else ""
    if words and (match := _COUNT.match(words[-1].lower())):
        count = int(match[1] or match[2])
        words = words[:-1]
    elif tail and (match := _COUNT.match(tail.lower())):
        count = int(match[1] or match[2])
        words = words[:-2]
    if not 1 <= count <= MAX_SESSIONS:
        raise InputError("too_many_sessions")
    try:
        start, end = read_span(" ".join(words), now, zone, allow_past=True)
    except TimeReadError as error:
        raise _input_error(error, "sessions") from error
    if end is None:
        raise InputError("span")
    # A weekly series: the same weekday and wall-clock time, across daylight-saving changes.
    return [
        PlannedSession(
            _weeks_later(start, week, zone).astimezone(ZoneInfo("UTC")),
            _weeks_later(end, week, zone).astimezone(ZoneInfo("UTC")),
        )
        for week in range(count)
    ]


def _weeks_later(moment: datetime, weeks: int, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    return datetime.combine(local.date() + timedelta(weeks=weeks), local.time(), zone)


def parse_range(text: str) -> tuple[int, int]:
    """'3-12' or '3 till 12' as (minimum, maximum) participants, the leader not counted."""
    numbers = re.findall(r"\d+", text)
    rest = re.sub(r"[\d\s\-–]|till|to|och|and", "", text.lower())
    if len(numbers) != 2 or rest:
        raise InputError("range")
    low, high = int(numbers[0]), int(numbers[1])
    if low < 1 or high < low or high > 500:
        raise InputError("range")
    return low, high


def default_deadline(first_start: datetime) -> datetime:
    """Sign-up closes a week before the first session unless the organiser says otherwise."""
    return first_start - timedelta(days=7)
