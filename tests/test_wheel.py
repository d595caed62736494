"""The annual wheel's pure rules: parsing, validation, inheritance and expansion."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.wheel.model import (
    ActivityKind,
    Adjustment,
    AdjustmentKind,
    Layer,
    TemplateError,
    effective_wheel,
    election_day,
    expand,
    is_church_election_year,
    mandate_year,
    year_bounds,
)
from bot.wheel.service import default_template_source
from bot.wheel.template import parse_template
from bot.wheel.when import parse_duration, parse_when

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("every Thursday", date(2026, 1, 1)),
        ("varje torsdag", date(2026, 1, 1)),
        ("first Monday in March", date(2026, 3, 2)),
        ("första måndagen i mars", date(2026, 3, 2)),
        ("second Sunday in September", date(2026, 9, 13)),
        ("andra söndagen i september", date(2026, 9, 13)),
        ("week 38", date(2026, 9, 14)),
        ("vecka 38", date(2026, 9, 14)),
        ("tisdag vecka 38", date(2026, 9, 15)),
        ("15 mars", date(2026, 3, 15)),
        ("March 15", date(2026, 3, 15)),
        ("last Friday of every month", date(2026, 1, 30)),
        ("sista fredagen i varje månad", date(2026, 1, 30)),
        ("tredje lördagen i mars och oktober", date(2026, 3, 21)),
        ("FREQ=MONTHLY;BYDAY=-1FR", date(2026, 1, 30)),
        ("RRULE:FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=1", date(2026, 5, 1)),
    ],
)
def test_when_forms_give_the_first_date_of_2026(text: str, expected: date) -> None:
    starts = parse_when(text).dates(2026, time(18, 0))
    assert starts[0] == datetime.combine(expected, time(18, 0))


def test_counts_per_year() -> None:
    assert len(parse_when("varje torsdag").dates(2026, time(18))) == 53
    assert len(parse_when("sista fredagen i varje månad").dates(2026, time(18))) == 12
    assert len(parse_when("tredje lördagen i mars och oktober").dates(2026, time(18))) == 2


@pytest.mark.parametrize(
    "text", ["sometimes", "vecka 60", "31 februari", "DTSTART:2026;FREQ=DAILY"]
)
def test_unreadable_when_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_when(text)


def test_mandate_period() -> None:
    assert election_day(2026) == date(2026, 9, 13)
    assert election_day(2030) == date(2030, 9, 8)
    assert election_day(2027) is None
    assert [mandate_year(y) for y in (2027, 2028, 2029, 2030)] == [1, 2, 3, 4]
    assert is_church_election_year(2025) and is_church_election_year(2029)
    assert not is_church_election_year(2026)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("3w") == timedelta(weeks=3)


SEEDS = Path("/work/shared/seeds")


def _levels() -> list[Layer]:
    """The packaged defaults by level, and the demo's Sandviken below them."""
    party = parse_template(default_template_source("party"))
    district = parse_template(default_template_source("district"), inherited=party.keys())
    sandviken = parse_template(
        files("bot.demo").joinpath("sandviken_wheel.toml").read_text(encoding="utf-8"),
        inherited=party.keys() + district.keys(),
    )
    return [
        Layer(1, "socialdemokraterna", party),
        Layer(2, "gavleborg", district),
        Layer(3, "sandviken", sandviken),
    ]


def test_the_defaults_are_split_by_level_and_cite_their_seeds() -> None:
    party, district, sandviken = _levels()
    for layer in (party, district, sandviken):
        assert layer.template is not None
        for entry in layer.template.entries:
            # Every item names the seed document and the lines it is taken from.
            assert re.match(r"seeds/00[0-4]_[0-9a-f]{16}\.txt rad [0-9]", entry["source"]), entry
            seed = SEEDS / str(entry["source"]).split()[0].removeprefix("seeds/")
            assert not SEEDS.exists() or seed.exists(), seed
    # A branch beside Sandviken (Gävle) inherits the party's and the district's items only:
    # none of Sandviken's premises.
    gavle = effective_wheel([party, district, Layer(4, "gavle", None)], "branch")
    assert not [i for i in gavle if "Sosserian" in i.activity.place + i.activity.name]
    assert {"valdagen", "forsta-maj", "radslag", "arsmote", "medlemsutbildning"} <= {
        i.activity.key for i in gavle
    }
    # The district runs its own annual meeting, chairs' meetings and courses, and offers
    # Medlemsutbildning steg 1 and the associations' chairs' meeting to its branches.
    own = {i.activity.key for i in effective_wheel([party, district], "district")}
    assert own == {
        "distriktsarsmote",
        "ordforandetraff",
        "medlemsutbildning-2",
        "funktionsutbildning",
    }
    items = effective_wheel(_levels(), "branch")
    kinds = {item.activity.kind for item in items} | {
        i.activity.kind for i in effective_wheel([party, district], "district")
    }
    assert kinds == set(ActivityKind)  # every kind of activity the seeds name
    in_2026 = {o.key for o in expand(items, *year_bounds(2026, STOCKHOLM), STOCKHOLM)}
    in_2027 = {o.key for o in expand(items, *year_bounds(2027, STOCKHOLM), STOCKHOLM)}
    assert {"valdagen", "valspurt", "valvaka"} <= in_2026
    assert not {"valdagen", "kyrkovalet"} & in_2027
    in_2029 = {o.key for o in expand(items, *year_bounds(2029, STOCKHOLM), STOCKHOLM)}
    assert "kyrkovalet" in in_2029
    valdagen = [
        o for o in expand(items, *year_bounds(2030, STOCKHOLM), STOCKHOLM) if o.key == "valdagen"
    ]
    assert [o.start.astimezone(STOCKHOLM).date() for o in valdagen] == [date(2030, 9, 8)]
    # The weekly open house takes a summer break and skips Christmas Eve (a Thursday in 2026).
    open_house = [
        o.start.astimezone(STOCKHOLM).date()
        for o in expand(items, *year_bounds(2026, STOCKHOLM), STOCKHOLM)
        if o.key == "oppet-hus"
    ]
    assert date(2026, 12, 17) in open_house and date(2026, 12, 24) not in open_house
    assert not [d for d in open_house if d.month == 7]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            '[[activity]]\nkey = "x"\nname = "X"\nkind = "party"\nwhen = "vecka 3"',
            "activity 'x': kind",
        ),
        (
            '[[activity]]\nkey = "x"\nname = "X"\nkind = "lecture"\nwhen = "ibland"',
            "activity 'x': when",
        ),
        ('[[activity]]\nkey = "x"\nname = "X"\nkind = "lecture"', "activity 'x': when: missing"),
        ('[[activity]]\nname = "X"', "activity #1: key"),
        (
            '[[activity]]\nkey = "x"\nname = "X"\nkind = "lecture"\nwhen = "vecka 3"\ntime = "25:00"',
            "activity 'x': time",
        ),
        (
            '[[activity]]\nkey = "x"\nname = "X"\nkind = "lecture"\nwhen = "vecka 3"\nyears = "odd"',
            "activity 'x': years",
        ),
        (
            '[[activity]]\nkey = "x"\nname = "X"\nkind = "lecture"\nwhen = "vecka 3"\nplase = "A"',
            "activity 'x': plase: unknown key",
        ),
        ('[wheel]\nannounce = "soon"', "[wheel]: announce"),
        (
            '[[activity]]\nkey = "x"\nname = "X"\nkind = "lecture"\nwhen = "vecka 3"\n'
            'except = ["julafton"]',
            "activity 'x': except",
        ),
        ("[[activity]\n", "not valid TOML"),
    ],
)
def test_validation_names_the_activity_and_the_key(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as raised:
        parse_template(source)
    assert message in str(raised.value)


PARTY = """
[wheel]
announce = "3w"
[[activity]]
key = "film"
name = "Film"
kind = "social"
when = "sista fredagen i varje månad"
time = "18:30"
place = "Sosserian"
[[activity]]
key = "kurs"
name = "Kurs"
kind = "study_circle"
when = "tredje lördagen i mars och oktober"
[[activity]]
key = "forening"
name = "Föreningsträff"
kind = "social"
when = "första måndagen i juni"
run_in = ["association"]
"""

BRANCH = """
[[activity]]
key = "film"
place = "Folkets hus"
time = "19:00"
[[activity]]
key = "egen"
name = "Egen aktivitet"
kind = "lecture"
when = "15 maj"
"""


def test_inheritance_local_override_skip_move_and_own_items() -> None:
    party = parse_template(PARTY)
    branch = parse_template(BRANCH, inherited=party.keys())
    skip_course = Adjustment(3, "kurs", AdjustmentKind.SKIP)
    moved = Adjustment(
        3, "film", AdjustmentKind.MOVE, date(2026, 4, 24), new_start="2026-04-30T19:00"
    )
    skipped_once = Adjustment(3, "film", AdjustmentKind.SKIP, date(2026, 5, 29))
    layers = [
        Layer(1, "party", party),
        Layer(2, "district", None),
        Layer(3, "branch", branch, (skip_course, moved, skipped_once)),
    ]
    items = {item.activity.key: item for item in effective_wheel(layers, "branch")}
    assert set(items) == {"film", "egen"}  # kurs skipped, forening is for associations
    film = items["film"]
    assert (film.origin, film.changed_by) == ("party", ("branch",))
    assert (film.activity.place, film.activity.at) == ("Folkets hus", time(19, 0))
    assert items["egen"].origin == "branch"
    occurrences = [
        o
        for o in expand(items.values(), *year_bounds(2026, STOCKHOLM), STOCKHOLM)
        if o.key == "film"
    ]
    local = [o.start.astimezone(STOCKHOLM) for o in occurrences]
    assert datetime(2026, 4, 30, 19, tzinfo=STOCKHOLM) in local  # moved
    assert all(d.date() not in (date(2026, 4, 24), date(2026, 5, 29)) for d in local)
    assert len(occurrences) == 11
    # The rest of the series is untouched, and keeps its local hour through both DST changes.
    assert {d.time() for d in local} == {time(19, 0)}
    # Where nothing is changed the party's values hold, and the association gets its own item.
    plain = {i.activity.key: i for i in effective_wheel(layers[:2], "branch")}
    assert plain["film"].activity.place == "Sosserian" and "forening" not in plain
    association = {i.activity.key for i in effective_wheel(layers[:2], "association")}
    assert association == {"forening"}


def test_a_partial_entry_without_an_inherited_item_is_refused() -> None:
    with pytest.raises(TemplateError, match="activity 'film': name: missing"):
        parse_template(BRANCH)


def test_expansion_converts_each_occurrence_on_its_own_side_of_dst() -> None:
    items = effective_wheel([Layer(1, "p", parse_template(PARTY))], "branch")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = datetime(2026, 11, 30, tzinfo=UTC)
    films = [o for o in expand(items, start, end, STOCKHOLM) if o.key == "film"]
    utc_hours = {o.start.month: o.start.hour for o in films}
    assert utc_hours[3] == 17 and utc_hours[4] == 16 and utc_hours[10] == 17  # 27 March is CET


def test_the_picture_bands_weekly_items_and_lists_the_others_with_names_and_dates() -> None:
    from bot.i18n import Translator
    from bot.render.wheel_picture import wheel_layout

    items = effective_wheel(_levels(), "branch")
    occurrences = expand(items, *year_bounds(2026, STOCKHOLM), STOCKHOLM)
    layout = wheel_layout(occurrences, year=2026, zone=STOCKHOLM, t=Translator("sv"))
    # The weekly open house (45 Thursdays) is one band, broken only by the July break.
    (band,) = layout.bands
    assert band.name == "Öppet hus i Sosserian"
    assert [(b.month, e.month) for b, e in band.spans] == [(1, 6), (8, 12)]
    lines = [text for text, _ in layout.lines]
    assert lines[0] == "▬ Öppet hus i Sosserian: varje torsdag"
    # The others are numbered on the wheel and listed with their names and dates.
    assert "Årsmöte: 19 mars" in " ".join(lines)
    assert any(line.endswith("Kampanjvecka: samtal vid dörren: 20 apr–24 apr") for line in lines)
    assert any(line.endswith("Medlemsutbildning steg 1: 21 mars, 17 okt") for line in lines)
    # An item with many dates is listed by its rule, not by eight dates.
    assert any(
        line.endswith("Filmklubben Kafé Cinea(S): sista fredagen i varje månad") for line in lines
    )
    assert [m.number for m in layout.marks] == list(range(1, len(layout.marks) + 1))
    assert len(lines) == len({o.key for o in occurrences})


def test_the_districts_courses_become_circles_of_their_kind() -> None:
    from bot.circles.model import EducationKind
    from bot.wheel.service import education_kind

    assert education_kind("Medlemsutbildning steg 2") is EducationKind.MEMBER_EDUCATION_2
    assert (
        education_kind("Funktionsutbildning för nyvalda i styrelserna") is EducationKind.LEADERSHIP
    )
