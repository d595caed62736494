"""The organiser's name list of one meeting: who answered, in a spreadsheet-safe CSV."""

from __future__ import annotations

import csv
import io

from bot.i18n import Translator
from bot.meetings.model import Answer
from bot.meetings.roster import names_csv
from tests.conftest import Console


async def test_the_name_list_is_the_answers_in_order_with_the_waitlist_places(
    console: Console,
) -> None:
    await console.run(
        "@bertil: /moten 1\n@bertil: [Ändra]\n@bertil: [Platser]\n@bertil: 1\n"
        "@anna: /moten 1\n@anna: [Jag kommer]\n@david: /moten 1\n@david: [Kanske]\n"
        "@oliver: /moten 1\n@oliver: [I'm coming]\n@cecilia: /moten 1\n@cecilia: [Jag kommer]\n"
        "@bertil: /moten 1\n@bertil: [Deltagare]\n@bertil: [Namnlista (CSV)]"
    )
    assert console.gateway.files is not None
    data = (console.gateway.files / "bertil" / "deltagare-mote-1.csv").read_bytes()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        ["Namn", "Svar", "Plats på väntelistan"],
        ["Anna", "kommer", ""],
        ["David", "kanske", ""],
        ["Oliver", "väntelista", "1"],
        ["Cecilia", "väntelista", "2"],
    ]


def test_a_name_that_looks_like_a_formula_stays_text() -> None:
    data = names_csv(Translator("en"), [("=HYPERLINK(1)", Answer.COMING, None)])
    assert "'=HYPERLINK(1)" in data.decode("utf-8-sig")
