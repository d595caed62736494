"""A meeting's thread on Telegram, with the real python-telegram-bot against the double.

In a forum group the thread is a forum topic named after the meeting, where
the discussion questions go; in an ordinary group they answer the
announcement as a reply. The announcement itself stays where the group reads.
"""

from __future__ import annotations

from datetime import timedelta

from adapters.telegram.gateway import TOPIC_NAME_LIMIT, Reference, topic_name
from bot.clock import VirtualClock
from bot.context import Effects
from bot.demo.seed import seed_demo
from bot.i18n import Translator
from bot.meetings.service import MeetingDraft, create_meeting
from storage.database import Database
from tests.platform_drivers import TelegramDriver, telegram_bot

sv = Translator("sv")
THEME = "Trygghet i Sandviken"


async def plan_meeting(database: Database, clock: VirtualClock, tg: TelegramDriver) -> None:
    async with database.unit_of_work() as uow:
        org = await uow.orgs.by_slug("sandviken")
        assert org is not None
        start = clock.now() + timedelta(days=7)
        draft = MeetingDraft(
            THEME, start, start + timedelta(hours=2), questions=["Var känner du dig otrygg?"]
        )
        await create_meeting(Effects(uow, clock), org, draft)
        await uow.commit()
    await tg.samtal.run_due()


async def test_in_a_forum_group_the_questions_get_a_topic_of_their_own(
    database: Database, clock: VirtualClock
) -> None:
    await seed_demo(database.unit_of_work, clock)
    async with telegram_bot(database, clock) as tg:
        group = tg.group_id("allmant")
        tg.double.forums.add(group)
        await tg.link_demo("bertil")
        await tg.bind_group("bertil", "allmant", "sandviken")
        before = len(tg.double.sent)
        await plan_meeting(database, clock, tg)

        announcement, questions = tg.double.sent[before:]
        assert announcement.chat_id == questions.chat_id == group
        assert announcement.thread_id is None  # in the group's general topic
        assert announcement.visible.startswith(sv("New themed meeting"))
        assert tg.double.topics[group] == {questions.thread_id: THEME}
        assert questions.visible.startswith(sv("Discussion: {theme}").format(theme=THEME))
        assert tg.double.refusals == []


async def test_in_an_ordinary_group_the_questions_answer_the_announcement(
    database: Database, clock: VirtualClock
) -> None:
    await seed_demo(database.unit_of_work, clock)
    async with telegram_bot(database, clock) as tg:
        group = tg.group_id("allmant")
        await tg.link_demo("bertil")
        await tg.bind_group("bertil", "allmant", "sandviken")
        before = len(tg.double.sent)
        await plan_meeting(database, clock, tg)
        await plan_meeting(database, clock, tg)

        first, first_questions, second, second_questions = tg.double.sent[before:]
        assert {sent.chat_id for sent in tg.double.sent[before:]} == {group}
        assert first_questions.reply_to == first.message_id
        assert second_questions.reply_to == second.message_id
        assert {first_questions.thread_id, second_questions.thread_id} == {None}
        # The group said once that it has no topics; it is not asked again.
        assert [r[0] for r in tg.double.refusals] == ["createForumTopic"]


def test_references_and_topic_names() -> None:
    assert Reference.parse(str(Reference(5, 9))) == Reference(5, 9)
    assert Reference.parse("5") == Reference(5) and Reference.parse(None) == Reference(None)
    name = topic_name("Ett långt\ntema " * 20)
    assert len(name) == TOPIC_NAME_LIMIT and name.endswith("…")
