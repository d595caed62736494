"""Swedish wording a member reads, where no transcript walks the path (issue 17)."""

from __future__ import annotations

from bot.domain.organisations import Organisation, OrgKind
from bot.formatting import zone_name
from bot.i18n import Translator
from bot.welcome.views import association_step

SV = Translator("sv")
BRANCH = Organisation(slug="gavle", name="Gävle arbetarekommun", kind=OrgKind.BRANCH, id=4)
ASSOCIATION = Organisation(
    slug="gavle-syd", name="S-föreningen Gävle Syd", kind=OrgKind.ASSOCIATION, id=7
)


def test_the_local_association_step_reads_naturally() -> None:
    own = association_step(SV, BRANCH, ASSOCIATION, [], "1").plain_text
    assert own == (
        "Din S-förening är S-föreningen Gävle Syd, en del av Gävle arbetarekommun. Där träffas "
        "medlemmarna i ditt närområde – du är välkommen på föreningens träffar."
    )
    none = association_step(SV, BRANCH, None, [], "1").plain_text
    assert (
        none
        == "Din lokala organisation är Gävle arbetarekommun. Där hör du hemma – välkommen på träffarna!"
    )


def test_the_stockholm_zone_is_swedish_time() -> None:
    assert zone_name("Europe/Stockholm", SV) == "svensk tid"
    assert zone_name("Europe/Stockholm", Translator("en")) == "Swedish time"
    assert zone_name("Europe/Helsinki", SV) == "Europe/Helsinki"
