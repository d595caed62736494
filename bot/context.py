"""What a handler gets: the transaction, the person, and ways to answer.

Handlers never send anything themselves: `reply`, `notify` and
`post_to_org` put messages into the outbox inside the handler's transaction.

Who sees a reply: an answer is personal (to the person alone: help, their own
data, reports, refusals, confirmations, errors) unless the handler says it is
for the group (`reply(..., for_group=True)`). A personal answer to something
typed in a group goes to the person's private chat on that platform, and so do
the dialogs it starts; where the platform answers in place for one person's
eyes (Discord's ephemeral answers, `Gateway.personal_in_place`) it stays there,
marked `personal`. If the private chat can't be reached, the group gets a short
neutral pointer (`messages.Pointer`), never the content.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.domain.channels import EMAIL, pick_identity
from bot.domain.delivery import DialogState, Timer
from bot.domain.organisations import DEFAULT_TIMEZONE, Organisation
from bot.domain.people import Identity, Person, Status
from bot.events import Chat, Quoted, Sender
from bot.i18n import N_, Translator
from bot.messages import OutgoingMessage, Pointer, Span
from bot.outbox import enqueue
from bot.permissions import Permission, permissions_in
from bot.ports import UnitOfWork
from bot.registry import Access, EraseHook, Registry, Requirement
from bot.settings import Settings

MessageFor = Callable[[Translator], OutgoingMessage]


def personal_chat(chat: Chat, sender: Sender | None, *, in_place: bool) -> Chat:
    """Where a person's personal answers to something typed in `chat` go (the module's note)."""
    if chat.is_private or in_place or sender is None:
        return chat
    return Chat(chat.platform, sender.external_id, is_private=True)


def pointer_to(chat: Chat, name: str, t: Translator) -> Pointer:
    """The group's neutral note when someone's private chat can't be reached."""
    text = t(
        "{name}, I can't write to you privately yet. Start a private chat with me "
        "(/start), then try again."
    ).format(name=name)
    return Pointer(chat.chat_id, (Span(text),))


NOT_ALLOWED = N_("Only organisers with the right role in {org} can do that.")


class Refusal(Exception):
    """Raised by a handler to refuse bad input: the change is rolled back and the text shown."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class Effects:
    """What every piece of core work can do: read and write, schedule, and send."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        settings: Settings | None = None,
        erase_hooks: tuple[EraseHook, ...] = (),
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.settings = settings or Settings()
        self.erase_hooks = erase_hooks  # the registry's `before_erase` handlers

    async def erase_person(self, person_id: int) -> None:
        """The one way a person is erased: every capability's `before_erase` hook runs first
        (a place they held goes to the waitlist), then their data goes, and with it anything
        the hooks addressed to them."""
        person = await self.uow.people.get(person_id)
        if person is not None:
            for hook in self.erase_hooks:
                await hook(self, person)
        await self.uow.people.erase(person_id)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    async def translator_for(self, person: Person) -> Translator:
        if person.language:
            return Translator(person.language)
        org = await self.home_org(person)
        return Translator(org.language if org else "sv")

    async def home_org(self, person: Person) -> Organisation | None:
        """The organisation a person belongs to first; the default scope of a private chat."""
        assert person.id is not None
        affiliations = await self.uow.people.affiliations_of(person.id)
        if not affiliations:
            return None
        return await self.uow.orgs.get(affiliations[0].org_id)

    async def notify(
        self, person: Person, build: MessageFor, *, key: str, about: Person | None = None
    ) -> bool:
        """Sends a message to a person's private chat, in their language, once per key.

        `about`: the person the message is news about, when someone else (a new member, to
        their officer): it goes when they are erased and stays out of the recipient's export.
        """
        identity = await self.reach(person)
        if identity is None:
            return False
        assert person.id is not None
        return await enqueue(
            self.uow,
            key=f"{key}:p{person.id}",
            platform=identity.platform,
            chat_id=identity.external_id,
            direct=True,
            message=build(await self.translator_for(person)),
            now=self.now,
            person_id=person.id,
            about_id=about.id if about is not None and about.id != person.id else None,
        )

    async def reach(self, person: Person) -> Identity | None:
        """The account a private message to the person goes to: their chat (the one used most
        recently) or their email, by `bot.domain.channels`' rule; None when there is none."""
        assert person.id is not None
        identities = await self.uow.people.identities_of(person.id)
        if not identities:
            return None
        if all(identity.platform != EMAIL for identity in identities):
            return identities[0]  # no email: no choice to read
        return pick_identity(identities, await self.uow.channels.reach(person.id))

    async def notify_each(
        self,
        people: Iterable[Person],
        build: MessageFor,
        *,
        key: str,
        about: Person | None = None,
    ) -> int:
        """`notify` to each of several people, once each however often they are listed;
        returns how many messages were queued."""
        queued = 0
        for person in {person.id: person for person in people}.values():
            queued += await self.notify(person, build, key=key, about=about)
        return queued

    async def post_to_org(self, org: Organisation, build: MessageFor, *, key: str) -> int:
        """Posts in every group channel bound to the organisation, in its language."""
        assert org.id is not None
        posted = 0
        for channel in await self.uow.orgs.channels_of(org.id):
            posted += await enqueue(
                self.uow,
                key=f"{key}:{channel.platform}:{channel.chat_id}",
                platform=channel.platform,
                chat_id=channel.chat_id,
                direct=False,
                message=build(Translator(org.language)),
                now=self.now,
            )
        return posted

    async def schedule_daily(self, name: str, kind: str, at: time) -> None:
        """Arms the next run of a once-a-day job at local time `at` (Swedish time).

        Keyed by date, so arming it again (at start, or after each run) never doubles it.
        """
        zone = ZoneInfo(DEFAULT_TIMEZONE)
        local = self.now.astimezone(zone)
        due = datetime.combine(local.date(), at, tzinfo=zone)
        if due <= local:
            due = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
        await self.schedule(f"{name}:{due.date().isoformat()}", kind, due)

    async def schedule(
        self, key: str, kind: str, due_at: datetime, payload: dict[str, Any] | None = None
    ) -> None:
        await self.uow.timers.schedule(
            Timer(key=key, kind=kind, due_at=due_at, payload=payload or {}, created_at=self.now)
        )


class Context(Effects):
    """One person's command or button press, in one chat."""

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        *,
        person: Person,
        chat: Chat,
        org: Organisation | None,
        event_id: str,
        translator: Translator,
        consented: bool,
        registry: Registry,
        settings: Settings | None = None,
        sender: Sender | None = None,
        answers_in_place: bool = False,
        replying_to: Quoted | None = None,
    ) -> None:
        super().__init__(uow, clock, settings, registry.erase_hooks)
        self.person = person
        self.replying_to = replying_to  # the message a typed line replies to, if any
        self.chat = chat
        # Where personal answers and dialogs go: the chat itself, or the person's private chat.
        self.private_chat = personal_chat(chat, sender, in_place=answers_in_place)
        self.org = org
        self.event_id = event_id
        self.t = translator
        self.consented = consented
        self.registry = registry
        self.erased = False  # set once the person's data is gone: replies then name no one
        self._replies = itertools.count(1)

    @property
    def person_id(self) -> int:
        assert self.person.id is not None
        return self.person.id

    @property
    def answered_elsewhere(self) -> bool:
        """Whether personal answers go to the private chat rather than where this was typed."""
        return self.private_chat is not self.chat

    async def reply(self, message: OutgoingMessage, *, for_group: bool = False) -> None:
        """Answers the person: personal unless `for_group` (see the module's note on who
        sees a reply). Only what is meant for everyone in a group chat is posted there."""
        to = self.chat if for_group else self.private_chat
        pointer = None
        if to is not self.chat:
            pointer = pointer_to(self.chat, self.person.display_name, self.t)
        await enqueue(
            self.uow,
            key=f"reply:{self.chat.platform}:{self.event_id}:{next(self._replies)}",
            platform=to.platform,
            chat_id=to.chat_id,
            direct=to.is_private,
            message=replace(message, personal=not for_group, pointer=pointer),
            now=self.now,
            person_id=self.person.id if to.is_private and not self.erased else None,
            coalesce=not to.is_private,
        )

    async def erase_self(self) -> None:
        await self.erase_person(self.person_id)
        self.erased = True

    async def permissions(self, org: Organisation | None = None) -> frozenset[Permission]:
        org = org or self.org
        if org is None or org.id is None:
            return frozenset()
        lineage = [o.id for o in await self.uow.orgs.lineage(org.id) if o.id is not None]
        return permissions_in(lineage, await self.uow.people.roles_of(self.person_id))

    async def require(self, permission: Permission, org: Organisation) -> None:
        """Refuses, with the one refusal that names where, unless this person may in `org`."""
        if not await self.meets(permission, org):
            raise Refusal(self.t(NOT_ALLOWED).format(org=org.name))

    async def person_named(self, org: Organisation, value: str) -> int:
        """The one person a typed name (or @username, or "jag"/"me") means in `org` and below,
        e.g. a circle's leader or a shift's lead; refuses when no one or several match."""
        if value.lower() in ("jag", "me", "mig", "i"):
            return self.person_id
        assert org.id is not None
        org_ids = [o.id for o in await self.uow.orgs.subtree(org.id) if o.id is not None]
        matches = await self.uow.people.find_in_orgs(org_ids, value.lstrip("@"))
        if len(matches) != 1 or matches[0].id is None:
            raise Refusal(
                self.t("I found no one called {name} in {org}.").format(name=value, org=org.name)
                if not matches
                else self.t("Several people match {name}; write their username.").format(name=value)
            )
        return matches[0].id

    async def meets(self, requirement: Requirement, org: Organisation | None = None) -> bool:
        if requirement is Access.ANYONE:
            return True
        if not self.consented:
            return False
        if requirement is Access.CONSENTED:
            return True
        if requirement is Access.MEMBER:
            return self.person.status is Status.MEMBER
        assert isinstance(requirement, Permission)
        return requirement in await self.permissions(org)

    # A dialog's prompts are personal answers, so it lives where they go: a dialog started in
    # a group continues in the person's private chat.
    async def dialog(self) -> DialogState | None:
        chat = self.private_chat
        return await self.uow.dialogs.get(self.person_id, chat.platform, chat.chat_id)

    async def start_dialog(self, name: str, step: str, data: dict[str, Any] | None = None) -> None:
        await self.uow.dialogs.save(
            DialogState(
                person_id=self.person_id,
                platform=self.private_chat.platform,
                chat_id=self.private_chat.chat_id,
                name=name,
                step=step,
                data=data or {},
                updated_at=self.now,
            )
        )

    async def end_dialog(self, name: str | None = None) -> None:
        """Ends the person's dialog (only if it is the one called `name`, when given)."""
        chat = self.private_chat
        await self.uow.dialogs.clear(self.person_id, chat.platform, chat.chat_id, name)


TimerContext = Effects  # timers run without a person or chat
