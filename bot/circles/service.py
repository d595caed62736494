"""Study circles' use cases: what other capabilities, the CLI and the demo may call.

They take `Effects`, so they work from a command, a button or a timer alike:

- `open_circles(effects, person, kind)`: the circles open for sign-up that
  this person can reach (their organisations, those above and below them).
- `offer_circles(effects, person, kind, key=...)`: sends the person a private
  message with the open circles of that kind and a sign-up button for each
  (the welcome flow's "member education step 1" offer); returns how many.
- `sign_up(effects, circle, person, list_consent=...)`: signs up, or puts on
  the waitlist when the circle is full.
- `create_circle(effects, draft)`: creates a circle from a `CircleDraft`
  without any dialog (the annual wheel's templates), arms its timers and
  announces it in the organisation's group channels (its thread).
- `attendance_list(effects, circle, t)`: the list for the study association.

`CIRCLE` and `SESSION` are the objects the circles' buttons act on (`bot.actions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from bot.actions import Target
from bot.circles import views
from bot.circles.model import (
    LIST_CONSENT_VERSION,
    ChangeKind,
    Circle,
    CircleChange,
    CircleSession,
    CircleStatus,
    CircleThread,
    EducationKind,
    Enrolment,
    EnrolmentState,
    PlannedSession,
    RuleWarning,
    default_deadline,
    enrolled,
    plan_warnings,
    state_for_new,
    to_promote,
)
from bot.circles.sheet import AttendanceList, attendance_list
from bot.clock import Clock
from bot.context import Context, Effects
from bot.domain.people import Person
from bot.formatting import when_span
from bot.i18n import Translator
from bot.permissions import Permission, permissions_in
from bot.ports import UnitOfWork

__all__ = [
    "CIRCLE",
    "SESSION",
    "AttendanceList",
    "CircleDraft",
    "SessionInCircle",
    "attendance_list",
    "can_manage",
    "create_circle",
    "move_session",
    "offer_circles",
    "open_circles",
    "reachable_org_ids",
    "seed_demo_circles",
    "send_attendance_list",
    "sign_up",
    "withdraw",
]

REMINDER_BEFORE = timedelta(days=1)
LOW_WARNING_BEFORE_DEADLINE = timedelta(days=3)


# --- Creating a circle without a dialog -----------------------------------------------


@dataclass
class CircleDraft:
    """Everything a new circle needs; `sessions` in time order, instants in UTC."""

    org_id: int
    title: str
    kind: EducationKind
    sessions: list[PlannedSession]
    min_participants: int
    max_participants: int
    signup_deadline: datetime | None = None  # None: a week before the first session
    description: str = ""
    material: str = ""
    place: str | None = None
    link: str | None = None
    leader_id: int | None = None
    created_by: int | None = None
    open_to_guests: bool = False
    warnings: list[RuleWarning] = field(default_factory=list)

    def rule_warnings(self) -> list[RuleWarning]:
        return plan_warnings(
            [s.minutes for s in self.sessions], self.min_participants, self.max_participants
        )

    def as_circle(self, *, created_at: datetime | None = None) -> Circle:
        """The circle this draft makes (unsaved; also the preview before creating it)."""
        first = min(s.starts_at for s in self.sessions)
        return Circle(
            org_id=self.org_id,
            title=self.title,
            kind=self.kind,
            min_participants=self.min_participants,
            max_participants=self.max_participants,
            signup_deadline=self.signup_deadline or default_deadline(first),
            description=self.description,
            material=self.material,
            place=self.place,
            link=self.link,
            leader_id=self.leader_id,
            created_by=self.created_by,
            open_to_guests=self.open_to_guests,
            created_at=created_at,
        )


async def create_circle(effects: Effects, draft: CircleDraft, *, announce: bool = True) -> Circle:
    """Creates the circle and its sessions, arms its reminders and the low-sign-up check.

    With `announce`, posts it in the organisation's group channels with a sign-up
    button; that post is the circle's thread (adapters with threads open one on it).
    Raises ValueError for a draft without sessions or with a deadline after the start.
    """
    if not draft.sessions:
        raise ValueError("a circle needs at least one session")
    sessions = sorted(draft.sessions, key=lambda s: s.starts_at)
    unsaved = draft.as_circle(created_at=effects.now)
    if unsaved.signup_deadline > sessions[0].starts_at:
        raise ValueError("the sign-up deadline must not be after the first session")
    circle = await effects.uow.circles.add(unsaved)
    assert circle.id is not None
    for planned in sessions:
        await effects.uow.circles.add_session(
            CircleSession(circle.id, planned.starts_at, planned.ends_at)
        )
    await _arm(effects, circle)
    if announce:
        await _announce(effects, circle)
    return circle


async def _arm(effects: Effects, circle: Circle) -> None:
    """Schedules every timer of the circle's current version (moved sessions get new keys)."""
    assert circle.id is not None
    base = f"circle:{circle.id}:v{circle.version}"
    payload = {"circle": circle.id, "version": circle.version}
    for session in await effects.uow.circles.sessions(circle.id):
        assert session.id is not None
        data = {**payload, "session": session.id}
        stamp = session.starts_at.strftime("%Y%m%dT%H%M")
        reminder_at = session.starts_at - REMINDER_BEFORE
        if reminder_at > effects.now:
            await effects.schedule(
                f"{base}:s{session.id}:{stamp}:reminder", "circle.reminder", reminder_at, data
            )
        if session.starts_at > effects.now:
            await effects.schedule(
                f"{base}:s{session.id}:{stamp}:start", "circle.start", session.starts_at, data
            )
        if session.ends_at > effects.now:
            await effects.schedule(
                f"{base}:s{session.id}:{stamp}:end", "circle.end", session.ends_at, data
            )
    # Close to the deadline; for a circle created closer than that, halfway to it.
    check_at = max(
        circle.signup_deadline - LOW_WARNING_BEFORE_DEADLINE,
        effects.now + (circle.signup_deadline - effects.now) / 2,
    )
    await effects.schedule(
        f"circle:{circle.id}:lowcheck:{circle.signup_deadline.strftime('%Y%m%dT%H%M')}",
        "circle.lowcheck",
        check_at,
        payload,
    )


async def _announce(effects: Effects, circle: Circle) -> None:
    assert circle.id is not None
    org = await effects.uow.orgs.get(circle.org_id)
    if org is None:
        return
    sessions = await effects.uow.circles.sessions(circle.id)
    leader = await effects.uow.people.get(circle.leader_id) if circle.leader_id else None
    key = f"circle:{circle.id}:announce"
    await effects.post_to_org(
        org,
        partial(views.announcement, circle=circle, org=org, sessions=sessions, leader=leader),
        key=key,
    )
    for channel in await effects.uow.orgs.channels_of(circle.org_id):
        await effects.uow.circles.add_thread(
            CircleThread(
                circle.id,
                channel.platform,
                channel.chat_id,
                f"{key}:{channel.platform}:{channel.chat_id}",
            )
        )


# --- Finding circles, and who may see and run them --------------------------------------


async def reachable_org_ids(effects: Effects, person: Person) -> list[int]:
    """The person's organisations, every one above them and every one below them."""
    assert person.id is not None
    found: dict[int, None] = {}
    for affiliation in await effects.uow.people.affiliations_of(person.id):
        for org in [
            *await effects.uow.orgs.lineage(affiliation.org_id),
            *await effects.uow.orgs.subtree(affiliation.org_id),
        ]:
            if org.id is not None:
                found[org.id] = None
    return list(found)


async def open_circles(
    effects: Effects, person: Person, kind: EducationKind | None = None
) -> list[Circle]:
    """Circles this person can reach that are open for sign-up now, soonest first.

    `kind` narrows it to one kind of education, e.g. `EducationKind.MEMBER_EDUCATION_1`.
    """
    circles = await effects.uow.circles.of_orgs(await reachable_org_ids(effects, person))
    chosen = [
        c
        for c in circles
        if c.status is CircleStatus.OPEN
        and c.signup_deadline > effects.now
        and (kind is None or c.kind is kind)
    ]
    firsts: dict[int, datetime] = {}
    for circle in chosen:
        assert circle.id is not None
        sessions = await effects.uow.circles.sessions(circle.id)
        firsts[circle.id] = sessions[0].starts_at if sessions else circle.signup_deadline
    return sorted(chosen, key=lambda c: (firsts[c.id or 0], c.id or 0))


async def offer_circles(
    effects: Effects, person: Person, kind: EducationKind, *, key: str, limit: int = 3
) -> int:
    """Offers the person, privately, the open circles of one kind with a sign-up button each.

    For the welcome flow: `await offer_circles(ctx, person,
    EducationKind.MEMBER_EDUCATION_1, key=f"welcome:{flow_id}:education")`.
    Pressing a button asks the attendance-list question and signs them up (or
    puts them on the waitlist). Sends nothing and returns 0 when no circle of
    that kind is open; otherwise returns how many circles were offered. The key
    makes the message go out at most once.
    """
    circles = (await open_circles(effects, person, kind))[:limit]
    if not circles:
        return 0
    details = []
    for circle in circles:
        assert circle.id is not None
        org = await effects.uow.orgs.get(circle.org_id)
        sessions = await effects.uow.circles.sessions(circle.id)
        details.append((circle, org, sessions))
    await effects.notify(person, partial(views.offer, kind=kind, details=details), key=key)
    return len(circles)


async def can_manage(effects: Effects, person: Person, circle: Circle) -> bool:
    """The circle's leader, or an organiser or study organiser of its organisation or above."""
    assert person.id is not None
    if circle.leader_id == person.id:
        return True
    lineage = [o.id for o in await effects.uow.orgs.lineage(circle.org_id) if o.id is not None]
    roles = await effects.uow.people.roles_of(person.id)
    return Permission.MANAGE_CIRCLES in permissions_in(lineage, roles)


async def can_see(ctx: Context, circle: Circle) -> bool:
    """A circle in reach (own organisations, above and below), or one the person runs."""
    reachable = circle.org_id in await reachable_org_ids(ctx, ctx.person)
    return reachable or await can_manage(ctx, ctx.person, circle)


@dataclass(frozen=True)
class SessionInCircle:
    """A session with the circle it belongs to, as a session's buttons need them."""

    circle: Circle
    session: CircleSession


async def _load_session(effects: Effects, session_id: int) -> SessionInCircle | None:
    session = await effects.uow.circles.get_session(session_id)
    circle = await effects.uow.circles.get(session.circle_id) if session else None
    if session is None or circle is None:
        return None
    return SessionInCircle(circle, session)


CIRCLE: Target[Circle] = Target(
    load=lambda fx, circle_id: fx.uow.circles.get(circle_id),
    org_id=lambda circle: circle.org_id,
    visible=can_see,
)
# Who may press a session's buttons is the use case's own rule (signed up; the leader).
SESSION: Target[SessionInCircle] = Target(
    load=_load_session, org_id=lambda found: found.circle.org_id
)


# --- Signing up and withdrawing -----------------------------------------------------


async def sign_up(
    effects: Effects, circle: Circle, person: Person, *, list_consent: bool
) -> Enrolment:
    """Signs the person up, or puts them on the waitlist when the circle is full.

    `list_consent` is their answer to whether their name may be on the attendance
    list that goes to the study association; it is stored with the time and the
    version of the question. Signing up again after withdrawing starts afresh
    (at the back of the waitlist). Already signed up: returns that sign-up unchanged.
    """
    assert circle.id is not None and person.id is not None
    # Two pressing at once for the last place must not both get it: the circle is held
    # until this sign-up is committed, so the next one counts after it (on PostgreSQL).
    await effects.uow.circles.lock(circle.id)
    enrolments = await effects.uow.circles.enrolments(circle.id)
    existing = next((e for e in enrolments if e.person_id == person.id), None)
    if existing and existing.state is not EnrolmentState.WITHDRAWN:
        return existing
    state = state_for_new(enrolments, circle.max_participants)
    if existing:
        # A new sign-up after withdrawing: a fresh row, so it queues behind everyone waiting.
        await effects.uow.circles.remove_enrolment(existing)
    enrolment = await effects.uow.circles.add_enrolment(
        Enrolment(
            circle.id,
            person.id,
            state,
            signed_up_at=effects.now,
            changed_at=effects.now,
            list_consent=list_consent,
            list_consent_at=effects.now,
            list_consent_version=LIST_CONSENT_VERSION,
        )
    )
    kind = ChangeKind.JOINED if state is EnrolmentState.ENROLLED else ChangeKind.WAITLISTED
    await effects.uow.circles.add_change(CircleChange(circle.id, kind, effects.now, person.id))
    return enrolment


async def withdraw(effects: Effects, circle: Circle, enrolment: Enrolment) -> list[Enrolment]:
    """Takes the person off the circle and gives free places to the waitlist, first come first.

    Each promoted person is told. Returns the promoted sign-ups.
    """
    assert circle.id is not None
    await effects.uow.circles.lock(circle.id)  # places freed at once promote each one person
    enrolment.state, enrolment.changed_at = EnrolmentState.WITHDRAWN, effects.now
    await effects.uow.circles.add_change(
        CircleChange(circle.id, ChangeKind.LEFT, effects.now, enrolment.person_id)
    )
    promoted = to_promote(await effects.uow.circles.enrolments(circle.id), circle.max_participants)
    org = await effects.uow.orgs.get(circle.org_id)
    sessions = await effects.uow.circles.sessions(circle.id)
    upcoming = [s for s in sessions if s.starts_at > effects.now]
    for lucky in promoted:
        lucky.state, lucky.changed_at = EnrolmentState.ENROLLED, effects.now
        await effects.uow.circles.add_change(
            CircleChange(circle.id, ChangeKind.PROMOTED, effects.now, lucky.person_id)
        )
        person = await effects.uow.people.get(lucky.person_id)
        if person is None or org is None:
            continue
        build = partial(
            views.promoted,
            circle=circle,
            next_start=upcoming[0].starts_at if upcoming else None,
            zone=org.zone,
        )
        await effects.notify(
            person, build, key=f"circle:{circle.id}:promoted:{lucky.id}:{effects.now:%Y%m%dT%H%M%S}"
        )
    return promoted


async def give_up_places(effects: Effects, person: Person) -> None:
    """Before erasure: the person leaves every circle that has not ended, so the first one
    waiting moves up and is told."""
    assert person.id is not None
    for enrolment in await effects.uow.circles.enrolments_of(person.id):
        circle = await effects.uow.circles.get(enrolment.circle_id)
        if circle is None or circle.status is not CircleStatus.OPEN:
            continue
        if enrolment.state is EnrolmentState.WITHDRAWN:
            continue
        sessions = await effects.uow.circles.sessions(enrolment.circle_id)
        if not sessions or sessions[-1].ends_at > effects.now:
            await withdraw(effects, circle, enrolment)


# --- Who is in it -----------------------------------------------------------------------


async def numbered(effects: Effects, circle: Circle, session: CircleSession) -> tuple[int, int]:
    """The session's number in the circle, and how many sessions it has."""
    assert circle.id is not None
    sessions = list(await effects.uow.circles.sessions(circle.id))
    return [s.id for s in sessions].index(session.id) + 1, len(sessions)


async def participants(effects: Effects, circle: Circle) -> list[Person]:
    """The people with a place (not the waitlist)."""
    assert circle.id is not None
    people = []
    for enrolment in enrolled(await effects.uow.circles.enrolments(circle.id)):
        person = await effects.uow.people.get(enrolment.person_id)
        if person:
            people.append(person)
    return people


async def leader_of(effects: Effects, circle: Circle) -> Person | None:
    return await effects.uow.people.get(circle.leader_id) if circle.leader_id else None


async def organisers(effects: Effects, circle: Circle) -> list[Person]:
    """Who hears about the circle's problems: its leader and whoever created it."""
    people: list[Person] = []
    for person_id in (circle.leader_id, circle.created_by):
        if person_id is not None and person_id not in {p.id for p in people}:
            person = await effects.uow.people.get(person_id)
            if person:
                people.append(person)
    return people


# --- Moving a session -------------------------------------------------------------------


async def move_session(
    effects: Effects,
    circle: Circle,
    session: CircleSession,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    place: str | None = None,
) -> None:
    """Moves a session in time and/or to another place, for everyone.

    The change goes on the attendance list; reminders follow the new time
    (the circle's version is raised, so the old timers do nothing); the
    participants and the leader are told.
    """
    assert circle.id is not None and session.id is not None
    org = await effects.uow.orgs.get(circle.org_id)
    assert org is not None
    zone = org.zone
    t_org = Translator(org.language)
    if starts_at is not None and ends_at is not None:
        old = when_span(session.starts_at, session.ends_at, zone, t_org)
        session.starts_at, session.ends_at = starts_at, ends_at
        await effects.uow.circles.add_change(
            CircleChange(
                circle.id,
                ChangeKind.MOVED,
                effects.now,
                session_id=session.id,
                detail=f"{old} → {when_span(starts_at, ends_at, zone, t_org)}",
            )
        )
    if place is not None:
        old_place = session.place or circle.where
        session.place = place
        await effects.uow.circles.add_change(
            CircleChange(
                circle.id,
                ChangeKind.PLACE,
                effects.now,
                session_id=session.id,
                detail=f"{old_place} → {place}",
            )
        )
    circle.version += 1
    await effects.uow.circles.flush()
    await _arm(effects, circle)
    number, total = await numbered(effects, circle, session)
    leader = await leader_of(effects, circle)
    await effects.notify_each(
        [*await participants(effects, circle), *([leader] if leader else [])],
        partial(
            views.reminder,
            circle=circle,
            session=session,
            number=number,
            total=total,
            zone=zone,
            heading=views.CHANGED,
        ),
        key=f"circle:{circle.id}:v{circle.version}:s{session.id}:moved",
    )


# --- The attendance list ---------------------------------------------------------------


async def send_attendance_list(effects: Effects, circle: Circle, person: Person, key: str) -> None:
    """Sends the person the list as CSV and as a printable HTML page, privately."""
    translator = await effects.translator_for(person)
    sheet = await attendance_list(effects, circle, translator)
    stem = f"narvarolista-cirkel-{circle.id}"
    build_csv = partial(views.attendance_csv, title=circle.title, stem=stem, sheet=sheet)
    await effects.notify(person, build_csv, key=f"{key}:csv")
    build_page = partial(views.attendance_page, stem=stem, sheet=sheet)
    await effects.notify(person, build_page, key=f"{key}:html")


# --- Demo ----------------------------------------------------------------------------


async def seed_demo_circles(uow: UnitOfWork, clock: Clock) -> None:
    """One demo circle: member education step 1 in Sandviken, Erik leading.

    Three Tuesday evenings starting about eight weeks ahead, not announced (a
    seeded database starts with an empty outbox) and with no one signed up yet.
    """
    org = await uow.orgs.by_slug("sandviken")
    erik = await uow.people.by_identity("console", "erik")
    if org is None or org.id is None or erik is None:
        return
    today = clock.now().astimezone(org.zone).date() + timedelta(weeks=8)
    first_day = today + timedelta(days=(1 - today.weekday()) % 7)  # the next Tuesday
    start = datetime.combine(first_day, time(18, 0), org.zone).astimezone(ZoneInfo("UTC"))
    await create_circle(
        Effects(uow, clock),
        CircleDraft(
            org_id=org.id,
            title="Medlemsutbildning steg 1",
            kind=EducationKind.MEMBER_EDUCATION_1,
            sessions=[
                PlannedSession(
                    start + timedelta(weeks=week), start + timedelta(weeks=week, minutes=135)
                )
                for week in range(3)
            ],
            min_participants=3,
            max_participants=12,
            description="Grunderna: partiets historia, våra värderingar och hur vi arbetar lokalt.",
            material="Medlemsutbildning steg 1 (ABF)",
            place="ABF-huset, Sandviken",
            leader_id=erik.id,
            created_by=erik.id,
        ),
        announce=False,
    )
