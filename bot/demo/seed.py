"""Demo data: a small party tree with members, organisers and a guest, ready for the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files

from bot.circles.service import seed_demo_circles
from bot.clock import Clock
from bot.context import Effects
from bot.demo.meetings import seed_demo_meetings
from bot.domain.organisations import Channel, Organisation, OrgKind
from bot.domain.people import (
    Affiliation,
    Consent,
    Identity,
    Person,
    Role,
    RoleAssignment,
    Status,
)
from bot.membership.model import CONSENT_VERSION
from bot.polls.service import seed_demo_poll
from bot.ports import UnitOfWork, UnitOfWorkFactory
from bot.wheel.service import default_template_source, publish_template

CONSOLE = "console"

ORGANISATIONS = (
    # slug, name, kind, parent slug
    ("socialdemokraterna", "Socialdemokraterna", OrgKind.PARTY, None),
    ("gavleborg", "Socialdemokraterna Gävleborg", OrgKind.DISTRICT, "socialdemokraterna"),
    ("sandviken", "Sandvikens arbetarekommun", OrgKind.BRANCH, "gavleborg"),
    ("gavle", "Gävle arbetarekommun", OrgKind.BRANCH, "gavleborg"),
    ("sandviken-centrum", "S-föreningen Sandviken Centrum", OrgKind.ASSOCIATION, "sandviken"),
    ("jarbo", "S-föreningen Järbo", OrgKind.ASSOCIATION, "sandviken"),
    ("gavle-syd", "S-föreningen Gävle Syd", OrgKind.ASSOCIATION, "gavle"),
)

CHANNELS = (("allmant", "sandviken"), ("gavle", "gavle"))


@dataclass(frozen=True)
class DemoPerson:
    name: str
    org: str
    status: Status
    roles: tuple[tuple[Role, str], ...] = ()
    language: str | None = None
    consented: bool = True


PEOPLE = (
    DemoPerson("anna", "sandviken", Status.MEMBER),
    DemoPerson("bertil", "sandviken", Status.MEMBER, ((Role.ORGANISER, "sandviken"),)),
    DemoPerson("cecilia", "sandviken", Status.MEMBER, ((Role.MEMBER_OFFICER, "sandviken"),)),
    DemoPerson("erik", "sandviken-centrum", Status.MEMBER, ((Role.STUDY_ORGANISER, "sandviken"),)),
    DemoPerson("fatima", "gavle", Status.MEMBER, ((Role.ORGANISER, "gavle"),)),
    DemoPerson("sara", "gavleborg", Status.MEMBER, ((Role.ADMIN, "gavleborg"),)),
    DemoPerson("david", "sandviken", Status.GUEST),
    DemoPerson("oliver", "sandviken", Status.MEMBER, language="en"),
    # The party office: opens rådslag for the whole party (bot/consultations).
    DemoPerson(
        "per", "socialdemokraterna", Status.MEMBER, ((Role.ORGANISER, "socialdemokraterna"),)
    ),
)


async def seed_demo_wheel(uow: UnitOfWork, now: datetime, orgs: dict[str, Organisation]) -> None:
    """The wheel by level: the party's and the district's defaults, and Sandviken's own items
    (its premises, film club and lectures) in its own template. No branch runs it until it
    starts it (/arshjul_start), so the demo's other flows see no announcements of it."""
    await publish_template(uow, now, orgs["socialdemokraterna"], default_template_source("party"))
    await publish_template(uow, now, orgs["gavleborg"], default_template_source("district"))
    sandviken = files("bot.demo").joinpath("sandviken_wheel.toml").read_text(encoding="utf-8")
    await publish_template(uow, now, orgs["sandviken"], sandviken)


async def seed_demo(uow_factory: UnitOfWorkFactory, clock: Clock) -> bool:
    """Seeds the demo tree; False if it is there already (running it twice changes nothing)."""
    now = clock.now()
    async with uow_factory() as uow:
        if await uow.orgs.by_slug("sandviken") is not None:
            return False
        orgs: dict[str, Organisation] = {}
        for slug, name, kind, parent in ORGANISATIONS:
            parent_id = orgs[parent].id if parent else None
            orgs[slug] = await uow.orgs.add(
                Organisation(slug=slug, name=name, kind=kind, parent_id=parent_id, created_at=now)
            )
        for chat_id, slug in CHANNELS:
            org_id = orgs[slug].id
            assert org_id is not None
            await uow.orgs.bind_channel(Channel(CONSOLE, chat_id, org_id, chat_id))
        for demo in PEOPLE:
            person = await uow.people.add(
                Person(
                    display_name=demo.name.capitalize(),
                    status=demo.status,
                    language=demo.language,
                    created_at=now,
                )
            )
            assert person.id is not None
            await uow.people.add_identity(
                Identity(person.id, CONSOLE, demo.name, username=demo.name, created_at=now)
            )
            home = orgs[demo.org].id
            assert home is not None
            await uow.people.affiliate(Affiliation(person.id, home, since=now))
            for role, slug in demo.roles:
                org_id = orgs[slug].id
                assert org_id is not None
                await uow.people.grant(RoleAssignment(person.id, org_id, role, granted_at=now))
            if demo.consented:
                await uow.people.add_consent(Consent(person.id, CONSENT_VERSION, given_at=now))
        await seed_demo_meetings(uow, clock)
        await seed_demo_circles(uow, clock)
        await seed_demo_wheel(uow, now, orgs)
        await seed_demo_poll(Effects(uow, clock))
        await uow.commit()
    return True
