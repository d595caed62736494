"""The core's front door: adapters hand it events, the scheduler asks it to run due work."""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from bot import dialogs
from bot.actions import STALE_BUTTON, Stale, read_args, target_org_id
from bot.clock import Clock
from bot.context import NOT_ALLOWED, Context, Effects, Refusal, personal_chat, pointer_to
from bot.delivery import DeliveryOptions, Dispatcher
from bot.domain.delivery import ProcessedEvent
from bot.domain.organisations import Organisation
from bot.domain.people import Identity, Person
from bot.events import (
    ButtonPressed,
    Chat,
    Event,
    FormSubmitted,
    MessageMarked,
    Outcome,
    PollAnswered,
    Sender,
    TextReceived,
)
from bot.flood import FloodGuard, Verdict
from bot.i18n import DEFAULT_LANGUAGE, Translator, normalise_language
from bot.messages import message
from bot.outbox import enqueue
from bot.parsing import clean_name, clean_text
from bot.permissions import Permission
from bot.platform_roles import sync_roles
from bot.ports import Gateway, UnitOfWork, UnitOfWorkFactory
from bot.registry import MEMBERS_ONLY, Access, ActionSpec, Registry, Requirement, command_key
from bot.settings import Settings

log = logging.getLogger(__name__)


_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the outbox's button tokens

TIMER_BATCH = 50
# "Last seen" moves in steps this long: it only ages out guests and tells who is still
# reachable, and writing it at every press was two UPDATEs per interaction.
LAST_SEEN_STEP = timedelta(minutes=10)


class Samtal:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        registry: Registry,
        gateways: Mapping[str, Gateway] | None = None,
        settings: Settings | None = None,
        *,
        delivery: DeliveryOptions | None = None,
        runs_timers: Callable[[], bool] | None = None,
    ) -> None:
        """`runs_timers` says whether this process runs the timers (and start-up work):
        with several replicas only the one holding the scheduler lock does. Every
        process delivers the outbox (`delivery` says how)."""
        self.uow_factory = uow_factory
        self.settings = settings or Settings()
        self.clock = clock
        self.registry = registry
        self.dispatcher = Dispatcher(uow_factory, clock, gateways or {}, delivery)
        self._runs_timers = runs_timers or (lambda: True)
        self._started_up = False
        self._on_work: list[Callable[[], None]] = []
        self._running = asyncio.Lock()
        limit = self.settings.flood_limit
        self._flood = FloodGuard(limit) if limit else None

    def runs_timers(self) -> bool:
        """Whether this process runs the timers now."""
        return self._runs_timers()

    def on_work(self, callback: Callable[[], None]) -> None:
        """Called whenever new work may be due (the runtime wakes its delivery loop)."""
        self._on_work.append(callback)

    async def start(self) -> None:
        await self.dispatcher.recover()
        if self._runs_timers():
            async with self._running:
                await self._start_up()

    async def _start_up(self) -> None:
        """Start-up work (it arms timers): in the process that runs the timers, once."""
        if self._started_up:
            return
        for startup in self.registry.startups:
            async with self.uow_factory() as uow:
                await startup(Effects(uow, self.clock, self.settings, self.registry.erase_hooks))
                await uow.commit()
        async with self.uow_factory() as uow:
            fx = Effects(uow, self.clock, self.settings, self.registry.erase_hooks)
            for kind, daily in self.registry.dailies.items():
                await fx.schedule_daily(daily.name, kind, daily.at)
            await uow.commit()
        self._started_up = True

    async def handle(self, event: Event) -> Outcome:
        platform = event.chat.platform
        if isinstance(event, TextReceived) and not await self._for_the_bot(event):
            return Outcome()
        if self._flood is not None:
            verdict = self._flood.check((platform, event.sender.external_id), self.clock.now())
            if verdict is Verdict.DROP:
                return Outcome()
            if verdict is Verdict.WARN:
                await self._answer_alone(event, _slow_down)
                self._wake()
                return Outcome()
        try:
            async with self.uow_factory() as uow:
                sender = (event.sender.platform, event.sender.external_id)
                if not await uow.events.first_time(
                    ProcessedEvent(platform, event.event_id, self.clock.now()), sender
                ):
                    return Outcome()
                if isinstance(event, PollAnswered) and not await self._our_native_poll(uow, event):
                    return Outcome()
                ctx = await self._context(uow, event)
                outcome = await self._route(ctx, event)
                await uow.commit()
        except Refusal as refusal:
            refused = refusal.text
            outcome = Outcome(toast=refused)
            await self._answer_alone(event, lambda _: refused)
        except Exception:
            log.exception("handling %s %s failed", type(event).__name__, event.event_id)
            outcome = Outcome()
            await self._answer_alone(event, _something_went_wrong)
        self._wake()
        return outcome

    async def _for_the_bot(self, event: TextReceived) -> bool:
        """Whether a line is for the bot: a command, anything in a private chat, or the
        answer to the sender's own dialog in a group. Other group chat is not the bot's
        business: it stores no one (a stranger stays unknown) and does not count towards
        the flood limit."""
        if event.chat.is_private or _is_command(event.text):
            return True
        async with self.uow_factory() as uow:
            sender = event.sender
            person = await uow.people.by_identity(sender.platform, sender.external_id)
            if person is None or person.id is None:
                return False
            state = await uow.dialogs.get(person.id, event.chat.platform, event.chat.chat_id)
            return state is not None and state.name in self.registry.dialogs

    async def run_due(self) -> None:
        """Runs every timer that has fallen due (where this process runs them), then
        delivers the outbox."""
        await self.run_timers()
        await self.dispatcher.deliver_due()

    async def run_timers(self) -> None:
        """Runs the due timers, if this process runs timers; one run at a time."""
        if not self._runs_timers():
            return
        async with self._running:
            await self._start_up()  # a replica that just took over the scheduler
            while self._runs_timers() and await self._run_due_timers():
                pass

    async def idle(self) -> None:
        """Waits until no due work is running, e.g. before the database is closed."""
        async with self._running:
            pass
        await self.dispatcher.idle()

    async def next_due(self, *, timers: bool = True, outbox: bool = True) -> datetime | None:
        """When work falls due next: the timers (where they run here) and the outbox."""
        async with self.uow_factory() as uow:
            times = []
            if timers and self._runs_timers():
                times.append(await uow.timers.next_due())
            if outbox:
                times.append(await uow.outbox.next_due(self.dispatcher.platforms, self.clock.now()))
        found = [t for t in times if t is not None]
        return min(found) if found else None

    def _wake(self) -> None:
        for callback in self._on_work:
            callback()

    async def _run_due_timers(self) -> int:
        async with self.uow_factory() as uow:
            due = await uow.timers.due(self.clock.now(), TIMER_BATCH)
        for timer in due:
            # Each timer in its own transaction, marked done with what it wrote,
            # so a crash runs it again or not at all, never halfway.
            async with self.uow_factory() as uow:
                assert timer.id is not None
                current = await uow.timers.get(timer.id)
                if current is None or current.done_at is not None:
                    continue
                spec = self.registry.timers.get(current.kind)
                try:
                    if spec is None:
                        raise LookupError(f"no handler for timer kind {current.kind!r}")
                    fx = Effects(uow, self.clock, self.settings, self.registry.erase_hooks)
                    # The one place late timers are judged (after downtime, a busy process):
                    # past its declared usefulness a timer is dropped, never sent stale.
                    until = await spec.useful_until(fx, current)
                    if until is not None and fx.now >= until:
                        log.info(
                            "timer %s (%s) dropped: due %s, useful until %s, now %s",
                            current.key,
                            current.kind,
                            current.due_at.isoformat(),
                            until.isoformat(),
                            fx.now.isoformat(),
                        )
                    else:
                        await spec.handler(fx, current)
                except Exception:
                    # Dropped rather than retried forever; what it wrote is rolled back.
                    log.exception("timer %s failed and is dropped", current.key)
                    await uow.rollback()
                    current = await uow.timers.get(timer.id)
                    if current is None:
                        continue
                daily = self.registry.dailies.get(current.kind)
                if daily is not None:
                    # The next run is armed whatever this one did; if this commit fails the
                    # run stays due and is tried again, so the chain never breaks.
                    fx = Effects(uow, self.clock, self.settings, self.registry.erase_hooks)
                    await fx.schedule_daily(daily.name, current.kind, daily.at)
                current.done_at = self.clock.now()
                await uow.commit()
        return len(due)

    async def _context(self, uow: UnitOfWork, event: Event) -> Context:
        person, consented = await self._person_for(uow, event.sender)
        assert person.id is not None
        await sync_roles(
            uow, person.id, event.sender, self.settings.role_mappings, self.clock.now()
        )
        org = await self._org_in_scope(uow, person, event.chat)
        # The person's own choice, else the language where they are (the group's organisation).
        translator = Translator(person.language or (org.language if org else DEFAULT_LANGUAGE))
        return Context(
            uow,
            self.clock,
            person=person,
            chat=event.chat,
            org=org,
            event_id=event.event_id,
            translator=translator,
            consented=consented,
            registry=self.registry,
            settings=self.settings,
            sender=event.sender,
            answers_in_place=self._answers_in_place(event.chat.platform),
            replying_to=event.reply_to if isinstance(event, TextReceived) else None,
        )

    def _answers_in_place(self, platform: str) -> bool:
        """Whether the platform shows a personal answer in a group to that person alone."""
        gateway = next((g for g in self.dispatcher.gateways if g.platform == platform), None)
        return bool(getattr(gateway, "personal_in_place", False))

    async def _person_for(self, uow: UnitOfWork, sender: Sender) -> tuple[Person, bool]:
        """The sender's person (created at first contact) and whether they have consented."""
        now = self.clock.now()
        found = await uow.people.sender(sender.platform, sender.external_id)
        if found is None:
            person = await uow.people.add(
                Person(
                    display_name=clean_text(sender.display_name)[:200] or sender.external_id,
                    language=normalise_language(sender.language),
                    created_at=now,
                    last_seen_at=now,
                )
            )
            assert person.id is not None
            identity = await uow.people.add_identity(
                Identity(
                    person_id=person.id,
                    platform=sender.platform,
                    external_id=sender.external_id,
                    username=clean_name(sender.username),
                    created_at=now,
                    last_seen_at=now,
                )
            )
            return person, False
        identity, person, consented = found
        username = clean_name(sender.username)
        if identity.username != username:
            # Set only when it changed: setting even the same value marks the identity
            # modified, and the commit then flushes it (issue 21's profile).
            identity.username = username
        if _stale(identity.last_seen_at, now):
            identity.last_seen_at = now
        if _stale(person.last_seen_at, now):
            person.last_seen_at = now
        return person, consented

    async def _org_in_scope(
        self, uow: UnitOfWork, person: Person, chat: Chat
    ) -> Organisation | None:
        if not chat.is_private:
            channel = await uow.orgs.channel(chat.platform, chat.chat_id)
            if channel is not None:
                return await uow.orgs.get(channel.org_id)
        return await Effects(uow, self.clock).home_org(person)

    async def knows_native_poll(self, platform: str, handle: str) -> bool:
        """Whether a platform's poll is one the bot posted (adapters ask before looking up voters)."""
        async with self.uow_factory() as uow:
            return await uow.native_polls.by_handle(platform, handle) is not None

    async def _our_native_poll(self, uow: UnitOfWork, event: PollAnswered) -> bool:
        """Whether an answer is in one of our native polls, from someone the bot knows.

        Discord reports votes in every poll of a server, people's own too: those are not
        ours and are ignored. A vote from someone who never started the bot creates no
        person: it is refused (the platform shows it, the bot does not count it).
        """
        if await uow.native_polls.by_handle(event.chat.platform, event.handle) is None:
            return False
        if await uow.people.identity(event.sender.platform, event.sender.external_id) is None:
            t = Translator(normalise_language(event.sender.language) or DEFAULT_LANGUAGE)
            raise Refusal(
                t(
                    "I did not count your vote: I count votes only from people who have "
                    "started a private chat with me. Write /start to me, then vote again."
                )
            )
        return True

    async def _answer_native_poll(self, ctx: Context, event: PollAnswered) -> None:
        post = await ctx.uow.native_polls.by_handle(event.chat.platform, event.handle)
        if post is None:
            return
        prefix, _, arg = post.ref.partition(":")
        handler = self.registry.native_polls.get(prefix)
        if handler is None:
            log.warning("no handler for native poll %s", post.ref)
            return
        await handler(ctx, arg, event)

    async def _route(self, ctx: Context, event: Event) -> Outcome:
        if isinstance(event, ButtonPressed):
            return await self._press(ctx, event.token)
        if isinstance(event, PollAnswered):
            await self._answer_native_poll(ctx, event)
            return Outcome()
        if isinstance(event, MessageMarked):
            if self.registry.mark is not None and await self._allowed(ctx, Access.CONSENTED):
                await self.registry.mark[1](ctx, event.quoted)
            return Outcome()
        if isinstance(event, FormSubmitted):
            values = {name: clean_text(value) for name, value in event.values}
            await dialogs.answer_form(ctx, event.dialog, event.step, values)
            return Outcome()
        assert isinstance(event, TextReceived)
        text = clean_text(event.text).strip()
        if _is_command(text):
            await self._command(ctx, text)
            return Outcome()
        # Text typed in a group never answers a dialog that went on in the private chat.
        state = None if ctx.answered_elsewhere else await ctx.dialog()
        if state is not None:
            await dialogs.answer_text(ctx, state, text)
        elif ctx.chat.is_private:
            await ctx.reply(
                message(ctx.t("I answer commands. Write /hjalp to see what you can do."))
            )
        return Outcome()

    async def _command(self, ctx: Context, text: str) -> None:
        typed, _, args = text.partition(" ")
        spec = self.registry.find_command(typed)
        if spec is None:
            await ctx.reply(message(self._unknown(ctx, typed)))
            return
        if await self._allowed(ctx, spec.requires):
            await spec.handler(ctx, args.strip())

    async def _press(self, ctx: Context, token: str) -> Outcome:
        # Tokens are ours (URL-safe base64); anything else was forged and is not even looked up.
        action = await ctx.uow.buttons.get(token) if _TOKEN.fullmatch(token) else None
        spec: ActionSpec | None = None
        if action is not None:
            # A dialog's buttons all go to the dialog engine, which checks them itself.
            dialog = ActionSpec(dialogs.answer_button) if action.name == dialogs.BUTTON else None
            spec = dialog or self.registry.actions.get(action.name)
        if action is None or spec is None or action.platform != ctx.chat.platform:
            return await self._toast(ctx, ctx.t(STALE_BUTTON))
        if action.person_id is not None and action.person_id != ctx.person_id:
            return await self._toast(ctx, ctx.t("That button belongs to someone else."))
        if spec.args is None:
            if await self._allowed(ctx, spec.requires):
                await spec.handler(ctx, tuple(action.args))
            return Outcome()
        # Consent before anything is loaded; a permission where the object belongs.
        permission = spec.requires if isinstance(spec.requires, Permission) else None
        if not await self._allowed(ctx, Access.CONSENTED if permission else spec.requires):
            return Outcome()
        try:
            values = await read_args(ctx, spec.args, tuple(action.args))
        except Stale:
            return await self._toast(ctx, ctx.t(STALE_BUTTON))
        if permission is not None:
            org_id = target_org_id(spec.args, values)
            org = await ctx.uow.orgs.get(org_id) if org_id is not None else ctx.org
            if not await self._allowed(ctx, permission, org):
                return Outcome()
        await spec.handler(ctx, values)
        return Outcome()

    async def _toast(self, ctx: Context, text: str) -> Outcome:
        """A short answer to a button press, also written to the chat for platforms without toasts."""
        await ctx.reply(message(text))
        return Outcome(toast=text)

    async def _allowed(
        self, ctx: Context, requirement: Requirement, org: Organisation | None = None
    ) -> bool:
        """Whether the person may; if not, tells them why once (`org`: where it is checked,
        else the chat's organisation)."""
        org = org or ctx.org
        if await ctx.meets(requirement, org):
            return True
        if not ctx.consented:
            if self.registry.consent_prompt is not None:
                await self.registry.consent_prompt(ctx, "")
        elif requirement is Access.MEMBER:
            await ctx.reply(message(ctx.t(MEMBERS_ONLY)))
        elif isinstance(requirement, Permission):
            where = org.name if org else ctx.t("any organisation")
            await ctx.reply(message(ctx.t(NOT_ALLOWED).format(org=where)))
        return False

    def _unknown(self, ctx: Context, typed: str) -> str:
        key = command_key(typed)
        close = difflib.get_close_matches(key, self.registry.command_names(), n=1, cutoff=0.6)
        if close:
            return ctx.t("I don't know /{typed}. Did you mean /{suggestion}?").format(
                typed=key, suggestion=close[0]
            )
        return ctx.t("I don't know /{typed}. Write /hjalp to see what you can do.").format(
            typed=key
        )

    async def _answer_alone(self, event: Event, text: Callable[[Translator], str]) -> None:
        """Answers a refused or failed event in a transaction of its own, the change undone."""
        try:
            async with self.uow_factory() as uow:
                sender = event.sender
                person = await uow.people.by_identity(sender.platform, sender.external_id)
                translator = (
                    await Effects(uow, self.clock).translator_for(person)
                    if person
                    else Translator(sender.language or "sv")
                )
                # Personal, as every refusal and error: privately when typed in a group.
                chat = event.chat
                to = personal_chat(chat, sender, in_place=self._answers_in_place(chat.platform))
                name = person.display_name if person else sender.display_name
                answer = replace(
                    message(text(translator)),
                    personal=True,
                    pointer=pointer_to(chat, name, translator) if to is not chat else None,
                )
                await enqueue(
                    uow,
                    key=f"reply:{chat.platform}:{event.event_id}:alone",
                    platform=to.platform,
                    chat_id=to.chat_id,
                    direct=to.is_private,
                    message=answer,
                    now=self.clock.now(),
                    person_id=person.id if person and to.is_private else None,
                    coalesce=not to.is_private,
                )
                await uow.commit()
        except Exception:
            log.exception("could not answer event %s", event.event_id)


def _something_went_wrong(t: Translator) -> str:
    return t("Sorry, something went wrong on my side. Nothing was changed; please try again.")


def _slow_down(t: Translator) -> str:
    return t("You are sending a lot right now. Please wait a minute, then try again.")


def _is_command(text: str) -> bool:
    cleaned = clean_text(text).strip()
    return cleaned.startswith("/") and len(cleaned) > 1


def _stale(last_seen: datetime | None, now: datetime) -> bool:
    return last_seen is None or now - last_seen >= LAST_SEEN_STEP
