"""Arbitrary text never breaks the bot: every command and dialog step answers, nothing crashes.

Hypothesis throws empty, very long, control-character, right-to-left, emoji,
SQL, HTML, Markdown and mention-laden text at every registered command, as a
guest, a member and an organiser, in private and in the group, and at the
steps of any dialog a command opens.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.i18n import Translator
from tests.conftest import Console

NASTY = st.sampled_from(
    [
        "",
        " ",
        "x" * 5000,
        "\x00\x01\x1b[31m\u202e",
        "مرحبا بالعالم",
        "עברית \u200f",
        "🌹✊🏽👨‍👩‍👧",
        "'; DROP TABLE people; --",
        "<b>fet</b> <script>alert(1)</script> &amp; &lt;",
        "*fet* _kursiv_ `kod` [länk](http://x) ||spoiler||",
        "@everyone @here <@123> <@&456> @anna",
        "2026-02-30 25:61",
        "-1",
        "999999999999999999999999",
        "[Jag kommer]",
        "/hjalp",
        "\n\n\n",
    ]
)
TEXT = st.one_of(NASTY, st.text(max_size=300))
WHO = st.sampled_from(["@david", "@anna", "@bertil", "@sara"])
WHERE = st.sampled_from(["", "#allmant"])
FAILURE = Translator("sv")(
    "Sorry, something went wrong on my side. Nothing was changed; please try again."
)


def _line(who: str, where: str, text: str) -> str:
    # One transcript line per event: newlines inside the text would start new events.
    flat = " ".join(text.splitlines())
    return f"{who}{where}: {flat}"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
async def test_every_command_survives_any_arguments(console: Console, data: st.DataObject) -> None:
    names = [spec.swedish for spec in console.samtal.registry.commands]
    name = data.draw(st.sampled_from(names))
    who, where = data.draw(WHO), data.draw(WHERE)
    output = await console.run(_line(who, where, f"/{name} {data.draw(TEXT)}"))
    # Then the next steps of whatever dialog it opened.
    for _ in range(data.draw(st.integers(0, 3))):
        output += await console.run(_line(who, where, data.draw(TEXT)))
    await console.run(_line(who, where, "/avbryt"))
    assert FAILURE not in output


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=TEXT, who=WHO, where=WHERE)
async def test_plain_text_is_answered_kindly_or_left_alone(
    console: Console, text: str, who: str, where: str
) -> None:
    output = await console.run(_line(who, where, text))
    assert FAILURE not in output
