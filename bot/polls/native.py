"""Native polls: when a poll goes out as Telegram's or Discord's own poll, and how votes come back.

The rule, in one place
----------------------
A poll's post to a group channel carries a native-poll request
(`bot.messages.NativePoll`) only when all of these hold (`may_go_native`):

* it is plain single or multiple choice. Time polls (three answers per time),
  ranked polls (an order) and proposals (a reason with a block) have no native
  form; a multiple-choice poll goes native only without a cap below its option
  count, since neither platform can limit how many options a person ticks;
* its votes are visible. A native poll that tells the bot who voted shows the
  same to everyone in the chat (Telegram needs `is_anonymous=False` to send
  `poll_answer` with the person; Discord shows every voter), so an anonymous
  poll stays on private ballots and its guarantees (`bot.polls.model`) hold;
* guests may vote. No bound channel records that only members are in it, and
  a platform lets everyone in the chat vote, so a members-only poll stays on
  buttons rather than show guests a poll whose taps would not count. (When
  channels get an audience, this is the line to change.)

Then each platform's adapter checks its own limits (`NativePollLimits`): the
number and length of options, the question's length, how long the poll may
stay open (Discord: 32 days), whether results can stay hidden until it closes
(Telegram can; Discord can't, so a poll with results at close stays on
buttons there). A post that does not fit goes out with its buttons, as on the
console. The announcement then says that everyone in the chat sees who chose
what, and how to vote in a private chat instead.

Votes
-----
When a native post is sent, the dispatcher records which platform poll
(`handle`: Telegram's poll id, Discord's message id) belongs to which of our
polls (`ref`). A platform's vote becomes `bot.events.PollAnswered` and is cast
through the same rules as a ballot (consent, who may vote, open until the
deadline); the platform shows the vote whatever we decide, so a refused one is
told to the person privately and not counted. Our votes table stays the
truth: the result at close is counted from it, as for every poll. Someone the
bot does not know yet gets no person record from a native vote, only the
answer that they need to start the bot first.

Closing
-------
The bot ends every native poll itself when ours closes, through the outbox: a
message with `stop_native_poll` referring to the post (`stopPoll`,
`Message.end_poll`), queued before the result. Telegram gets no close date of
its own; Discord needs a duration, which is only a backstop at or after ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.delivery import OutboxEntry
from bot.messages import NativePoll, native_poll_handle
from bot.polls.model import Poll, PollKind


def may_go_native(poll: Poll) -> bool:
    """Whether the poll may be offered to platforms as their own poll (see the module's rule)."""
    if poll.anonymous or poll.members_only:
        return False
    if poll.kind is PollKind.SINGLE:
        return True
    return poll.kind is PollKind.MULTIPLE and poll.max_choices in (None, len(poll.options))


@dataclass
class NativePollPost:
    """One native poll a platform holds for one of our polls, in one chat."""

    platform: str
    handle: str  # what the platform's answer events name the poll by
    chat_id: str
    ref: str  # our poll, e.g. "poll:12"
    reference: str  # the gateway's external id of the post (to end the poll)
    posted_at: datetime
    id: int | None = None


class NativePollRepository(Protocol):
    async def add(self, post: NativePollPost) -> None:
        """Records the post; one that is recorded already is left as it is."""
        ...

    async def by_handle(self, platform: str, handle: str) -> NativePollPost | None: ...
    async def of(self, ref: str) -> Sequence[NativePollPost]:
        """Every native post of one of our polls, oldest first."""
        ...


async def record_post(
    repository: NativePollRepository, entry: OutboxEntry, poll: NativePoll, now: datetime
) -> None:
    """After a post was sent: if its poll went native, remember which platform poll it is."""
    handle = native_poll_handle(entry.external_id)
    if handle is None:  # sent with buttons: the platform can't, or the poll did not fit
        return
    await repository.add(
        NativePollPost(
            platform=entry.platform,
            handle=handle,
            chat_id=entry.chat_id,
            ref=poll.ref,
            reference=entry.external_id or "",
            posted_at=now,
        )
    )
