"""A new meeting's invitation by email, for the organisation's people who are in no chat.

The channels' post reaches the people in chat; whoever a private message would
reach by email (bot/domain/channels.py: no chat account, or email chosen) gets
the invitation once, with the meeting's calendar file as an invitation
(`.ics`, sent as METHOD:REQUEST by the email gateway) and the answer buttons,
which work from the email.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.context import Effects
from bot.domain.channels import EMAIL
from bot.domain.organisations import Organisation
from bot.i18n import Translator
from bot.meetings import views
from bot.meetings.model import Meeting
from bot.messages import Attachment, OutgoingMessage
from bot.render.calendar import calendar_bytes, meeting_filename


def invitation(
    t: Translator, meeting: Meeting, org: Organisation, now: datetime
) -> OutgoingMessage:
    text = views.announcement(t, meeting, org)
    return replace(
        text,
        thread=None,
        event=None,
        attachment=Attachment(
            meeting_filename(meeting), "text/calendar", calendar_bytes([(meeting, org)], now)
        ),
    )


async def invite_by_email(fx: Effects, meeting: Meeting, org: Organisation) -> int:
    """Invites the organisation's people whom private messages reach by email; how many."""
    from bot.meetings.service import may_see  # the service calls this module

    assert org.id is not None and meeting.id is not None
    invited = 0
    for person_id in await fx.uow.channels.email_people([org.id]):
        person = await fx.uow.people.get(person_id)
        if person is None or not await may_see(fx, person, meeting):
            continue
        reached = await fx.reach(person)
        if reached is None or reached.platform != EMAIL:
            continue  # in a chat: the channels' post is theirs
        invited += await fx.notify(
            person,
            lambda t: invitation(t, meeting, org, fx.now),
            key=f"meeting:{meeting.id}:invite:email",
        )
    return invited
