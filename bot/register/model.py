"""The member register: what an import reads, the rules for a row, and the tombstones.

A branch's member officer imports the party register's export (`samtal members
import`). Each member becomes an ordinary `Person` (status member, affiliated to her
organisation, reachable by e-mail through an `email` identity) plus one
`RegisterEntry` with what the register says. The register stays the source: an
import upserts by member number, and a member missing from a full import is marked
former, never deleted (retention erases former members like other guests).

Data minimisation: the mobile number is read but never stored (no feature sends
text messages); the member number, name, e-mail address, when she joined and
until when she has paid are kept, each for a feature (linking, the welcome, the
figures, /obetalda).

A member erased at her own request leaves a tombstone: a keyed hash (HMAC-SHA256)
of her member number, so that the next import refuses her row without storing
who she was. The key comes from the deployment (`SAMTAL_REGISTER_KEY`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

# A member who joined at most this long before the import, and was not known before,
# gets the welcome (a contact person, the introduction and a welcome message).
WELCOME_WINDOW = timedelta(days=60)
# An unpaid member is reminded at most this often, however often the officer approves.
REMINDER_INTERVAL = timedelta(days=30)
EMAIL_MAX = 254  # the longest address SMTP carries (RFC 5321); identities and chats hold it
NAME_MAX = 100
NUMBER = re.compile(r"^[A-Za-z0-9-]{1,32}$")
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


class EntryStatus(StrEnum):
    CURRENT = "current"
    FORMER = "former"  # missing from a full import: kept until retention erases them


@dataclass
class RegisterEntry:
    """One member as the register says, linked to the person she is here."""

    org_id: int
    person_id: int
    member_number: str
    number_hash: str  # the tombstone an erasure leaves (see the module)
    first_name: str
    last_name: str
    email: str | None
    joined_on: date | None
    paid_until: date | None
    status: EntryStatus
    join_token: str  # her personal join link: /start reg_<token>
    imported_at: datetime
    changed_at: datetime
    former_since: datetime | None = None
    reminded_at: datetime | None = None  # the last reminder about an unpaid fee
    id: int | None = None

    @property
    def name(self) -> str:
        return display_name(self.first_name, self.last_name)


@dataclass(frozen=True, slots=True)
class KnownEntry:
    """What an import compares a row with: an entry as stored, without the ORM's weight."""

    id: int
    person_id: int
    org_id: int
    member_number: str
    first_name: str
    last_name: str
    email: str | None
    joined_on: date | None
    paid_until: date | None
    status: EntryStatus

    @property
    def name(self) -> str:
        return display_name(self.first_name, self.last_name)


@dataclass(frozen=True, slots=True)
class MemberRow:
    """A row of the file that reads: what it says, normalised."""

    line: int
    member_number: str
    first_name: str
    last_name: str
    email: str | None
    org_ref: str | None
    joined_on: date | None
    paid_until: date | None

    @property
    def name(self) -> str:
        return display_name(self.first_name, self.last_name)

    def differs(self, entry: KnownEntry, org_id: int) -> bool:
        return (
            entry.status is EntryStatus.FORMER
            or entry.org_id != org_id
            or (entry.first_name, entry.last_name, entry.email)
            != (self.first_name, self.last_name, self.email)
            or (entry.joined_on, entry.paid_until) != (self.joined_on, self.paid_until)
        )


@dataclass(frozen=True, slots=True)
class Refused:
    line: int
    reason: str


@dataclass
class ImportReport:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    missing: int = 0  # current members not in this file: marked former (a full import)
    welcomed: int = 0
    shared: int = 0  # new members whose e-mail address was someone else's already
    refused: list[Refused] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class FileRefused(Exception):
    """A problem with the whole file: nothing is imported."""


def display_name(first: str, last: str) -> str:
    return f"{first} {last}".strip()


def tombstone(key: bytes, member_number: str) -> str:
    """The keyed hash of a member number: without the key it can't be tested against numbers."""
    return hmac.new(key, member_number.encode("utf-8"), hashlib.sha256).hexdigest()


def member_number(value: object) -> str:
    """The number as the register writes it; a spreadsheet's 1234.0 is 1234."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"\s+", "", str(value if value is not None else ""))


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _date(value: object, column: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    for pattern in ("%Y-%m-%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"{column} {text!r} is not a date (YYYY-MM-DD)")


def read_row(line: int, values: Mapping[str, object]) -> MemberRow | Refused:
    """One row of the file (`values` by field name), or why it is refused."""
    if "_extra" in values:
        return Refused(line, f"{values['_extra']} columns, more than the header names")
    number = member_number(values.get("member_number"))
    first, last = _text(values.get("first_name")), _text(values.get("last_name"))
    if not number:
        return Refused(line, "no member number")
    if not NUMBER.match(number):
        return Refused(line, f"member number {number[:40]!r} has characters other than A-Z, 0-9, -")
    if not first and not last:
        return Refused(line, "no name")
    if len(first) > NAME_MAX or len(last) > NAME_MAX:
        return Refused(line, f"a name longer than {NAME_MAX} characters")
    email = _text(values.get("email")).lower() or None
    if email is not None and not EMAIL.match(email):
        return Refused(line, f"e-mail address {email[:80]!r} does not read")
    if email is not None and len(email) > EMAIL_MAX:
        return Refused(line, f"e-mail address longer than {EMAIL_MAX} characters")
    try:
        joined = _date(values.get("joined_on"), "inträdesdatum")
        paid = _date(values.get("paid_until"), "betald t.o.m.")
    except ValueError as exc:
        return Refused(line, str(exc))
    org_ref = _text(values.get("org")) or None
    return MemberRow(line, number, first, last, email, org_ref, joined, paid)


def duplicates(numbers: Iterable[tuple[int, str]]) -> dict[str, list[int]]:
    """Member numbers that appear on more than one line, and those lines."""
    lines: dict[str, list[int]] = {}
    for line, number in numbers:
        if number:
            lines.setdefault(number, []).append(line)
    return {number: found for number, found in lines.items() if len(found) > 1}


def is_new_member(row: MemberRow, today: date) -> bool:
    return row.joined_on is not None and today - WELCOME_WINDOW <= row.joined_on <= today


def unpaid(entries: Iterable[RegisterEntry], today: date) -> list[RegisterEntry]:
    """Current members whose 'paid until' has passed, longest unpaid first."""
    found = [
        e
        for e in entries
        if e.status is EntryStatus.CURRENT and e.paid_until is not None and e.paid_until < today
    ]
    return sorted(found, key=lambda e: (e.paid_until or today, e.last_name, e.first_name))


def due_reminder(entry: RegisterEntry, now: datetime) -> bool:
    return entry.reminded_at is None or now - entry.reminded_at >= REMINDER_INTERVAL


@dataclass(frozen=True, slots=True)
class NewMember:
    """What an import adds: a person, her e-mail identity, affiliation and register entry."""

    row: MemberRow
    org_id: int
    since: datetime
    number_hash: str
    join_token: str


@dataclass(frozen=True)
class Reach:
    """How the members of some organisations can be reached."""

    members: int
    registered: int  # current members in the register
    by_platform: Mapping[str, int]  # members with an account there
    unreachable: int  # members with no account anywhere


class RegisterRepository(Protocol):
    async def by_numbers(self, numbers: Collection[str]) -> dict[str, KnownEntry]: ...
    async def current_numbers(self, org_ids: Sequence[int]) -> Sequence[tuple[int, int, str]]:
        """(entry id, person id, member number) of the current entries of these organisations."""
        ...

    async def current_in(self, org_ids: Sequence[int]) -> Sequence[RegisterEntry]: ...
    async def of_person(self, person_id: int) -> RegisterEntry | None: ...
    async def by_token(self, token: str) -> RegisterEntry | None: ...
    async def current_by_number(self, number: str) -> RegisterEntry | None: ...
    async def tombstoned(self, hashes: Collection[str]) -> set[str]: ...
    async def emails_taken(self, emails: Collection[str]) -> set[str]:
        """Which of these addresses are already someone's e-mail identity."""
        ...

    async def add_members(
        self, members: Sequence[NewMember], now: datetime, taken: set[str]
    ) -> list[int]:
        """Adds people, identities, affiliations and entries in batches; their person ids.
        An address in `taken` (someone's e-mail identity) is not given again; the new ones
        are added to it."""
        ...

    async def update_members(
        self, changes: Sequence[tuple[KnownEntry, MemberRow, int]], now: datetime
    ) -> None:
        """Each entry takes the row's values and organisation; her person follows."""
        ...

    async def mark_former(self, entries: Sequence[tuple[int, int]], now: datetime) -> None:
        """(entry id, person id): the entries become former, their people guests."""
        ...

    async def reminded(self, entry_ids: Sequence[int], now: datetime) -> None: ...
    async def has_pending_code(self, person_id: int, now: datetime) -> bool: ...
    async def reach(self, org_ids: Sequence[int]) -> Reach: ...
    async def joined_between(self, org_ids: Sequence[int], start: date, end: date) -> set[int]:
        """Person ids of current members who joined in [start, end] by the register."""
        ...
