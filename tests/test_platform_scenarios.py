"""The same scenarios on every platform: console, Telegram and Discord.

Telegram runs the real python-telegram-bot, long polling a local double of
the Bot API over HTTP; Discord runs the real discord.py against a local
double of its REST API, with gateway payloads fed to the client. Each
scenario is written once, in terms of what people do and read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.clock import VirtualClock
from bot.demo.seed import seed_demo
from bot.i18n import Translator
from storage.database import Database
from tests.conftest import Console
from tests.platform_drivers import (
    ConsoleDriver,
    DiscordDriver,
    Said,
    TelegramDriver,
    discord_bot,
    telegram_bot,
)

Driver = ConsoleDriver | TelegramDriver | DiscordDriver
sv = Translator("sv")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
DECLINED = sv(
    "Alright. I have not kept anything about you. You are welcome back any time: just write /start."
)


@pytest.fixture(params=["console", "telegram", "discord"])
async def bot(
    request: pytest.FixtureRequest, database: Database, clock: VirtualClock
) -> AsyncIterator[Driver]:
    if request.param == "console":
        console = Console(database, clock)
        await console.samtal.start()
        await console.seed_demo()
        yield ConsoleDriver(console)
        return
    await seed_demo(database.unit_of_work, clock)
    runner = telegram_bot if request.param == "telegram" else discord_bot
    async with runner(database, clock) as driver:
        yield driver


def texts(said: list[Said]) -> list[str]:
    return [s.text for s in said]


async def test_start_and_consent(bot: Driver) -> None:
    said = await bot.say("nora", "/start join_sandviken")
    assert [s.to for s in said] == ["nora"]
    assert said[0].text.startswith(sv("Welcome to Samtal, {name}!").format(name="Nora"))
    assert sv("What I store and why") in said[0].text
    assert said[0].buttons == (sv("I agree"), sv("No thanks"))

    said = await bot.press("nora", sv("I agree"))
    assert texts(said) == [
        sv("Thank you! You are all set. Write /hjalp to see what you can do."),
        sv("You now follow {org}. Welcome to every open activity!").format(
            org="Sandvikens arbetarekommun"
        ),
    ]
    said = await bot.say("nora", "/start")
    assert texts(said) == [
        sv("Welcome back, {name}! Write /hjalp to see what you can do.").format(name="Nora")
    ]


async def test_declining_keeps_nothing(bot: Driver) -> None:
    await bot.say("olle", "/start")
    said = await bot.press("olle", sv("No thanks"))
    assert texts(said) == [DECLINED]
    said = await bot.say("olle", "/start")  # asked again, as a newcomer
    assert said[0].buttons == (sv("I agree"), sv("No thanks"))


async def test_help_before_and_after_consent(bot: Driver) -> None:
    said = await bot.say("nora", "/hjalp")
    assert [s.to for s in said] == ["nora"]
    help_text = said[0].text
    assert help_text.startswith(sv("What you can do here"))
    assert f"/hjalp – {sv('What you can do here')}" in help_text
    assert (
        sv("Start with /start: I will tell you what I store and ask for your consent.") in help_text
    )

    await bot.say("nora", "/start")
    await bot.press("nora", sv("I agree"))
    said = await bot.say("nora", "/hjalp")
    assert sv("Start with /start") not in said[0].text
    assert "/start" in said[0].text


async def test_in_a_group_personal_flows_go_to_the_private_chat(bot: Driver) -> None:
    # Personal answers go to her private chat; Discord answers in place, for her eyes only.
    to = "#allmant" if bot.platform == "discord" else "nora"
    said = await bot.say("nora", "/start", group="allmant")
    assert [s.to for s in said] == [to]
    if bot.platform == "discord":
        assert said[0].text == sv(
            "Hello {name}! Write /start to me in a private chat first, "
            "so I can tell you what I store and ask for your consent."
        ).format(name="Nora")
    else:  # the consent question itself, in her private chat
        assert said[0].text.startswith(sv("Welcome to Samtal, {name}!").format(name="Nora"))
        assert said[0].buttons == (sv("I agree"), sv("No thanks"))
    said = await bot.say("nora", "/hjalp", group="allmant")
    assert [s.to for s in said] == [to]
    assert said[0].text.startswith(sv("What you can do here"))


async def test_someone_elses_button_is_refused(bot: Driver) -> None:
    await bot.say("olle", "/start")
    olles = bot.token_of("olle", sv("No thanks"))
    await bot.say("nora", "/start")
    said = await bot.forge("nora", olles)
    assert texts(said) == [sv("That button belongs to someone else.")]
    # Olle was not erased by Nora's press: his own button still works.
    said = await bot.press("olle", sv("No thanks"))
    assert texts(said) == [DECLINED]


async def test_made_up_or_stale_button_is_refused(bot: Driver) -> None:
    await bot.say("nora", "/start")
    said = await bot.forge("nora", "not-a-real-token-123")
    assert texts(said) == [sv("That button no longer works. Try the command again.")]
    # A button from before the person erased their data is stale.
    token = bot.token_of("nora", sv("I agree"))
    await bot.press("nora", sv("No thanks"))
    said = await bot.forge("nora", token)
    assert said and said[-1].text in (
        sv("That button belongs to someone else."),
        sv("That button no longer works. Try the command again."),
    )


# The flows of the other capabilities, with the demo's people on each platform: their
# accounts there are linked (what /koppla does) and #allmant is bound to Sandviken.


async def demo_people(bot: Driver, *names: str) -> None:
    for name in names:
        await bot.link_demo(name)
    await bot.bind_group("bertil", "allmant", "sandviken")


async def test_rsvp_with_buttons(bot: Driver) -> None:
    await demo_people(bot, "anna", "bertil")
    said = await bot.say("anna", "/moten 1")
    assert [s.to for s in said] == ["anna"]
    assert said[0].text.startswith("Bostäder för unga (nr 1)")
    assert "0 kommer, 0 kanske" in said[0].text
    assert said[0].buttons[:3] == ("Jag kommer", "Kanske", "Kan inte")

    said = await bot.press("anna", "Jag kommer")
    assert [s.to for s in said] == ["anna"]
    assert said[0].text.startswith("Toppen, du kommer!\nBostäder för unga (nr 1)")
    said = await bot.say("anna", "/moten 1")
    assert "1 kommer, 0 kanske" in said[0].text


async def test_poll_created_published_and_voted(bot: Driver) -> None:
    await demo_people(bot, "anna", "bertil")
    steps = [
        ("say", "/ny_omrostning"),
        ("press", "Enkelval"),
        ("say", "Vilket tema ska vårens första samtalskväll ha?"),
        ("say", "Skolan; Vården; Jobben"),
        ("press", "Klart"),
        ("say", "fredag 18:00"),
        ("press", "Synliga"),
        ("press", "Bara medlemmar"),
        ("press", "Löpande"),
        ("press", "Inget kvorum"),
    ]
    for kind, value in steps:
        said = await (bot.say if kind == "say" else bot.press)("bertil", value)
        assert said, f"no answer to {value!r}"
    assert said[-1].buttons == ("Publicera", "Avbryt")
    said = await bot.press("bertil", "Publicera")
    posts = [s for s in said if s.to == "#allmant"]
    assert posts and posts[0].text.startswith(
        "Ny omröstning: Vilket tema ska vårens första samtalskväll ha?"
    )
    assert posts[0].buttons == ("Rösta",)

    # Anna votes from the group's button; the ballot comes privately.
    said = await bot.press("anna", "Rösta", group="allmant")
    assert [s.to for s in said] == ["anna"]
    assert said[0].buttons == ("Skolan", "Vården", "Jobben")
    said = await bot.press("anna", "Vården")
    assert [s.text for s in said] == [
        "Din röst: Vården. Du kan ändra den fram till fredag 6 mars 2026 kl. 18:00."
    ]


async def test_circle_sign_up(bot: Driver) -> None:
    await demo_people(bot, "anna", "bertil")
    said = await bot.say("anna", "/cirklar")
    circle = next(s for s in said if s.buttons == ("Anmäl mig",))
    assert circle.text.startswith("Medlemsutbildning steg 1")
    assert "Platser: 12 av 12 kvar" in circle.text
    said = await bot.press("anna", "Anmäl mig")
    assert said[0].buttons == ("Ja, ta med mitt namn", "Nej, utan mitt namn")
    said = await bot.press("anna", "Ja, ta med mitt namn")
    assert [s.to for s in said] == ["anna"]
    assert said[0].text.startswith("Du är anmäld till Medlemsutbildning steg 1.")
    assert said[0].buttons == ("Avanmäl mig",)


async def test_first_welcome_step(bot: Driver) -> None:
    said = await bot.say("nora", "/start member_sandviken")
    assert said[0].buttons == (sv("I agree"), sv("No thanks"))
    said = await bot.press("nora", sv("I agree"))
    assert [s.to for s in said] == ["nora", "nora"]
    assert said[1].text == (
        "Välkommen till Sandvikens arbetarekommun! Har du precis blivit medlem i partiet?"
    )
    said = await bot.press("nora", "Ja, jag har precis gått med")
    to_nora = [s.text for s in said if s.to == "nora"]
    assert to_nora == [
        "Vad roligt, välkommen! En medlemsansvarig bekräftar ditt medlemskap inom kort, "
        "och sedan börjar din introduktion."
    ]


CAMPAIGN_STEPS = [
    ("say", "/ny_kampanj"),
    ("say", "Kampanjvecka i Sandviken"),
    ("press", "Dörrknackning"),
    ("say", "9/3"),
    ("say", "13/3"),
    ("press", "Bostäder"),
    ("press", "Klart"),
    ("press", "Ja, gäster är välkomna"),
    ("press", "Skapa kampanjen"),
    ("press", "Lägg till pass"),
    ("say", "Centrum"),
    ("say", "tisdag 10/3 17-19"),
    ("say", "Stortorget https://maps.example.org/?q=torget"),
    ("say", "1"),
]


async def plan_a_shift(bot: Driver) -> None:
    """Bertil starts a campaign and adds one shift of one place; all but its last answer."""
    await demo_people(bot, "anna", "erik", "bertil")
    for kind, value in CAMPAIGN_STEPS:
        said = await (bot.say if kind == "say" else bot.press)("bertil", value)
        assert said, f"no answer to {value!r}"


async def test_campaign_shift_sign_up_reminder_and_report(bot: Driver, clock: VirtualClock) -> None:
    await plan_a_shift(bot)
    said = await bot.say("bertil", "jag")
    post = next(s for s in said if s.to == "#allmant")
    assert post.text.startswith("Nytt pass: Kampanjvecka i Sandviken")
    assert "Karta: https://maps.example.org/?q=torget" in post.text
    assert post.buttons == ("Jag är med",)

    # One button from the group post; the answer is personal. The second person waits.
    here = "#allmant" if bot.platform == "discord" else None
    said = await bot.press("anna", "Jag är med", group="allmant")
    assert [s.to for s in said] == [here or "anna"]
    assert said[0].text.startswith("Du är med!")
    said = await bot.press("erik", "Jag är med", group="allmant")
    assert said[0].text.startswith("Passet är fullt, så du är nummer 1 på väntelistan.")

    # The day before: the reminder with the meeting point, to Anna and the lead, not Erik.
    clock.set(datetime(2026, 3, 9, 17, 0, tzinfo=STOCKHOLM))
    said = await bot.say("bertil", "/pass")
    reminders = {s.to: s.text for s in said if s.text.startswith("Påminnelse")}
    assert sorted(reminders) == ["anna", "bertil"]
    assert "Samling: Stortorget" in reminders["anna"]

    # After the shift: the report by buttons feeds the conversation figures.
    clock.set(datetime(2026, 3, 10, 19, 15, tzinfo=STOCKHOLM))
    said = await bot.say("bertil", "/pass")
    prompts = [s for s in said if s.to == "anna"]
    assert prompts[0].text.startswith("Tack för passet i Centrum!")
    assert prompts[0].buttons == ("Rapportera",)
    for label in ("Rapportera", "5", "10", "Bostäder", "Klart"):
        said = await bot.press("anna", label)
        assert said, f"no answer to [{label}]"
    said = await bot.press("anna", "Hoppa över")
    assert [s.text for s in said] == ["Tack! Noterat: 5 samtal och 10 dörrar. Våra samtal i år: 5."]
    said = await bot.say("bertil", "/pass")
    assert "Har rapporterat: Anna" in said[0].text


async def test_campaign_overview_figures_and_export(bot: Driver, clock: VirtualClock) -> None:
    await plan_a_shift(bot)
    await bot.say("bertil", "jag")
    await bot.press("anna", "Jag är med", group="allmant")
    clock.set(datetime(2026, 3, 10, 19, 15, tzinfo=STOCKHOLM))
    await bot.say("bertil", "/pass")
    for label in ("Rapportera", "3", "20", "Klart", "Hoppa över"):
        assert await bot.press("anna", label), f"no answer to [{label}]"
    said = await bot.say("bertil", "/kampanj 1")
    assert said[0].buttons == ("Översikt", "Lägg till pass")
    said = await bot.press("bertil", "Översikt")
    assert "Pass 1, tisdag 10 mars 2026 kl. 17:00, Centrum: Fullt (1 av 1)" in said[0].text
    assert "1 har rapporterat" in said[0].text
    said = await bot.press("bertil", "Siffror")
    figures = "\n".join(s.text for s in said)
    assert "1 rapport: 3 samtal, 20 dörrar." in figures, said
    assert "• Centrum: 3 samtal, 20 dörrar" in figures
    said = await bot.press("bertil", "Exportera")
    assert said and {s.to for s in said} == {"bertil"}, said
