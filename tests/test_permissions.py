"""The whole permission matrix, walked through the real command path.

Every command and button action that needs a permission is tried by a person
holding each role, in their own organisation, below it (roles reach down) and
beside it (roles do not reach sideways or up). Only the table in
bot/permissions.py decides the outcome.
"""

from __future__ import annotations

import hashlib

from bot.domain.delivery import ButtonAction
from bot.domain.organisations import Channel
from bot.domain.people import Role
from bot.i18n import Translator
from bot.permissions import ROLE_PERMISSIONS, Permission
from bot.registry import Access
from tests.conftest import START, Console

_ = Translator("sv")
STALE = "Den knappen fungerar inte längre"
DENIED = _("Only organisers with the right role in {org} can do that.").split("{org}")[0]
NOT_MEMBER = _(
    "This is for members. You are welcome at every open activity; "
    "ask an organiser if you would like to join the party."
).split(".")[0]

# (console name, role held, where it is held) from the demo data
PEOPLE: list[tuple[str, Role | None, str | None]] = [
    ("david", None, None),  # a guest
    ("anna", None, None),  # a member
    ("bertil", Role.ORGANISER, "sandviken"),
    ("cecilia", Role.MEMBER_OFFICER, "sandviken"),
    ("erik", Role.STUDY_ORGANISER, "sandviken"),
    ("sara", Role.ADMIN, "gavleborg"),  # the district: reaches every branch below
    ("fatima", Role.ORGANISER, "gavle"),  # a sibling branch: reaches nothing in Sandviken
]
# channel -> the organisations whose roles apply there
CHANNELS = {
    "allmant": {"sandviken", "gavleborg", "socialdemokraterna"},  # bound to sandviken
    "jarbo": {"jarbo", "sandviken", "gavleborg", "socialdemokraterna"},  # an association below it
    "gavle": {"gavle", "gavleborg", "socialdemokraterna"},
}


def expected_allowed(
    permission: Permission, role: Role | None, where: str | None, channel: str
) -> bool:
    return role is not None and where in CHANNELS[channel] and permission in ROLE_PERMISSIONS[role]


async def _bind_jarbo(console: Console) -> None:
    async with console.database.unit_of_work() as uow:
        jarbo = await uow.orgs.by_slug("jarbo")
        assert jarbo is not None and jarbo.id is not None
        await uow.orgs.bind_channel(Channel("console", "jarbo", jarbo.id, "jarbo"))
        await uow.commit()


async def test_every_guarded_command_follows_the_table(console: Console) -> None:
    await _bind_jarbo(console)
    guarded = [
        spec for spec in console.samtal.registry.commands if isinstance(spec.requires, Permission)
    ]
    assert guarded, "no command needs a permission: the test would prove nothing"
    checked = 0
    for spec in guarded:
        assert isinstance(spec.requires, Permission)
        for name, role, where in PEOPLE:
            for channel in CHANNELS:
                output = await console.said(f"@{name}#{channel}: /{spec.swedish}")
                await console.run(f"@{name}#{channel}: /avbryt")
                allowed = expected_allowed(spec.requires, role, where, channel)
                assert (DENIED not in output) == allowed, (spec.swedish, name, channel, output)
                checked += 1
    assert checked == len(guarded) * len(PEOPLE) * len(CHANNELS)


async def test_member_only_commands_refuse_guests_kindly(console: Console) -> None:
    for spec in console.samtal.registry.commands:
        if spec.requires is Access.MEMBER:
            assert NOT_MEMBER in await console.said(f"@david: /{spec.swedish}")
            assert NOT_MEMBER not in await console.said(f"@anna: /{spec.swedish}")
            await console.run("@anna: /avbryt")


async def test_every_guarded_button_follows_the_table(console: Console) -> None:
    await _bind_jarbo(console)
    actions = {
        name: spec.requires
        for name, spec in console.samtal.registry.actions.items()
        if isinstance(spec.requires, Permission)
    }
    assert actions, "no button needs a permission: the test would prove nothing"
    for action, permission in actions.items():
        assert isinstance(permission, Permission)
        for name, role, where in PEOPLE:
            for channel in CHANNELS:
                token = "t" + hashlib.sha1(f"{action}-{name}-{channel}".encode()).hexdigest()[:24]
                async with console.database.unit_of_work() as uow:
                    await uow.buttons.add(
                        ButtonAction(token, action, ["0"], "console", channel, created_at=START)
                    )
                    await uow.commit()
                console.gateway.delivered.append(_fake_delivery(channel, token))
                output = await console.said(f"@{name}#{channel}: [{token}]")
                allowed = expected_allowed(permission, role, where, channel)
                if allowed:
                    assert DENIED not in output, (action, name, channel, output)
                else:
                    # A button with declared arguments is read first: its "0" names nothing,
                    # so the one who may not press it learns only that it no longer works.
                    assert DENIED in output or STALE in output, (action, name, channel, output)


def _fake_delivery(channel: str, token: str):  # type: ignore[no-untyped-def]
    """Puts a button with that token where the console can see it, as if the bot had posted it."""
    from adapters.console.app import Delivered
    from bot.messages import Button, OutgoingMessage

    return Delivered(channel, False, OutgoingMessage((), ((Button(token, token=token),),)))
