"""A per-process cache of read-mostly rows: organisations, channels and button actions.

Every press reads the chat's channel and its organisation, the person's home
organisation, often a lineage (permissions), and the button's action: rows that
change rarely (organisations, channels) or never (an action is written once). Read
from the database, they were half the statements of a press (issue 21).

Kept current across processes (replicas, CLI commands on the same SQLite file) by a
generation counter, the one row of `cache_generation`: database triggers bump it
whenever an organisation or a channel is inserted, updated or deleted, and whenever a
button action is updated or deleted (purge, erasure, merge; inserts need nothing,
an unknown token is simply read). The sender look-up reads the counter in the same
statement (storage/sender.py; in a press, that is the event's mark, whose RETURNING
brings the sender), so a press sees every change committed before it began. A unit of
work that never read it (a timer, the CLI) uses no cache.

The rule that keeps it right: an entry is stored under generation G only by a unit of
work that read G before it read the row, so what is stored is never older than G, and
it is served only to units of work that read G too. A different generation empties
the cache. A unit of work that writes any of these rows itself stops using the cache
for the rest of its transaction (its reads could be rolled back).

Entries are plain dicts of column values, never ORM objects: each unit of work gets
its own copies, attached to its session as if loaded (storage/repositories.py), so a
caller that changes one writes it through its own session as before.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import fields
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import manager_of_class

from bot.domain.delivery import ButtonAction
from bot.domain.organisations import Channel, Organisation

BUTTONS_KEPT = 20_000  # least recently used actions beyond this are forgotten (a few MB)

_ORG_FIELDS = tuple(f.name for f in fields(Organisation))
_CHANNEL_FIELDS = tuple(f.name for f in fields(Channel))
_BUTTON_FIELDS = tuple(f.name for f in fields(ButtonAction))

Values = dict[str, Any]


class ReadCache:
    """One per `Database`; shared by its units of work (one event loop, no threads)."""

    def __init__(self, buttons_kept: int = BUTTONS_KEPT) -> None:
        self.generation: int | None = None
        self._buttons_kept = buttons_kept
        self.orgs: dict[int, Values] = {}
        self.slugs: dict[str, int] = {}
        self.channels: dict[tuple[str, str], Values | None] = {}  # None: no such channel
        self.buttons: OrderedDict[str, Values] = OrderedDict()

    def clear(self) -> None:
        """Forgets everything (also a restored database: its counter may repeat ours)."""
        self.generation = None
        self.orgs.clear()
        self.slugs.clear()
        self.channels.clear()
        self.buttons.clear()

    def adopt(self, generation: int) -> None:
        """Takes the generation a unit of work just read. Any other than the cache's empties
        it: newer means rows changed; older is a unit of work that began before a change
        (or a database emptied and refilled), which must not be served newer entries'
        labels. Either way what is stored next is at least as new as the label."""
        if generation != self.generation:
            self.clear()
            self.generation = generation

    def put_org(self, org: Organisation) -> None:
        values = {name: getattr(org, name) for name in _ORG_FIELDS}
        self.orgs[values["id"]] = values
        self.slugs[values["slug"]] = values["id"]

    def put_channel(self, key: tuple[str, str], channel: Channel | None) -> None:
        self.channels[key] = (
            None if channel is None else {name: getattr(channel, name) for name in _CHANNEL_FIELDS}
        )

    def put_button(self, action: ButtonAction) -> None:
        values = {name: getattr(action, name) for name in _BUTTON_FIELDS}
        values["args"] = tuple(values["args"])  # never shared: each copy gets its own list
        self.buttons[action.token] = values
        self.buttons.move_to_end(action.token)
        if len(self.buttons) > self._buttons_kept:
            self.buttons.popitem(last=False)

    def button(self, token: str) -> Values | None:
        found = self.buttons.get(token)
        if found is not None:
            self.buttons.move_to_end(token)
        return found


class CacheView:
    """One unit of work's use of the cache: which generation it read, and whether it may
    still use the cache (not once it has written a cached kind of row itself)."""

    __slots__ = ("added_buttons", "cache", "generation", "off", "sender")

    def __init__(self, cache: ReadCache | None) -> None:
        self.cache = cache
        self.generation: int | None = None
        self.off = cache is None
        self.added_buttons: list[ButtonAction] = []
        # The sender as read with the event's mark, for `people.sender` (storage/records.py).
        self.sender: tuple[tuple[str, str], Any] | None = None

    def take_sender(self, key: tuple[str, str]) -> tuple[bool, Any]:
        """Whether the sender was read with the event's mark (once), and what was found
        (None: no one with that account)."""
        found, self.sender = self.sender, None
        if found is None or found[0] != key:
            return False, None
        return True, found[1]

    @property
    def live(self) -> ReadCache | None:
        """The cache, if this unit of work may use it now; else None."""
        cache = self.cache
        if self.off or cache is None or self.generation is None:
            return None
        return cache if self.generation == cache.generation else None

    def seen(self, generation: int | None) -> None:
        """The generation this unit of work read (None: the counter's row is missing, as
        in a database emptied by hand: then no cache)."""
        self.generation = generation
        if generation is not None and self.cache is not None and not self.off:
            self.cache.adopt(generation)

    def wrote(self) -> None:
        """This transaction changed cached kinds of rows: no cache for it from now on."""
        self.off = True
        self.added_buttons.clear()

    def committed(self) -> None:
        """Buttons this unit of work added exist now: the next press of one needs no read."""
        cache = self.live
        if cache is not None:
            for action in self.added_buttons:
                cache.put_button(action)
        self.added_buttons.clear()
        self.generation = None  # a new transaction begins: it has read no generation yet

    def rolled_back(self) -> None:
        self.added_buttons.clear()
        self.generation = None


VIEW_KEY = "samtal.read_cache"


@event.listens_for(Session, "before_flush")
def _notice_writes(session: Session, _context: Any, _instances: Any) -> None:
    """A flush that writes an organisation or a channel, or changes an action, turns the
    cache off for the rest of that unit of work."""
    view = session.info.get(VIEW_KEY)
    if view is None or view.off:
        return
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, (Organisation, Channel, ButtonAction)):
            view.wrote()
            return
    for obj in session.new:
        if isinstance(obj, (Organisation, Channel)):
            view.wrote()
            return


def copy_of(cls: type[Any], values: Values) -> Any:
    """A fresh, unattached object of `cls` from cached values.

    Made as the ORM's loader makes an object, without `__init__`: its instrumented
    attribute sets were most of the cost of a cache hit (issue 21's profile)."""
    obj = manager_of_class(cls).new_instance()
    obj.__dict__.update(values)
    if cls is ButtonAction:
        obj.args = list(values["args"])
    return obj


# The counter's triggers, written into the migration by scripts/regenerate-initial-migration.
# SQLite: plain row triggers (one writer at a time). PostgreSQL: deferred constraint
# triggers, so the counter's row is locked only during the commit (never while the
# transaction waits for other locks: no deadlocks), bumped once per transaction.
_WATCHED = (
    ("organisations", ("INSERT", "UPDATE", "DELETE")),
    ("channels", ("INSERT", "UPDATE", "DELETE")),
    ("button_actions", ("UPDATE", "DELETE")),
)


def _sqlite_triggers() -> list[str]:
    statements = []
    for table, operations in _WATCHED:
        for operation in operations:
            statements.append(
                f"CREATE TRIGGER cache_generation_{table}_{operation.lower()} "
                f"AFTER {operation} ON {table} BEGIN "
                "INSERT OR IGNORE INTO cache_generation (id, generation) VALUES (1, 0); "
                "UPDATE cache_generation SET generation = generation + 1 WHERE id = 1; END"
            )
    return statements


def _postgresql_triggers() -> list[str]:
    statements = [
        "CREATE FUNCTION cache_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF current_setting('samtal.cache_bumped', true) IS DISTINCT FROM 'yes' THEN "
        "INSERT INTO cache_generation (id, generation) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET generation = cache_generation.generation + 1; "
        "PERFORM set_config('samtal.cache_bumped', 'yes', true); "
        "END IF; "
        "RETURN NULL; "
        "END $$"
    ]
    for table, operations in _WATCHED:
        statements.append(
            f"CREATE CONSTRAINT TRIGGER cache_generation_{table} "
            f"AFTER {' OR '.join(operations)} ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cache_generation_bump()"
        )
    return statements


TRIGGERS = {"sqlite": _sqlite_triggers(), "postgresql": _postgresql_triggers()}
FIRST_ROW = "INSERT INTO cache_generation (id, generation) VALUES (1, 0)"
DROP = {"postgresql": ["DROP FUNCTION IF EXISTS cache_generation_bump() CASCADE"]}
