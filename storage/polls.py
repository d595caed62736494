"""Tables and repository for polls (the anonymity scheme is described in bot/polls/model.py).

People columns: participation is the person's own data (CASCADE). A ballot
outlives the person and stays counted: a visible ballot's person becomes
NULL; an anonymous ballot never has one. Either loses its reason, the
voter's own words (`before_erase`). The ballots table has random ids
and, on SQLite, no rowid, so its rows are stored in id order, not in the
order people voted.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.people import Person, Status
from bot.polls.model import Ballot, Participation, Poll, PollKind, PollStatus, voter_key
from storage import tables
from storage.repositories import _built, _EntityRepository
from storage.tables import UtcDateTime, enum_column, metadata, person_fk

polls = tables.numbered_table(
    "polls",
    tables.org_column(index=True),
    sa.Column("kind", enum_column(PollKind), nullable=False),
    sa.Column("question", sa.String(300), nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("deadline", UtcDateTime, nullable=False),
    sa.Column("anonymous", sa.Boolean, nullable=False),
    sa.Column("members_only", sa.Boolean, nullable=False),
    sa.Column("live_results", sa.Boolean, nullable=False),
    sa.Column("max_choices", sa.Integer),
    sa.Column("quorum_percent", sa.Integer),
    *tables.created(),
    sa.Column("status", enum_column(PollStatus), nullable=False),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("eligible_count", sa.Integer),
    sa.Column("meeting_id", tables.references("meetings", "SET NULL")),
)

# Apart from `polls` on purpose: a poll row is exported with its creator's data, the secret never.
poll_secrets = sa.Table(
    "poll_secrets",
    metadata,
    sa.Column("poll_id", tables.references("polls"), primary_key=True),
    sa.Column("secret", sa.String(64), nullable=False),
)

poll_participation = tables.numbered_table(
    "poll_participation",
    sa.Column("poll_id", tables.references("polls"), nullable=False),
    sa.Column("person_id", person_fk(), nullable=False, index=True),
    sa.UniqueConstraint("poll_id", "person_id"),
)

poll_ballots = sa.Table(
    "poll_ballots",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("poll_id", tables.references("polls"), nullable=False, index=True),
    sa.Column("person_id", person_fk("SET NULL")),
    sa.Column("voter_key", sa.String(64)),
    sa.Column("choice", sa.JSON, nullable=False),
    sa.Column("reason", sa.String(500)),
    sa.UniqueConstraint("poll_id", "person_id"),
    sa.UniqueConstraint("poll_id", "voter_key"),
    sqlite_with_rowid=False,
)

MAPPINGS = (
    (Poll, polls),
    (Participation, poll_participation),
    (Ballot, poll_ballots),
)


class SqlAlchemyPollRepository(_EntityRepository[Poll]):
    entity = Poll

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # Secrets read with their polls in this transaction: a vote in an anonymous poll
        # needs both, and reading them together is a statement less (kept here, never on
        # the poll, which is exported with its creator's data).
        self._secrets: dict[int, str | None] = {}

    async def get(self, ident: int) -> Poll | None:
        loaded = self._loaded(Poll, ident)
        if loaded is not None:
            return loaded
        # Core columns made into the session's object as if loaded (`_adopt`): the ORM's
        # execution and loading cost more than the statement (issue 21's presses).
        row = (await self.session.execute(_poll_with_secret(), {"poll": ident})).first()
        if row is None:
            return None
        self._secrets[ident] = row.secret
        values = dict(zip(_POLL_COLUMNS, row, strict=False))
        poll = self._adopt(Poll, values)
        if poll is None:  # the session holds a stale copy: load it the ORM's way
            poll = await self.session.get(Poll, ident, populate_existing=True)
        return poll

    async def open_in(self, org_ids: Sequence[int]) -> Sequence[Poll]:
        c = polls.c
        query = (
            sa.select(Poll)
            .where(c.org_id.in_(org_ids), c.status == PollStatus.OPEN)
            .order_by(c.deadline.desc(), c.id.desc())
        )
        return await self._all(query)

    async def participants(self, poll_id: int) -> Sequence[int]:
        c = poll_participation.c
        query = sa.select(c.person_id).where(c.poll_id == poll_id).order_by(c.person_id)
        return await self._all(query)

    async def voted_in(self, person_id: int) -> Sequence[int]:
        c = poll_participation.c
        query = sa.select(c.poll_id).where(c.person_id == person_id).order_by(c.poll_id)
        return await self._all(query)

    async def has_voted(self, poll_id: int, person_id: int) -> bool:
        c = poll_participation.c
        query = sa.select(c.id).where(c.poll_id == poll_id, c.person_id == person_id)
        return (await self.session.execute(query)).first() is not None

    async def participate(self, poll_id: int, person_id: int) -> None:
        # One statement instead of a look-up and an insert (every vote passes here).
        statement = _built(self.session, "polls.participate", _participate)
        await self.session.execute(statement, {"poll_id": poll_id, "person_id": person_id})

    async def withdraw(self, poll_id: int, person_id: int) -> None:
        c = poll_participation.c
        await self.session.execute(
            sa.delete(poll_participation).where(c.poll_id == poll_id, c.person_id == person_id)
        )

    async def ballot_of(self, poll_id: int, person_id: int) -> Ballot | None:
        params = {"poll": poll_id, "person": person_id}
        found: Ballot | None = (await self.session.scalars(_ballot_of(), params)).first()
        return found

    async def ballot_by_key(self, poll_id: int, key: str) -> Ballot | None:
        query = sa.select(Ballot).filter_by(poll_id=poll_id, voter_key=key)
        return await self._first(query)

    async def add_ballot(self, ballot: Ballot) -> Ballot:
        ballot.id = secrets.token_hex(16)
        return await self._add(ballot)

    async def put_ballot(self, ballot: Ballot) -> None:
        # One statement whether or not there was a ballot: a visible one keeps its id, an
        # anonymous one gets a new random id, as if removed and cast again.
        anonymous = ballot.voter_key is not None
        ballot.id = secrets.token_hex(16)
        name = "polls.put_anonymous" if anonymous else "polls.put_visible"
        statement = _built(self.session, name, _put_anonymous if anonymous else _put_visible)
        values = {column: getattr(ballot, column) for column in _BALLOT_COLUMNS}
        await self.session.execute(statement, values)
        # A copy this transaction loaded before no longer says what the row holds.
        voter = (ballot.poll_id, ballot.voter_key, ballot.person_id)
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, Ballot) and (obj.poll_id, obj.voter_key, obj.person_id) == voter:
                self.session.expunge(obj)

    async def remove_ballot(self, ballot: Ballot) -> None:
        await self.session.delete(ballot)
        await self.session.flush()

    async def ballots(self, poll_id: int) -> Sequence[Ballot]:
        # Ordered by the random id: never by the order people voted in.
        query = sa.select(Ballot).filter_by(poll_id=poll_id).order_by(poll_ballots.c.id)
        return await self._all(query)

    async def secret(self, poll_id: int) -> str | None:
        if poll_id in self._secrets:
            return self._secrets[poll_id]
        query = sa.select(poll_secrets.c.secret).where(poll_secrets.c.poll_id == poll_id)
        found: str | None = (await self.session.execute(query)).scalar()
        self._secrets[poll_id] = found
        return found

    async def set_secret(self, poll_id: int, secret: str | None) -> None:
        self._secrets.pop(poll_id, None)  # read again after a write (it may be rolled back)
        await self.session.flush()
        await self.session.execute(sa.delete(poll_secrets).where(poll_secrets.c.poll_id == poll_id))
        if secret is not None:
            await self.session.execute(
                sa.insert(poll_secrets).values(poll_id=poll_id, secret=secret)
            )

    async def seal(self, poll_id: int) -> None:
        await self.session.flush()
        await self.session.execute(
            sa.update(poll_ballots).where(poll_ballots.c.poll_id == poll_id).values(voter_key=None)
        )
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, Ballot) and obj.poll_id == poll_id:
                self.session.expunge(obj)

    async def eligible(self, org_ids: Sequence[int], members_only: bool) -> Sequence[Person]:
        p, a, k = tables.people.c, tables.affiliations.c, tables.consents.c
        consented = sa.exists().where(k.person_id == p.id, k.withdrawn_at.is_(None))
        query = (
            sa.select(Person)
            .where(p.id.in_(sa.select(a.person_id).where(a.org_id.in_(org_ids))), consented)
            .order_by(p.id)
        )
        if members_only:
            query = query.where(p.status == Status.MEMBER)
        return await self._all(query)


@functools.cache
def _poll_with_secret() -> sa.Select[Any]:
    """A poll (:poll) and its secret, if it has one. Built once, as building costs more
    than running it."""
    return (
        sa.select(*polls.c, poll_secrets.c.secret)
        .outerjoin(poll_secrets, poll_secrets.c.poll_id == polls.c.id)
        .where(polls.c.id == sa.bindparam("poll"))
    )


@functools.cache
def _ballot_of() -> sa.Select[Any]:
    """A visible poll's (:poll) ballot of a person (:person), built once (opening a ballot)."""
    b = poll_ballots.c
    return sa.select(Ballot).where(
        b.poll_id == sa.bindparam("poll"), b.person_id == sa.bindparam("person")
    )


_BALLOT_COLUMNS = tuple(column.name for column in poll_ballots.columns)
_POLL_COLUMNS = tuple(column.key for column in polls.columns)


def _participate(dialect: Any) -> Any:
    return dialect.insert(poll_participation).on_conflict_do_nothing(
        index_elements=["poll_id", "person_id"]
    )


def _put_visible(dialect: Any) -> Any:
    insert = dialect.insert(poll_ballots)
    return insert.on_conflict_do_update(
        index_elements=["poll_id", "person_id"],
        set_={"choice": insert.excluded.choice, "reason": insert.excluded.reason},
    )


def _put_anonymous(dialect: Any) -> Any:
    insert = dialect.insert(poll_ballots)
    return insert.on_conflict_do_update(
        index_elements=["poll_id", "voter_key"],
        set_={
            "id": insert.excluded.id,
            "choice": insert.excluded.choice,
            "reason": insert.excluded.reason,
        },
    )


async def before_erase(session: AsyncSession, person_id: int) -> None:
    """A ballot stays counted; the reason, in the voter's own words, goes.

    An anonymous ballot in an open poll is found by its keyed hash and loses the key too,
    so that nothing can link it to anyone any more.
    """
    b = poll_ballots.c
    await session.execute(
        sa.update(poll_ballots).where(b.person_id == person_id).values(reason=None)
    )
    p, s = poll_participation.c, poll_secrets.c
    open_secret = (
        sa.select(s.poll_id, s.secret)
        .join(poll_participation, p.poll_id == s.poll_id)
        .where(p.person_id == person_id)
    )
    for poll_id, secret in (await session.execute(open_secret)).all():
        await session.execute(
            sa.update(poll_ballots)
            .where(b.poll_id == poll_id, b.voter_key == voter_key(secret, poll_id, person_id))
            .values(reason=None, voter_key=None)
        )
