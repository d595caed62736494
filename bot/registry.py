"""Where each capability declares its commands, buttons, dialogs and timers.

Every feature module has a `setup(registry)` that registers its handlers;
`bot.bootstrap` lists the modules. The router only looks things up here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from bot.actions import ArgType
from bot.i18n import N_
from bot.permissions import Permission

if TYPE_CHECKING:
    from bot.context import Context, Effects, TimerContext
    from bot.dialogs import Dialog
    from bot.domain.delivery import Timer
    from bot.domain.people import Person
    from bot.events import PollAnswered, Quoted


class Access(Enum):
    ANYONE = "anyone"  # also before consent: /start, /hjalp, and the privacy commands
    CONSENTED = "consented"  # guests and members who have agreed to the privacy notice
    MEMBER = "member"


Requirement = Access | Permission

# The one answer to a guest where only members may (`Access.MEMBER`, or a circle for members).
MEMBERS_ONLY = N_(
    "This is for members. You are welcome at every open activity; "
    "ask an organiser if you would like to join the party."
)

CommandHandler = Callable[["Context", str], Awaitable[None]]
# Receives the button's arguments as its action declared them (`bot.actions`).
ActionHandler = Callable[["Context", tuple[Any, ...]], Awaitable[None]]
TimerHandler = Callable[["TimerContext", "Timer"], Awaitable[None]]
# Until when a timer's work is still worth doing: after downtime the core runs a late timer
# only before that instant, and drops it (logged) after. None: whenever it runs.
UsefulUntil = Callable[["TimerContext", "Timer"], Awaitable[datetime | None]]
# A join link's payload after its prefix: "/start join_sandviken" runs the "join" handler with "sandviken".
PayloadHandler = Callable[["Context", str], Awaitable[None]]
# An answer in a platform's own poll whose ref is "prefix:arg": runs the prefix's handler with arg.
NativePollHandler = Callable[["Context", str, "PollAnswered"], Awaitable[None]]
# Run before a person is erased (on request or by retention), in the erasure's transaction:
# e.g. gives up the places they hold so the waitlist moves up (`Effects.erase_person`).
EraseHook = Callable[["Effects", "Person"], Awaitable[None]]
# A message someone marked (`bot.events.MessageMarked`), e.g. as a rådslag contribution.
MarkHandler = Callable[["Context", "Quoted"], Awaitable[None]]


@dataclass(frozen=True)
class CommandSpec:
    swedish: str
    english: str
    summary: str  # an English message id, translated when shown
    handler: CommandHandler
    requires: Requirement = Access.CONSENTED
    usage: str = ""  # arguments, shown in help after the name

    @property
    def names(self) -> tuple[str, str]:
        return (self.swedish, self.english)


@dataclass(frozen=True)
class ActionSpec:
    handler: ActionHandler
    requires: Requirement = Access.CONSENTED
    # The arguments' types (`bot.actions`); None: the handler reads the raw strings itself.
    args: tuple[ArgType, ...] | None = None


@dataclass(frozen=True)
class TimerSpec:
    handler: TimerHandler
    useful_until: UsefulUntil


async def always(fx: TimerContext, timer: Timer) -> datetime | None:
    """For work that must be done however late (closing a poll, a state change, housekeeping),
    and for messages whose words are computed when they are sent."""
    return None


def within(window: timedelta) -> UsefulUntil:
    """Useful until `window` after the timer was due (e.g. "how was it?" after a meeting)."""

    async def until(fx: TimerContext, timer: Timer) -> datetime | None:
        return timer.due_at + window

    return until


def command_key(name: str) -> str:
    """Folds a typed name: '/Hjälp@SamtalBot' and 'hjalp' are the same command."""
    name = name.lstrip("/").split("@", 1)[0].lower()
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class Daily:
    name: str  # the timers' keys are `name:YYYY-MM-DD`
    at: time  # local (Swedish) time


class Registry:
    def __init__(self) -> None:
        self.commands: list[CommandSpec] = []
        self._by_name: dict[str, CommandSpec] = {}
        self.actions: dict[str, ActionSpec] = {}
        self.dialogs: dict[str, Dialog[Any]] = {}
        self.timers: dict[str, TimerSpec] = {}
        self.payloads: dict[str, PayloadHandler] = {}
        # Run once when the core starts, e.g. to make sure a recurring timer is armed.
        self.startups: list[Callable[[TimerContext], Awaitable[None]]] = []
        # What someone who has not consented yet sees instead of the command they tried.
        self.consent_prompt: PayloadHandler | None = None
        self.native_polls: dict[str, NativePollHandler] = {}
        # Once-a-day timers by kind: the core arms them at start-up and after every run.
        self.dailies: dict[str, Daily] = {}
        # What a marked message does, and its name in the platform's message menu.
        self.mark: tuple[str, MarkHandler] | None = None
        self.erase_hooks: tuple[EraseHook, ...] = ()

    def command(self, spec: CommandSpec) -> None:
        for name in set(spec.names):
            if name in self._by_name:
                raise ValueError(f"command /{name} is registered twice")
            self._by_name[name] = spec
        self.commands.append(spec)

    def action(
        self,
        name: str,
        handler: ActionHandler,
        requires: Requirement = Access.CONSENTED,
        *,
        args: tuple[ArgType, ...] | None = None,
    ) -> None:
        """A button action. With `args` declared, the core reads the arguments, loads the
        object the action acts on and checks `requires` in its organisation (`bot.actions`)."""
        if name in self.actions:
            raise ValueError(f"button action {name!r} is registered twice")
        self.actions[name] = ActionSpec(handler, requires, args)

    def dialog(self, dialog: Dialog[Any]) -> None:
        """A declared dialog (`bot.dialogs`): the core routes its lines and buttons to it."""
        if dialog.name in self.dialogs:
            raise ValueError(f"dialog {dialog.name!r} is registered twice")
        self.dialogs[dialog.name] = dialog

    def timer(self, kind: str, handler: TimerHandler, *, useful_until: UsefulUntil) -> None:
        """Registers a timer kind with until when its work is useful (`always`, `within(...)`,
        or a function of the timer, e.g. a meeting reminder's meeting start). The core
        drops a timer that runs past it (after downtime) instead of sending stale words."""
        if kind in self.timers:
            raise ValueError(f"timer kind {kind!r} is registered twice")
        self.timers[kind] = TimerSpec(handler, useful_until)

    def daily(self, name: str, kind: str, at: time, handler: TimerHandler) -> None:
        """A timer that runs once a day at local time `at` (keys `name:DATE`).

        The core arms it at start-up and arms the next run after every run, in the
        transaction that marks the run done: also after a run that failed, whose own
        writes are rolled back. The handler does not arm it itself.
        """
        self.timer(kind, handler, useful_until=always)
        self.dailies[kind] = Daily(name, at)

    def startup(self, handler: Callable[[TimerContext], Awaitable[None]]) -> None:
        self.startups.append(handler)

    def before_erase(self, handler: EraseHook) -> None:
        """Runs `handler` for a person about to be erased, before their rows go: whatever
        depends on them (a place, a waitlist) is settled through the capability's own use
        case. What it would send to the erased person is dropped with their data."""
        self.erase_hooks += (handler,)

    def payload(self, prefix: str, handler: PayloadHandler) -> None:
        if "_" in prefix or prefix in self.payloads:
            raise ValueError(f"bad or repeated payload prefix {prefix!r}")
        self.payloads[prefix] = handler

    def native_poll(self, prefix: str, handler: NativePollHandler) -> None:
        """Handles answers in native polls posted with a `NativePoll` whose ref is `prefix:…`."""
        if ":" in prefix or prefix in self.native_polls:
            raise ValueError(f"bad or repeated native poll prefix {prefix!r}")
        self.native_polls[prefix] = handler

    def on_mark(self, summary: str, handler: MarkHandler) -> None:
        """Handles `MessageMarked`; `summary` (an English id) names it in message menus."""
        if self.mark is not None:
            raise ValueError("marking a message is registered twice")
        self.mark = (summary, handler)

    def find_command(self, typed: str) -> CommandSpec | None:
        return self._by_name.get(command_key(typed))

    def command_names(self) -> list[str]:
        return list(self._by_name)
