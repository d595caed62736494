"""/utskick's one question, the text, declared with `bot.dialogs`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.announcements.model import MAX_TEXT, Announcement, Audience
from bot.announcements.service import (
    DRAFT_KEPT,
    EXPIRE_TIMER,
    clean_announcement,
    permitted_org,
    plan_audience,
)
from bot.announcements.views import audience_name, framed, preview
from bot.context import Context, Refusal
from bot.dialogs import Dialog, DialogOver, Step
from bot.domain.organisations import Organisation
from bot.messages import message

TEXT_DIALOG = "announcement.text"


@dataclass
class AnnouncementText:
    """/utskick's one question: the text, for the audience chosen with the buttons."""

    org_id: int
    audience: Audience
    interest: str | None = None
    text: str = ""


async def _text_org(ctx: Context, draft: AnnouncementText) -> Organisation:
    try:
        return await permitted_org(ctx, draft.org_id)
    except Refusal as refusal:
        raise DialogOver(refusal.text) from None


async def _check_text(ctx: Context, draft: AnnouncementText) -> None:
    await _text_org(ctx, draft)


async def _text_prompt(ctx: Context, draft: AnnouncementText) -> str:
    org = await _text_org(ctx, draft)
    return ctx.t.ngettext(
        "{audience}: write the announcement in one message, as it should read (at most "
        "{max} character). It is sent as plain text. /avbryt stops.",
        "{audience}: write the announcement in one message, as it should read (at most "
        "{max} characters). It is sent as plain text. /avbryt stops.",
        MAX_TEXT,
    ).format(audience=audience_name(ctx.t, draft.audience, draft.interest, org), max=MAX_TEXT)


def _read_text(ctx: Context, text: str, draft: AnnouncementText) -> str:
    body = clean_announcement(text)
    if not body:
        raise Refusal(ctx.t("Write the text of the announcement, or /avbryt to stop."))
    if len(body) > MAX_TEXT:
        raise Refusal(
            ctx.t.ngettext(
                "That is {n} character; an announcement can have at most {max}. Shorten it "
                "and send it again.",
                "That is {n} characters; an announcement can have at most {max}. Shorten it "
                "and send it again.",
                len(body),
            ).format(n=len(body), max=MAX_TEXT)
        )
    return body


async def _prepare(ctx: Context, text: AnnouncementText) -> None:
    """Saves the announcement as a draft and shows it as it will be sent, with the count."""
    org = await _text_org(ctx, text)
    audience, interest, body = text.audience, text.interest, text.text
    org_id = org.id
    assert org_id is not None
    plan = await plan_audience(ctx, org, audience, interest)
    if not plan.reaches_anyone:
        await ctx.reply(
            message(
                ctx.t(
                    "No one in that audience can get a message from me yet, so nothing was "
                    "saved. Write /utskick to choose another audience."
                )
            )
        )
        return
    draft = await ctx.uow.announcements.add(
        Announcement(
            org_id=org_id,
            text=body,
            audience=audience,
            created_at=ctx.now,
            author_id=ctx.person_id,
            interest=interest,
            paid_broadcast=plan.paid,
        )
    )
    assert draft.id is not None
    await ctx.schedule(
        f"{draft.batch}:expire", EXPIRE_TIMER, ctx.now + DRAFT_KEPT, {"announcement": draft.id}
    )
    await ctx.reply(framed(ctx.t, org, body))
    await ctx.reply(preview(ctx.t, draft, org, plan))


TEXT: Dialog[AnnouncementText] = Dialog(
    name=TEXT_DIALOG,
    draft=AnnouncementText,
    check=_check_text,
    steps=(Step("text", _text_prompt, parse=_read_text),),
    finish=_prepare,
)
