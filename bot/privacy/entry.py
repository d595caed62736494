"""/mina_uppgifter and /glom_mig: a person sees everything stored about them, and can erase it.

Export and erasure walk every table that points at a person (storage finds
them from the schema), so a capability added later is covered without
anyone remembering to add it here. Give a new table a readable name in
`RECORD_LABELS`. An export holds the person's own rows, the messages sent to
them, and of other people's records only which ones name them and how
("named_in"); erasure keeps counts only.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from bot.context import Context
from bot.domain.organisations import DEFAULT_TIMEZONE
from bot.formatting import day
from bot.i18n import N_, Translator
from bot.membership.model import role_name
from bot.messages import Action, Attachment, Button, MessageBuilder, bold, message
from bot.privacy.service import export_person
from bot.register import views as register_views
from bot.registry import Access, CommandSpec, Registry

RECORD_LABELS: dict[str, str] = {
    "identities": N_("Accounts"),
    "affiliations": N_("Organisations you follow"),
    "role_assignments": N_("Roles"),
    "consents": N_("Consents"),
    "link_codes": N_("Codes for connecting accounts"),
    "button_actions": N_("Buttons sent to you"),
    "dialogs": N_("Things you were filling in"),
    "meeting_rsvps": N_("Answers to meetings"),
    "meeting_attendance": N_("Meetings you attended"),
    "meeting_feedback": N_("Ratings of meetings"),
    "meeting_contributions": N_("Your contributions to conversations"),
    "meetings": N_("Meetings you planned"),
    "poll_participation": N_("Polls you voted in (never what you chose in anonymous ones)"),
    "poll_ballots": N_("Your votes in polls with visible votes"),
    "polls": N_("Polls you created"),
    "circle_enrolments": N_("Study circle sign-ups"),
    "circle_attendance": N_("Study circle attendance"),
    "circle_changes": N_("Changes to study circles"),
    "circles": N_("Study circles you lead or created"),
    "welcome_flows": N_("Your introduction as a new member"),
    "guest_invitations": N_("Invitations to become a member"),
    "wheel_rsvps": N_("Answers to annual-wheel activities"),
    "wheel_adjustments": N_("Annual-wheel changes you made"),
    "wheel_templates": N_("Annual-wheel templates you imported"),
    "conversation_reports": N_("Voter conversations you reported"),
    "organisation_goals": N_("Goals you set for an organisation"),
    "announcements": N_("Announcements you wrote"),
    "calendar_feeds": N_("Your calendar link (only a fingerprint of it)"),
    "channel_choices": N_("Whether you get messages by chat or by email"),
    "register_entries": N_("Your entry in the member register"),
    "consultations": N_("Rådslag you opened"),
    "consultation_answers": N_("Your answers in rådslag, drafts included"),
    "consultation_contributions": N_("What you said at meetings on a rådslag"),
    "consultation_branch_answers": N_("Branch answers to rådslag you wrote"),
    "consultation_submissions": N_("Branch answers to rådslag you submitted"),
    "shift_signups": N_("Campaign shifts you signed up for"),
    "shift_reports": N_("Your reports after campaign shifts"),
    "campaign_shifts": N_("Campaign shifts you lead"),
    "campaigns": N_("Campaigns you started"),
    "outbox": N_("Messages I sent you in the last 30 days"),
    "named_in": N_("Other people's records that name you, e.g. as contact person"),
}


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "mina_uppgifter",
            "mydata",
            N_("Everything stored about you"),
            show_my_data,
            Access.ANYONE,
        )
    )
    registry.command(
        CommandSpec("glom_mig", "forgetme", N_("Erase your data"), forget_me, Access.ANYONE)
    )
    registry.action("privacy.erase", erase_confirmed, Access.ANYONE, args=())
    registry.action("privacy.keep", keep, Access.ANYONE, args=())


async def show_my_data(ctx: Context, args: str) -> None:
    if not ctx.chat.is_private:
        await ctx.reply(
            message(ctx.t("Your data is private: write /mina_uppgifter to me directly."))
        )
        return
    _ = ctx.t
    person = ctx.person
    zone = ctx.org.zone if ctx.org else ZoneInfo(DEFAULT_TIMEZONE)
    text = MessageBuilder().line(bold(_("What I know about you")))
    text.line(_("Name: {name}").format(name=person.display_name))
    status = _("member") if person.status.value == "member" else _("guest")
    text.line(_("Status: {status}").format(status=status))
    language = {"sv": "svenska", "en": "English"}.get(
        person.language or "", _("your organisation's")
    )
    text.line(_("Language: {language}").format(language=language))
    identities = await ctx.uow.people.identities_of(ctx.person_id)
    accounts = ", ".join(f"{i.platform} ({i.username or i.external_id})" for i in identities)
    text.line(_("Accounts: {accounts}").format(accounts=accounts))
    for affiliation in await ctx.uow.people.affiliations_of(ctx.person_id):
        org = await ctx.uow.orgs.get(affiliation.org_id)
        if org is not None:
            since = day(affiliation.since, zone, _)
            text.line(_("You follow {org} since {date}.").format(org=org.name, date=since))
    for assignment in await ctx.uow.people.roles_of(ctx.person_id):
        org = await ctx.uow.orgs.get(assignment.org_id)
        text.line(
            _("Role: {role} in {org}").format(
                role=role_name(_, assignment.role), org=org.name if org else "?"
            )
        )
    for consent in await ctx.uow.people.consents_of(ctx.person_id):
        when = day(consent.given_at, zone, _)
        text.line(
            _("Consent given {date} (privacy text version {version}).").format(
                date=when, version=consent.version
            )
        )
    entry = await ctx.uow.register.of_person(ctx.person_id)
    if entry is not None:
        home = await ctx.uow.orgs.get(entry.org_id)
        for line in register_views.privacy_lines(_, entry, home.name if home else "?"):
            text.line(line)
    records = await export_person(ctx.uow, ctx.person_id)
    others = _other_records(_, records)
    if others:
        text.paragraph(bold(_("Also stored")))
        for line in others:
            text.line(line)
    text.paragraph(_("Everything is in the attached file. To erase it all, write /glom_mig."))
    payload = json.dumps(records, ensure_ascii=False, indent=2).encode("utf-8")
    text.attach(Attachment("samtal-mina-uppgifter.json", "application/json", payload))
    await ctx.reply(text.build())


def _other_records(t: Translator, records: dict[str, Any]) -> list[str]:
    shown_above = {"people", "identities", "affiliations", "role_assignments", "consents"}
    lines = []
    for table, rows in sorted(records.items()):
        if table in shown_above:
            continue
        label = t(RECORD_LABELS[table]) if table in RECORD_LABELS else table.replace("_", " ")
        lines.append(f"{label}: {len(rows)}")
    return lines


async def forget_me(ctx: Context, args: str) -> None:
    if not ctx.chat.is_private:
        await ctx.reply(message(ctx.t("Write /glom_mig to me directly, not in the group.")))
        return
    await ctx.reply(
        message(
            bold(ctx.t("Erase everything about you?")),
            "\n",
            ctx.t(
                "Your accounts, the organisations you follow, your roles, answers, sign-ups, "
                "attendance and contributions are removed for good. Votes in anonymous polls "
                "stay counted but were never linked to you. This cannot be undone."
            ),
            buttons=[
                [
                    Button(ctx.t("Yes, erase everything"), Action("privacy.erase")),
                    Button(ctx.t("No, keep it"), Action("privacy.keep")),
                ]
            ],
        )
    )


async def erase_confirmed(ctx: Context, args: tuple[str, ...]) -> None:
    t = ctx.t  # keep the language: the person's settings are about to go
    await ctx.erase_self()
    await ctx.reply(
        message(
            t(
                "Done. I have erased everything about you. Thank you for the time you spent "
                "here; you are welcome back any time with /start."
            )
        )
    )


async def keep(ctx: Context, args: tuple[str, ...]) -> None:
    await ctx.reply(message(ctx.t("Good, nothing was erased.")))
