"""The dialog engine: multi-step input declared once, run the same way everywhere.

A capability declares a `Dialog`: its steps in order, each with a prompt, a
parser, optional buttons, whether it may be skipped and when it is asked at
all; an optional confirmation; and what happens at the end. The draft is a
dataclass of the capability's, stored as JSON in the dialog state, so a
dialog survives a restart.

The engine, not the capabilities, reads the words that mean the same in
every dialog, in Swedish and English:

- skip: "hoppa över", "skip" or "-" (never "nej": that is an answer);
- back: "tillbaka" or "back" re-asks the previous question;
- done: in a step that collects a list, "klart"/"done" or a skip word ends it;
- cancel: /avbryt or /cancel (a command, `bot.help`).

A state the engine can no longer read (a dialog or step that was renamed or
removed by an upgrade) is answered once, kindly, and ended.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic

from bot.actions import STALE_BUTTON
from bot.context import Context, Refusal
from bot.dialog_steps import (
    SKIP_LABEL,
    Check,
    Choice,
    ChoiceRows,
    Choices,
    Confirm,
    D,
    DialogOver,
    Parser,
    Prompt,
    Repeat,
    Skip,
    Step,
    Text,
    draft_org,
    read_yes,
    yes_no,
)
from bot.domain.delivery import DialogState
from bot.drafts import decode, encode
from bot.forms import Form, FormField, FormOffer
from bot.i18n import N_
from bot.messages import Action, Button, MessageBuilder, Span

# The declarations live in bot/dialog_steps.py; capabilities import them, with the engine, from here.
__all__ = [
    "ANSWER_BUTTON",
    "ANSWER_TITLE",
    "BACK_WORDS",
    "BUTTON",
    "CONFIRM",
    "DONE_WORDS",
    "FILL_IN_BUTTON",
    "SKIP_LABEL",
    "SKIP_WORDS",
    "Check",
    "Choice",
    "ChoiceRows",
    "Choices",
    "Confirm",
    "D",
    "Dialog",
    "DialogOver",
    "Parser",
    "Prompt",
    "Repeat",
    "Skip",
    "Step",
    "Text",
    "answer_button",
    "answer_form",
    "answer_text",
    "draft_org",
    "read_yes",
    "yes_no",
]

log = logging.getLogger(__name__)

BUTTON = "dialog"  # the one button action of every dialog: (dialog, step, value)
CONFIRM = "confirm"  # the step name of a dialog's confirmation; no declared step may use it

SKIP_WORDS = frozenset({"hoppa over", "skip", "-", "–", "—"})  # folded: "hoppa över" too
BACK_WORDS = frozenset({"tillbaka", "back"})
DONE_WORDS = frozenset({"klart", "klar", "done"})

ANSWER_TITLE = N_("Your answer")  # a one-question form's title and its field's label
ANSWER_BUTTON = N_("Answer")
FILL_IN_BUTTON = N_("Fill in")

# Button values the engine keeps for itself; a choice's value never starts with ":".
_SKIP, _DONE, _SAVE, _DISCARD = ":skip", ":done", ":save", ":discard"


@dataclass(frozen=True)
class Dialog(Generic[D]):
    name: str
    draft: type[D]
    steps: tuple[Step[D], ...]
    finish: Callable[[Context, D], Awaitable[None]]  # runs after the dialog has ended
    confirm: Confirm[D] | None = None
    check: Check[D] | None = None  # before every answer, e.g. that its meeting still exists
    command: str | None = None  # how to start it again, named when a button is stale
    stale: str | None = None  # what a stale button says instead of the usual
    form: Form | None = None  # steps that may be answered at once in a form (bot.forms)

    def __post_init__(self) -> None:
        names = [step.name for step in self.steps]
        if len(set(names)) != len(names) or CONFIRM in names:
            raise ValueError(f"dialog {self.name!r}: repeated or reserved step names")
        if self.form is not None and any(self.step(f.step) is None for f in self.form.fields):
            raise ValueError(f"dialog {self.name!r}: a form field names no step")
        if not dataclasses.is_dataclass(self.draft):
            raise TypeError(f"dialog {self.name!r}: the draft must be a dataclass")

    def step(self, name: str) -> Step[D] | None:
        return next((s for s in self.steps if s.name == name), None)

    async def start(
        self,
        ctx: Context,
        draft: D,
        *,
        lead: Text | None = None,
        ask: bool = True,
        chat: tuple[str, str] | None = None,
    ) -> None:
        """Starts the dialog where the person answers (or `chat`, a (platform, chat id)), replacing any
        other, and asks the first question, after `lead` if given. `ask=False` only opens
        it: the caller has said what to write."""
        first = self._next(draft, -1)
        if first is None:
            raise ValueError(f"dialog {self.name!r} has no question for this draft")
        if not ask:
            await _save(ctx, self, first.name, draft, [], chat)
            return
        # Only a dialog that asks more than one question offers to go back.
        several = sum(1 for s in self.steps if s.ask_if is None or s.ask_if(draft)) > 1
        await _run(ctx, self._ask(ctx, first, draft, [], lead=lead, intro=several))

    # --- the engine's moves ----------------------------------------------------------

    def _next(self, draft: D, after: int, answered: Sequence[str] = ()) -> Step[D] | None:
        for step in self.steps[after + 1 :]:
            if step.name in answered:  # answered out of turn, in a form
                continue
            if step.ask_if is None or step.ask_if(draft):
                return step
        return None

    def _form_steps(self, draft: D) -> list[Step[D]]:
        """The declared form's steps still to be asked for this draft, in the steps' order."""
        if self.form is None:
            return []
        named = {f.step for f in self.form.fields}
        return [s for s in self.steps if s.name in named and (s.ask_if is None or s.ask_if(draft))]

    def _offer(self, ctx: Context, step: Step[D], draft: D) -> FormOffer | None:
        """The form a question may be answered with: the declared one at its first step,
        else one field for a typed question."""
        t = ctx.t
        steps = self._form_steps(draft)
        if self.form is not None and steps and steps[0] is step:
            asked = {s.name for s in steps}
            fields = tuple(
                FormField(
                    f.step,
                    t(f.label),
                    t(f.placeholder) if f.placeholder else "",
                    f.long,
                    _required(self._step(f.step)),
                    f.max_length,
                )
                for f in self.form.fields
                if f.step in asked
            )
            return FormOffer(self.name, step.name, t(self.form.title), fields, t(FILL_IN_BUTTON))
        if not step.typed:
            return None
        field = FormField(step.name, t(ANSWER_TITLE), long=True, required=_required(step))
        return FormOffer(
            self.name, step.name, t(ANSWER_TITLE), (field,), t(ANSWER_BUTTON), whole=False
        )

    def _step(self, name: str) -> Step[D]:
        step = self.step(name)
        assert step is not None
        return step

    async def _ask(
        self,
        ctx: Context,
        step: Step[D],
        draft: D,
        asked: list[str],
        *,
        lead: Text | None = None,
        intro: bool = False,
    ) -> None:
        await _save(ctx, self, step.name, draft, asked)
        t = ctx.t
        text = _builder(lead)
        _append(text, await _call(step.prompt, ctx, draft))
        if intro:
            text.line(t('(You can write "back" to go back a step, and /cancel to stop.)'))
        if step.skip is not None and step.repeat is None:
            label = t(step.skip.label)
            text.line(
                t('(Write "skip" to skip.)')
                if step.skip.label == SKIP_LABEL
                else t('(Write "skip" for "{label}".)').format(label=label)
            )
        for row in await self._choices(ctx, step, draft):
            text.button_row(*(self._button(c.label, step, c.value) for c in row))
        if step.skip is not None and step.repeat is None:
            text.button_row(self._button(t(step.skip.label), step, _SKIP))
        if step.repeat is not None and len(_items(draft, step)) >= step.repeat.done_button_from:
            text.button_row(self._button(t(step.repeat.done), step, _DONE))
        await ctx.reply(dataclasses.replace(text.build(), form=self._offer(ctx, step, draft)))

    async def _ask_confirm(self, ctx: Context, draft: D, asked: list[str]) -> None:
        assert self.confirm is not None
        await _save(ctx, self, CONFIRM, draft, asked)
        text = _builder(await _call(self.confirm.summary, ctx, draft))
        text.button_row(
            self._button(ctx.t(self.confirm.save), None, _SAVE),
            self._button(ctx.t(self.confirm.discard), None, _DISCARD),
        )
        await ctx.reply(text.build())

    def _button(self, label: str, step: Step[D] | None, value: str) -> Button:
        return Button(label, Action(BUTTON, (self.name, step.name if step else CONFIRM, value)))

    async def _choices(self, ctx: Context, step: Step[D], draft: D) -> ChoiceRows:
        return await _call(step.choices, ctx, draft) if step.choices else ()

    async def _answer(
        self,
        ctx: Context,
        state: DialogState,
        draft: D,
        asked: list[str],
        value: str,
        *,
        typed: bool,
    ) -> None:
        """One answer to the current question: a typed line, or a pressed button's value."""
        t = ctx.t
        if self.check is not None:
            await self.check(ctx, draft)
        word = _fold(value) if typed else None
        if word in BACK_WORDS:
            await self._back(ctx, state, draft, asked)
            return
        if state.step == CONFIRM:
            await self._at_confirm(ctx, draft, value, typed=typed)
            return
        step = self.step(state.step)
        assert step is not None
        if typed and not value:
            raise Refusal(t("Write your answer, or /cancel to stop."))
        if step.repeat is not None and (value == _DONE or word in SKIP_WORDS or word in DONE_WORDS):
            if len(_items(draft, step)) < step.repeat.at_least:
                raise Refusal(t(step.repeat.too_few))
            await self._forward(ctx, step, draft, asked)
            return
        if value == _SKIP or word in SKIP_WORDS:
            if step.skip is None:
                raise Refusal(
                    t("This question can't be skipped. Answer it, or write /cancel to stop.")
                )
            skip = step.skip
            answer = skip.value if skip.compute is None else await _call(skip.compute, ctx, draft)
            self._store(step, draft, answer)
            await self._forward(ctx, step, draft, asked)
            return
        if typed and not step.typed:
            value = await self._typed_choice(ctx, step, draft, value)
        elif not typed and value not in _values(await self._choices(ctx, step, draft)):
            raise Refusal(self._stale_text(ctx, ongoing=True))
        answer = value if step.parse is None else await _call(step.parse, ctx, value, draft)
        if step.repeat is not None:
            items = [*_items(draft, step), *answer]
            self._store(step, draft, items)
            if len(items) < step.repeat.at_most:
                await self._ask(ctx, step, draft, asked)
                return
        else:
            self._store(step, draft, answer)
        await self._forward(ctx, step, draft, asked)

    async def _fill_in(
        self, ctx: Context, draft: D, asked: list[str], values: dict[str, str]
    ) -> None:
        """The declared form's answers, read through each step as if typed in turn; then the
        first question the form left unanswered, or the confirmation."""
        assert self.form is not None
        if self.check is not None:
            await self.check(ctx, draft)
        fields = {f.step: f for f in self.form.fields}
        steps = self._form_steps(draft)
        for step in steps:
            value = values.get(step.name, "").strip()
            read = fields[step.name].parse or step.parse
            if step.repeat is not None:
                lines = [line.strip() for line in value.splitlines() if line.strip()]
                items = [
                    item
                    for line in lines[: step.repeat.at_most]
                    for item in ([line] if read is None else await _call(read, ctx, line, draft))
                ]
                if len(items) < step.repeat.at_least:
                    raise Refusal(ctx.t(step.repeat.too_few))
                self._store(step, draft, items)
            elif not value or _fold(value) in SKIP_WORDS:
                if step.skip is None:
                    raise Refusal(
                        ctx.t("Fill in {field}, please.").format(
                            field=ctx.t(fields[step.name].label)
                        )
                    )
                skip = step.skip
                answer = (
                    skip.value if skip.compute is None else await _call(skip.compute, ctx, draft)
                )
                self._store(step, draft, answer)
            else:
                self._store(
                    step, draft, value if read is None else await _call(read, ctx, value, draft)
                )
        answered = [*asked, *(s.name for s in steps)]
        following = self._next(draft, self.steps.index(steps[0]), answered)
        if following is not None:
            await self._ask(ctx, following, draft, answered)
        elif self.confirm is not None:
            await self._ask_confirm(ctx, draft, answered)
        else:
            await self._end(ctx, draft)

    async def _typed_choice(self, ctx: Context, step: Step[D], draft: D, text: str) -> str:
        """A typed answer to a buttons-only step: a button's label, or its number."""
        flat = [c for row in await self._choices(ctx, step, draft) for c in row]
        folded = _fold(text)
        for number, choice in enumerate(flat, start=1):
            if folded in (_fold(choice.label), str(number)):
                return choice.value
        raise Refusal(ctx.t("Choose with the buttons above."))

    def _store(self, step: Step[D], draft: D, value: Any) -> None:
        if step.store is not None:
            step.store(draft, value)
        else:
            setattr(draft, step.name, value)

    async def _forward(self, ctx: Context, step: Step[D], draft: D, asked: list[str]) -> None:
        asked = [*asked, step.name]
        following = self._next(draft, self.steps.index(step), asked)
        if following is not None:
            await self._ask(ctx, following, draft, asked)
        elif self.confirm is not None:
            await self._ask_confirm(ctx, draft, asked)
        else:
            await self._end(ctx, draft)

    async def _back(self, ctx: Context, state: DialogState, draft: D, asked: list[str]) -> None:
        previous = self.step(asked[-1]) if asked else None
        if previous is None:
            raise Refusal(ctx.t("This is the first question, there is nothing before it."))
        await self._ask(ctx, previous, draft, asked[:-1])

    async def _at_confirm(self, ctx: Context, draft: D, value: str, *, typed: bool) -> None:
        assert self.confirm is not None
        if typed or value not in (_SAVE, _DISCARD):
            raise Refusal(
                ctx.t("Press {save} or {discard} above.").format(
                    save=ctx.t(self.confirm.save), discard=ctx.t(self.confirm.discard)
                )
            )
        if value == _DISCARD:
            await ctx.end_dialog()
            await ctx.reply(_builder(ctx.t("Cancelled. Nothing was saved.")).build())
            return
        await self._end(ctx, draft)

    async def _end(self, ctx: Context, draft: D) -> None:
        await ctx.end_dialog()
        await self.finish(ctx, draft)

    def _stale_text(self, ctx: Context, *, ongoing: bool) -> str:
        if self.stale is not None:
            return ctx.t(self.stale)
        if ongoing:
            return ctx.t("That button belongs to an earlier step. Answer the latest question.")
        if self.command:
            return ctx.t("That is over already. Write /{command} to start again.").format(
                command=self.command
            )
        return ctx.t(STALE_BUTTON)


# --- routing (the core calls these) ----------------------------------------------------------


async def answer_text(ctx: Context, state: DialogState, text: str) -> None:
    """A line typed while a dialog is going on in this chat."""
    found = _load(ctx, state)
    if found is None:
        await _lost(ctx, state)
        return
    dialog, draft, asked = found
    await _run(ctx, dialog._answer(ctx, state, draft, asked, text, typed=True))


async def answer_button(ctx: Context, args: tuple[str, ...]) -> None:
    """A dialog's button: (dialog, step, value), good only while that step is being asked."""
    dialog = ctx.registry.dialogs.get(args[0]) if len(args) == 3 else None
    if dialog is None:
        raise Refusal(ctx.t(STALE_BUTTON))
    ongoing = await _ongoing(ctx, dialog)
    if ongoing is None:
        return
    state, draft, asked = ongoing
    if state.step != args[1]:
        raise Refusal(dialog._stale_text(ctx, ongoing=True))
    await _run(ctx, dialog._answer(ctx, state, draft, asked, args[2], typed=False))


async def answer_form(ctx: Context, name: str, step: str, values: dict[str, str]) -> None:
    """A form's answers (`bot.forms`), good only while its step is being asked: the declared
    form, or one typed question's single answer."""
    dialog = ctx.registry.dialogs.get(name)
    if dialog is None:
        raise Refusal(ctx.t("That form is no longer in use. Try the command again."))
    ongoing = await _ongoing(ctx, dialog)
    if ongoing is None:
        return
    state, draft, asked = ongoing
    if state.step != step:
        raise Refusal(ctx.t("That form belongs to an earlier step. Answer the latest question."))
    steps = dialog._form_steps(draft)
    if steps and steps[0].name == step and set(values) - {step}:
        await _run(ctx, dialog._fill_in(ctx, draft, asked, values))
    else:
        text = values.get(step, "").strip()
        await _run(ctx, dialog._answer(ctx, state, draft, asked, text, typed=True))


async def _ongoing(ctx: Context, dialog: Dialog[Any]) -> tuple[DialogState, Any, list[str]] | None:
    """This person's state in `dialog` and its draft; None once a state that no longer reads
    has been answered and ended. Refuses if the dialog is not the one going on."""
    state = await ctx.dialog()
    if state is None or state.name != dialog.name:
        raise Refusal(dialog._stale_text(ctx, ongoing=False))
    found = _load(ctx, state)
    if found is None:
        await _lost(ctx, state)
        return None
    _dialog, draft, asked = found
    return state, draft, asked


async def _run(ctx: Context, work: Awaitable[None]) -> None:
    """Runs one move of a dialog; a `DialogOver` from it ends the dialog and says why."""
    try:
        await work
    except DialogOver as over:
        await ctx.end_dialog()
        if over.text:
            await ctx.reply(_builder(over.text).build())


def _load(ctx: Context, state: DialogState) -> tuple[Dialog[Any], Any, list[str]] | None:
    dialog = ctx.registry.dialogs.get(state.name)
    if dialog is None:
        return None
    if state.step != CONFIRM and dialog.step(state.step) is None:
        return None
    if state.step == CONFIRM and dialog.confirm is None:
        return None
    try:
        draft = decode(dialog.draft, state.data["draft"])
        asked = [str(name) for name in state.data.get("asked", [])]
    except (KeyError, TypeError, ValueError):
        log.info("dialog %s: a draft from an older version, ended", state.name)
        return None
    if any(dialog.step(name) is None for name in asked):
        return None
    return dialog, draft, asked


async def _lost(ctx: Context, state: DialogState) -> None:
    """A dialog from before an upgrade that this version can't continue: said once, ended."""
    await ctx.end_dialog()
    dialog = ctx.registry.dialogs.get(state.name)
    text = (
        ctx.t(
            "Sorry, I have been updated and lost track of what we were filling in. "
            "Nothing was saved; please start again with /{command}."
        ).format(command=dialog.command)
        if dialog is not None and dialog.command
        else ctx.t(
            "Sorry, I have been updated and lost track of what we were filling in. "
            "Nothing was saved; please start again."
        )
    )
    await ctx.reply(_builder(text).build())


async def _save(
    ctx: Context,
    dialog: Dialog[Any],
    step: str,
    draft: Any,
    asked: list[str],
    chat: tuple[str, str] | None = None,
) -> None:
    # Where the person's answers come: their private chat, also for a dialog begun in a group.
    platform, chat_id = chat or (ctx.private_chat.platform, ctx.private_chat.chat_id)
    await ctx.uow.dialogs.save(
        DialogState(
            person_id=ctx.person_id,
            platform=platform,
            chat_id=chat_id,
            name=dialog.name,
            step=step,
            data={"draft": encode(draft), "asked": asked},
            updated_at=ctx.now,
        )
    )


# --- small helpers ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    """How the engine compares words: case, accents, spaces and end punctuation don't count."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.split()).rstrip(".!")


def _builder(text: Text | None) -> MessageBuilder:
    builder = MessageBuilder()
    _append(builder, text)
    return builder


def _append(builder: MessageBuilder, text: Text | None) -> None:
    if isinstance(text, MessageBuilder):
        if builder.spans and text.spans:
            builder.spans.append(Span("\n"))
        builder.spans.extend(text.spans)
        builder.rows.extend(text.rows)
    elif text:
        builder.line(text)


def _required(step: Step[Any]) -> bool:
    """Whether a form must have an answer for this step (else it may be left empty)."""
    if step.repeat is not None:
        return step.repeat.at_least > 0
    return step.skip is None


def _items(draft: Any, step: Step[Any]) -> list[Any]:
    return list(getattr(draft, step.name) or [])


def _values(rows: ChoiceRows) -> set[str]:
    return {choice.value for row in rows for choice in row}


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    result = function(*args)
    return await result if inspect.isawaitable(result) else result
