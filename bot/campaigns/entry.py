"""Campaigns in chat: /kampanj (campaigns and their shifts, sign up), /ny_kampanj (also from an
annual-wheel item: /ny_kampanj kampanjvecka-var), /nytt_pass, /pass (your shifts, and who has
reported on the shifts you lead), and the organiser's buttons: overview, nudge, figures with
a chart, export.

Thin: the work is in `bot.campaigns.service`, the words in `bot.campaigns.views`, the dialogs
in `bot.campaigns.dialogs`. Buttons declare their arguments (`bot.actions`): the core loads
the campaign or shift and checks an organiser's permission in its organisation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.announcements.service import ORGANISATION
from bot.campaigns import views
from bot.campaigns.dialogs import NEW_CAMPAIGN, NEW_SHIFT, REPORT, NewCampaign, NewShift, Report
from bot.campaigns.model import (
    PROMPT_USEFUL,
    SHOWN_AFTER,
    Campaign,
    CampaignKind,
    SignupState,
    totals,
    waitlist_position,
)
from bot.campaigns.service import (
    CAMPAIGN,
    PROMPT,
    REMINDER,
    SHIFT,
    check_may_join,
    export_csv,
    give_up_places,
    is_participant,
    kind_of,
    lead_name,
    nudge,
    org_of,
    prompt,
    remind,
    reminder_useful_until,
    report_rows,
    shift_view,
    shift_views,
    sign_up,
    withdraw,
    year_campaigns,
)
from bot.context import Context, Refusal
from bot.domain.organisations import Organisation
from bot.formatting import local
from bot.i18n import N_
from bot.meetings.service import hosting_orgs, reader_zone, visible_org_ids
from bot.messages import Attachment, MessageBuilder, message
from bot.parsing import parse_id
from bot.permissions import Permission
from bot.registry import CommandSpec, Registry, within
from bot.wheel.model import ActivityKind, expand
from bot.wheel.service import effective_items

MANAGE = Permission.MANAGE_MEETINGS
MAX_LISTED = 5
WHEEL_AHEAD = timedelta(days=120)  # the wheel's campaign weeks offered by /ny_kampanj


def setup(registry: Registry) -> None:
    registry.command(
        CommandSpec(
            "kampanj",
            "campaigns",
            N_("Campaigns and their shifts: sign up"),
            list_campaigns,
            usage=N_("[number]"),
        )
    )
    registry.command(
        CommandSpec(
            "ny_kampanj",
            "newcampaign",
            N_("Start a campaign (door knocking, workplace visits…), also from the annual wheel"),
            new_campaign,
            MANAGE,
            usage=N_("[wheel key]"),
        )
    )
    registry.command(
        CommandSpec(
            "nytt_pass",
            "newshift",
            N_("Add a shift to a campaign"),
            new_shift,
            MANAGE,
            usage=N_("number"),
        )
    )
    registry.command(
        CommandSpec("pass", "shifts", N_("Your campaign shifts, and the ones you lead"), my_shifts)
    )
    registry.action(views.SIGNUP, signup_button, args=(SHIFT,))
    registry.action(views.WITHDRAW, withdraw_button, args=(SHIFT,))
    registry.action(views.REPORT, report_button, args=(SHIFT,))
    registry.action(views.OVERVIEW, overview_button, MANAGE, args=(CAMPAIGN,))
    registry.action(views.ADD_SHIFT, add_shift_button, MANAGE, args=(CAMPAIGN,))
    registry.action(views.NUDGE, nudge_button, MANAGE, args=(CAMPAIGN,))
    registry.action(views.FIGURES, figures_button, Permission.VIEW_STATS, args=(CAMPAIGN,))
    registry.action(views.EXPORT, export_button, MANAGE, args=(CAMPAIGN,))
    registry.action(views.FROM_WHEEL, from_wheel_button, MANAGE, args=(ORGANISATION, str))
    registry.dialog(NEW_CAMPAIGN)
    registry.dialog(NEW_SHIFT)
    registry.dialog(REPORT)
    registry.timer(REMINDER, remind, useful_until=reminder_useful_until)
    registry.timer(PROMPT, prompt, useful_until=within(PROMPT_USEFUL))
    registry.before_erase(give_up_places)


# --- /kampanj --------------------------------------------------------------------------------


async def list_campaigns(ctx: Context, args: str) -> None:
    _ = ctx.t
    org_ids = await visible_org_ids(ctx)
    home = ctx.org or await ctx.home_org(ctx.person)
    today = local(ctx.now, home.zone).date() if home else ctx.now.date()
    wanted = args.strip().lstrip("#")
    if wanted:  # one campaign, also after it has ended
        number = parse_id(wanted)
        campaign = await ctx.uow.campaigns.get(number) if number else None
        if campaign is None or campaign.org_id not in org_ids:
            raise Refusal(_("There is no campaign with number {n}.").format(n=wanted))
        found = [campaign]
    else:
        found = list(await ctx.uow.campaigns.current(org_ids, today)) if org_ids else []
    if not found:
        await ctx.reply(message(_("No campaigns are running right now.")))
        return
    for campaign in found[:MAX_LISTED]:
        await _show_campaign(ctx, campaign)


async def _show_campaign(ctx: Context, campaign: Campaign) -> None:
    org = await org_of(ctx, campaign)
    organiser = ctx.chat.is_private and MANAGE in await ctx.permissions(org)
    await ctx.reply(views.campaign_card(ctx.t, campaign, org.name, organiser=organiser))
    zone = await reader_zone(ctx, ctx.person, org)
    for view in await shift_views(ctx, campaign):
        if view.shift.starts_at <= ctx.now:
            continue
        mine = next((s for s in view.signups if s.person_id == ctx.person_id), None)
        await ctx.reply(
            views.shift_card(
                ctx.t,
                campaign,
                view.shift,
                zone,
                await lead_name(ctx, view.shift),
                view.signups,
                mine=mine,
            )
        )


# --- Signing up ---------------------------------------------------------------------------------


async def signup_button(ctx: Context, args: tuple[Any, ...]) -> None:
    (found,) = args
    campaign, shift = found.campaign, found.shift
    check_may_join(ctx, campaign, shift)
    signup, new = await sign_up(ctx, shift, ctx.person)
    if not new:
        raise Refusal(
            ctx.t("You are already signed up for that shift.")
            if signup.state is SignupState.SIGNED_UP
            else ctx.t("You are already on that shift's waitlist.")
        )
    position = waitlist_position(await ctx.uow.campaigns.signups(shift.id), ctx.person_id) or 0
    zone = await reader_zone(ctx, ctx.person, await org_of(ctx, campaign))
    await ctx.reply(views.signed(ctx.t, campaign, shift, zone, signup, position))


async def withdraw_button(ctx: Context, args: tuple[Any, ...]) -> None:
    (found,) = args
    if found.shift.starts_at <= ctx.now:
        raise Refusal(ctx.t("That shift has already started."))
    if not await withdraw(ctx, found.campaign, found.shift, ctx.person):
        raise Refusal(ctx.t("You weren't signed up for that shift."))
    await ctx.reply(message(ctx.t("You are no longer signed up for the shift. Thanks for saying!")))


# --- Reporting ----------------------------------------------------------------------------------


async def report_button(ctx: Context, args: tuple[Any, ...]) -> None:
    (found,) = args
    campaign, shift = found.campaign, found.shift
    view = await shift_view(ctx, shift)
    if not is_participant(view, ctx.person_id):
        raise Refusal(ctx.t("Only those who took part in the shift can report it."))
    if shift.starts_at > ctx.now:
        raise Refusal(ctx.t("You can report once the shift has started."))
    assert shift.id is not None
    await REPORT.start(
        ctx,
        Report(
            shift.id,
            doors_asked=campaign.kind is CampaignKind.DOOR,
            choosable=list(campaign.topics),
        ),
    )


# --- /pass ------------------------------------------------------------------------------------------


async def my_shifts(ctx: Context, args: str) -> None:
    _ = ctx.t
    shown = 0
    for signup in await ctx.uow.campaigns.signups_of(ctx.person_id):
        shift = await ctx.uow.campaigns.shift(signup.shift_id)
        if shift is None or shift.ends_at + SHOWN_AFTER <= ctx.now:
            continue
        campaign = await ctx.uow.campaigns.get(shift.campaign_id)
        assert campaign is not None
        zone = await reader_zone(ctx, ctx.person, await org_of(ctx, campaign))
        view = await shift_view(ctx, shift)
        await ctx.reply(
            views.shift_card(
                _,
                campaign,
                shift,
                zone,
                await lead_name(ctx, shift),
                view.signups,
                mine=signup,
                started=shift.starts_at <= ctx.now,
            )
        )
        shown += 1
    shown += await _led_shifts(ctx)
    if not shown:
        await ctx.reply(message(_("You have no shifts. See the campaigns with /kampanj.")))


async def _name(ctx: Context, person_id: int) -> str:
    person = await ctx.uow.people.get(person_id)
    return person.display_name if person is not None else "?"


async def _led_shifts(ctx: Context) -> int:
    """The shifts this person leads, with who has reported and who has not yet."""
    shown = 0
    org_ids = await visible_org_ids(ctx)
    for campaign in await ctx.uow.campaigns.of_orgs(org_ids) if org_ids else []:
        for view in await shift_views(ctx, campaign):
            shift = view.shift
            if shift.lead_id != ctx.person_id or shift.ends_at + SHOWN_AFTER <= ctx.now:
                continue
            expected = [s.person_id for s in view.signups if s.state is SignupState.SIGNED_UP]
            reported = [p for p in view.reported if p is not None]
            names = {p: await _name(ctx, p) for p in [*expected, *reported]}
            not_yet = [names[p] for p in expected if p not in reported]
            reported_names = [names[p] for p in reported]
            zone = await reader_zone(ctx, ctx.person, await org_of(ctx, campaign))
            await ctx.reply(views.lead_view(ctx.t, campaign, shift, zone, reported_names, not_yet))
            shown += 1
    return shown


# --- Organisers -------------------------------------------------------------------------------------


async def new_campaign(ctx: Context, args: str) -> None:
    _ = ctx.t
    if not ctx.chat.is_private and ctx.answered_elsewhere:
        raise Refusal(_("Let's plan it in private: write /ny_kampanj to me directly."))
    hosts = await hosting_orgs(ctx)
    if not hosts:
        raise Refusal(_("You can't start campaigns anywhere."))
    wanted = args.strip().lower()
    org = next((o for o in hosts if o.slug == wanted), hosts[0])
    assert org.id is not None
    draft = NewCampaign(org_id=org.id)
    if wanted and org.slug != wanted:
        await _from_wheel(ctx, org, wanted, draft)
    elif not wanted:
        await _offer_wheel(ctx, org)
    lead = _("A new campaign in {org}.").format(org=org.name)
    await NEW_CAMPAIGN.start(ctx, draft, lead=lead)


async def _offer_wheel(ctx: Context, org: Organisation) -> None:
    """The annual wheel's campaign weeks coming up, each a button that fills in a new one."""
    items = [
        i for i in await effective_items(ctx.uow, org) if i.activity.kind is ActivityKind.CAMPAIGN
    ]
    upcoming = expand(items, ctx.now, ctx.now + WHEEL_AHEAD, org.zone)[:MAX_LISTED]
    if upcoming:
        await ctx.reply(views.wheel_offer(ctx.t, org, upcoming))


async def from_wheel_button(ctx: Context, args: tuple[Any, ...]) -> None:
    org, key = args
    assert org.id is not None
    draft = NewCampaign(org_id=org.id)
    await _from_wheel(ctx, org, key, draft)
    lead = ctx.t("A new campaign in {org}.").format(org=org.name)
    await NEW_CAMPAIGN.start(ctx, draft, lead=lead)


async def _from_wheel(ctx: Context, org: Organisation, key: str, draft: NewCampaign) -> None:
    """Fills in the draft from the annual wheel's item `key`: its next occurrence."""
    item = next((i for i in await effective_items(ctx.uow, org) if i.activity.key == key), None)
    if item is None:
        raise Refusal(
            ctx.t(
                "There is no activity {key} in the annual wheel of {org}. See /arshjul lista."
            ).format(key=key, org=org.name)
        )
    upcoming = expand([item], ctx.now, ctx.now + timedelta(days=400), org.zone)
    if not upcoming:
        raise Refusal(ctx.t("{key} has no date ahead in the annual wheel.").format(key=key))
    occurrence = upcoming[0]
    draft.name = item.activity.name
    draft.kind = kind_of(item.activity.name + " " + item.activity.theme)
    draft.starts_on = local(occurrence.start, org.zone).date()
    long = occurrence.end - occurrence.start >= timedelta(days=1)
    last = occurrence.end - timedelta(days=1) if long else occurrence.start
    draft.ends_on = local(last, org.zone).date()
    draft.wheel_item = key


async def new_shift(ctx: Context, args: str) -> None:
    _ = ctx.t
    number = parse_id(args.strip().lstrip("#"))
    campaign = await ctx.uow.campaigns.get(number) if number else None
    if campaign is None:
        raise Refusal(_("Write the campaign's number, e.g. /nytt_pass 1. See them with /kampanj."))
    await _start_shift(ctx, campaign)


async def _start_shift(ctx: Context, campaign: Campaign) -> None:
    await ctx.require(MANAGE, await org_of(ctx, campaign))
    if not ctx.chat.is_private and ctx.answered_elsewhere:
        raise Refusal(ctx.t("Let's plan it in private: write /nytt_pass to me directly."))
    assert campaign.id is not None
    await NEW_SHIFT.start(ctx, NewShift(campaign.id))


async def add_shift_button(ctx: Context, args: tuple[Any, ...]) -> None:
    (campaign,) = args
    await _start_shift(ctx, campaign)


async def overview_button(ctx: Context, args: tuple[Any, ...]) -> None:
    (campaign,) = args
    org = await org_of(ctx, campaign)
    zone = await reader_zone(ctx, ctx.person, org)
    rows = [(v.shift, v.signups, len(v.reported)) for v in await shift_views(ctx, campaign)]
    await ctx.reply(views.overview(ctx.t, campaign, org.name, zone, rows))


async def nudge_button(ctx: Context, args: tuple[Any, ...]) -> None:
    (campaign,) = args
    shifts, sent = await nudge(ctx, campaign)
    _ = ctx.t
    if not shifts:
        await ctx.reply(
            message(_("No open shift is left to ask about: each is full, past, or asked already."))
        )
        return
    await ctx.reply(
        message(
            _("Asked {people} about {shifts}.").format(
                people=ctx.t.ngettext(
                    "{n} interested person", "{n} interested people", sent
                ).format(n=sent),
                shifts=ctx.t.ngettext("{n} open shift", "{n} open shifts", shifts).format(n=shifts),
            )
        )
    )


async def figures_button(ctx: Context, args: tuple[Any, ...]) -> None:
    (campaign,) = args
    org = await org_of(ctx, campaign)
    found = totals(await report_rows(ctx, [campaign]))
    year = campaign.starts_on.year
    unions = totals(await report_rows(ctx, await year_campaigns(ctx, org, year)))
    text = views.figures(ctx.t, campaign, found, unions, year)
    charts = views.charts(ctx.t, campaign, found)
    if charts:
        text.attach(charts[0])
    await ctx.reply(text.build())
    for chart in charts[1:]:
        await ctx.reply(MessageBuilder().attach(chart).build())


async def export_button(ctx: Context, args: tuple[Any, ...]) -> None:
    (campaign,) = args
    org = await org_of(ctx, campaign)
    rows = await report_rows(ctx, [campaign])
    data = export_csv(ctx.t, rows, await reader_zone(ctx, ctx.person, org))
    text = MessageBuilder().add(
        ctx.t("The reports of {name}, one line each, without names.").format(name=campaign.name)
    )
    text.attach(Attachment(f"kampanj-{campaign.id}.csv", "text/csv", data))
    await ctx.reply(text.build())
