"""The member register's use cases: the import, linking a chat account to an imported
member, unpaid fees and the figures. The CLI (`samtal members import`) and the chat
commands (bot/register/entry.py) both come here.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

from bot.context import Context, Effects
from bot.domain.delivery import Timer
from bot.domain.organisations import Organisation
from bot.domain.people import LinkCode, Person
from bot.membership.linking import CODE_ALPHABET, CODE_LENGTH, CODE_LIFETIME
from bot.polls.service import merge_votes
from bot.register import views
from bot.register.model import (
    EntryStatus,
    FileRefused,
    ImportReport,
    KnownEntry,
    MemberRow,
    NewMember,
    Refused,
    RegisterEntry,
    due_reminder,
    duplicates,
    is_new_member,
    member_number,
    read_row,
    tombstone,
    unpaid,
)
from bot.register.reader import RegisterFile
from bot.welcome.service import branch_of, flow_for
from bot.welcome.service import start as start_welcome

BATCH = 1000  # rows compared and written together
JOIN_PAYLOAD = "reg"
WELCOME_TIMER = "register.welcome"  # /start reg_<token>: her personal join link


@dataclass(frozen=True)
class JoinLinks:
    """Where new members join: the bot's Telegram username and the Discord invite."""

    telegram_username: str = ""
    discord_invite: str = ""

    def telegram(self, token: str) -> str:
        if not self.telegram_username:
            return ""
        return f"https://t.me/{self.telegram_username}?start={JOIN_PAYLOAD}_{token}"


async def _scope(fx: Effects, org: Organisation) -> list[Organisation]:
    assert org.id is not None
    return list(await fx.uow.orgs.subtree(org.id))


def _org_for(row: MemberRow, scope: Sequence[Organisation], org: Organisation) -> int | None:
    """The organisation a row names (a slug or a name in scope), else the imported one."""
    if row.org_ref is None:
        return org.id
    wanted = row.org_ref.casefold()
    for candidate in scope:
        if wanted in (candidate.slug.casefold(), candidate.name.casefold()):
            return candidate.id
    return None


def _since(row: MemberRow, org: Organisation, now: datetime) -> datetime:
    if row.joined_on is None:
        return now
    return min(datetime.combine(row.joined_on, time(12), org.zone).astimezone(UTC), now)


async def import_register(
    fx: Effects,
    org: Organisation,
    file: RegisterFile,
    *,
    key: bytes,
    links: JoinLinks,
    full: bool = True,
) -> ImportReport:
    """Upserts the file's members into `org` and below; raises `FileRefused` for the file.
    New members' welcomes are timers, due at once: the running bot sends them.

    The caller commits (or, for a dry run, doesn't): everything or nothing.
    """
    report = ImportReport()
    if file.ignored:
        report.notes.append(f"ignored columns: {', '.join(file.ignored)}")
    if "mobile" in file.fields or any(h.casefold().startswith("mobil") for h in file.ignored):
        report.notes.append("the mobile numbers were read but not stored (not needed)")
    twice = duplicates((line, member_number(cell)) for line, cell in file.numbers())
    if twice:
        shown = "; ".join(
            f"{number} on lines {', '.join(map(str, lines))}"
            for number, lines in list(twice.items())[:5]
        )
        more = f" and {len(twice) - 5} more" if len(twice) > 5 else ""
        raise FileRefused(f"member numbers appear twice: {shown}{more}. Nothing was imported.")
    scope = await _scope(fx, org)
    # Asked once: PostgreSQL's plan for it goes stale while an import adds thousands.
    taken = await fx.uow.register.emails_taken(_addresses(file))
    batch: list[tuple[MemberRow, int]] = []
    for line, values in file.rows():
        read = read_row(line, values)
        if isinstance(read, Refused):
            report.refused.append(read)
            continue
        org_id = _org_for(read, scope, org)
        if org_id is None:
            report.refused.append(
                Refused(line, f"förening {read.org_ref!r} is not {org.slug} or below it")
            )
            continue
        batch.append((read, org_id))
        if len(batch) == BATCH:
            await _upsert(fx, org, batch, Keys(key, taken), links, report)
            batch = []
    await _upsert(fx, org, batch, Keys(key, taken), links, report)
    if full:  # a refused row's member is in the file all the same
        in_file = {member_number(cell) for _, cell in file.numbers()}
        scope_ids = [o.id for o in scope if o.id is not None]
        missing = [
            (entry_id, person_id)
            for entry_id, person_id, number in await fx.uow.register.current_numbers(scope_ids)
            if number not in in_file
        ]
        await fx.uow.register.mark_former(missing, fx.now)
        report.missing = len(missing)
    if report.shared:
        report.notes.append(
            f"{report.shared} e-mail addresses were already someone else's: those members "
            "are imported without one (an address reaches one person)"
        )
    report.refused.sort(key=lambda r: r.line)
    return report


@dataclass(frozen=True)
class Keys:
    """What every batch checks against: the tombstones' key and the addresses in use."""

    secret: bytes
    taken: set[str]


def _addresses(file: RegisterFile) -> set[str]:
    if "email" not in file.columns:
        return set()
    at = file.columns.index("email")
    return {str(cells[at]).strip().lower() for _, cells in file.lines if len(cells) > at}


async def _upsert(
    fx: Effects,
    org: Organisation,
    rows: Sequence[tuple[MemberRow, int]],
    keys: Keys,
    links: JoinLinks,
    report: ImportReport,
) -> None:
    """One batch of rows: compared with what is stored, then written together."""
    if not rows:
        return
    hashes = {row.member_number: tombstone(keys.secret, row.member_number) for row, _ in rows}
    erased = await fx.uow.register.tombstoned(hashes.values())
    known = await fx.uow.register.by_numbers(list(hashes))
    new: list[NewMember] = []
    changes: list[tuple[KnownEntry, MemberRow, int]] = []
    for row, org_id in rows:
        if hashes[row.member_number] in erased:
            report.refused.append(
                Refused(row.line, "erased at the member's own request: not imported again")
            )
            continue
        entry = known.get(row.member_number)
        if entry is None:
            new.append(
                NewMember(
                    row,
                    org_id,
                    _since(row, org, fx.now),
                    hashes[row.member_number],
                    secrets.token_urlsafe(12),
                )
            )
        elif row.differs(entry, org_id):
            changes.append((entry, row, org_id))
        else:
            report.unchanged += 1
    emails = [m.row.email for m in new if m.row.email]
    report.shared += sum(1 for e in emails if e in keys.taken) + len(emails) - len(set(emails))
    person_ids = await fx.uow.register.add_members(new, fx.now, keys.taken)
    await fx.uow.register.update_members(changes, fx.now)
    report.added += len(new)
    report.changed += len(changes)
    today = fx.now.astimezone(org.zone).date()
    for member, person_id in zip(new, person_ids, strict=True):
        if is_new_member(member.row, today):
            # Each welcome in a transaction of its own, after the import: it is the slow part.
            await fx.schedule(
                f"register:welcome:{member.join_token}",
                WELCOME_TIMER,
                fx.now,
                {
                    "person": person_id,
                    "org": member.org_id,
                    "telegram": links.telegram(member.join_token),
                    "discord": links.discord_invite,
                    "command": f"/start {JOIN_PAYLOAD}_{member.join_token}",
                },
            )
            report.welcomed += 1


async def welcome(fx: Effects, timer: Timer) -> None:
    """A new member from the register: a contact person and the introduction, as for a new
    member in chat, and a welcome with her personal join links."""
    payload = timer.payload
    person = await fx.uow.people.get(int(payload["person"]))
    org = await fx.uow.orgs.get(int(payload["org"]))
    if person is None or person.id is None or org is None:
        return  # erased since
    if await fx.uow.welcome.of_person(person.id) is not None:
        return  # she found the chat first, and is welcomed there
    branch, association = await branch_of(fx, org)
    flow = await flow_for(fx, None, person.id, branch, association)
    await start_welcome(fx, flow, person, officer=None)
    build = views.welcome(
        person.display_name,
        org.name,
        str(payload["telegram"]),
        str(payload["discord"]),
        str(payload["command"]),
    )
    await fx.notify(person, build, key=timer.key)


# --- linking a chat account to an imported member -------------------------------------------


async def link_by_token(ctx: Context, token: str) -> None:
    """/start reg_<token>: whoever holds her personal link is her."""
    entry = await ctx.uow.register.by_token(token)
    if entry is None or entry.status is not EntryStatus.CURRENT:
        await ctx.reply(views.link_not_valid(ctx.t))
        return
    await _become(ctx, entry)


async def _become(ctx: Context, entry: RegisterEntry) -> None:
    if entry.person_id != ctx.person_id:
        mine = await ctx.uow.register.of_person(ctx.person_id)
        if mine is not None:
            await ctx.reply(views.already_another(ctx.t, mine.member_number))
            return
        await merge_votes(ctx, keep_id=entry.person_id, drop_id=ctx.person_id)
        await ctx.uow.people.merge(keep_id=entry.person_id, drop_id=ctx.person_id)
        kept = await ctx.uow.people.get(entry.person_id)
        assert kept is not None
        ctx.person = kept
    org = await ctx.uow.orgs.get(entry.org_id)
    await ctx.reply(views.linked(ctx.t, ctx.person.display_name, org.name if org else ""))


async def send_code(ctx: Context, number: str) -> None:
    """/medlemsnummer N: a code goes to the address the register has for that number; the
    answer is the same whether the number exists or not (membership is sensitive)."""
    entry = await ctx.uow.register.current_by_number(member_number(number))
    if entry is not None and entry.person_id == ctx.person_id:
        await ctx.reply(views.already_linked(ctx.t))
        return
    if entry is not None and entry.email:
        member = await ctx.uow.people.get(entry.person_id)
        pending = await ctx.uow.register.has_pending_code(entry.person_id, ctx.now)
        if member is not None and not pending:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            await ctx.uow.people.add_link_code(
                LinkCode(code=code, person_id=entry.person_id, expires_at=ctx.now + CODE_LIFETIME)
            )
            await ctx.notify(
                member, lambda t: views.code_mail(t, code), key=f"register:code:{code}"
            )
    await ctx.reply(views.code_sent(ctx.t))


# --- unpaid fees ------------------------------------------------------------------------------


async def unpaid_in(fx: Effects, org: Organisation) -> list[RegisterEntry]:
    ids = [o.id for o in await _scope(fx, org) if o.id is not None]
    today = fx.now.astimezone(org.zone).date()
    return unpaid(await fx.uow.register.current_in(ids), today)


async def remind_unpaid(fx: Effects, org: Organisation) -> tuple[int, int]:
    """Sends the gentle reminder to unpaid members not reminded lately: (sent, skipped)."""
    sent: list[int] = []
    skipped = 0
    for entry in await unpaid_in(fx, org):
        assert entry.id is not None and entry.paid_until is not None
        member = await fx.uow.people.get(entry.person_id)
        if member is None or not due_reminder(entry, fx.now):
            skipped += 1
            continue
        home = await fx.uow.orgs.get(entry.org_id) or org
        if await _remind(fx, member, home, entry):
            sent.append(entry.id)
        else:
            skipped += 1
    await fx.uow.register.reminded(sent, fx.now)
    return len(sent), skipped


async def _remind(fx: Effects, member: Person, home: Organisation, entry: RegisterEntry) -> bool:
    paid_until = entry.paid_until
    assert paid_until is not None
    return await fx.notify(
        member,
        lambda t: views.unpaid_reminder(
            t, member.display_name, home.name, paid_until, fx.settings.join_url
        ),
        key=f"register:unpaid:{entry.id}:{fx.now.date().isoformat()}",
    )
