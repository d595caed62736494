"""The `samtal` command (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.console.app import ConsoleGateway, ConsoleSession, stdout_writer
from bot.clock import ShiftedClock, VirtualClock
from bot.demo.seed import seed_demo
from bot.privacy.service import export_person
from bot.register.service import JoinLinks
from samtal import (
    announce_cli,
    calendar_cli,
    circle_cli,
    consultation_cli,
    members_cli,
    stats_cli,
    welcome_cli,
    wheel_cli,
)
from samtal.clock import SystemClock
from samtal.config import Config, ConfigError, load_config, readable_by_others
from samtal.logs import formatter
from samtal.runtime import Wakeup, build_replica, core_settings, open_core, start_operating
from samtal.usage import exit_status, org_by_slug
from storage.database import Database, DatabaseUnavailable

log = logging.getLogger("samtal")

ERASURE_KEEPS = (
    "What erasure keeps is counts only: figures and poll tallies stay as they were, "
    "naming no one; every value that names the person (their name, usernames, platform "
    "ids, their words, messages about them) is removed."
)


def build_parser() -> argparse.ArgumentParser:
    config_help = "configuration file (default: $SAMTAL_CONFIG, then ./samtal.toml)"
    # --config works before or after the command; SUPPRESS keeps a subcommand from erasing it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=config_help)
    parser = argparse.ArgumentParser(
        prog="samtal", description="Samtal: a chat bot for the political conversation."
    )
    parser.add_argument("--config", metavar="FILE", help=config_help)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "run", parents=[common], help="run every enabled platform; the console when none is"
    )
    console = commands.add_parser(
        "console", parents=[common], help="chat in the terminal, or replay a transcript"
    )
    console.add_argument(
        "--as", dest="user", metavar="NAME", help="who you are (default: [console] user)"
    )
    console.add_argument(
        "--script", metavar="FILE", help="replay a transcript ('-' for standard input)"
    )
    commands.add_parser("demo", parents=[common], help="seed a demo organisation tree")
    commands.add_parser("orgs", parents=[common], help="list organisations and their slugs")

    db = commands.add_parser("db", parents=[common], help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", parents=[common], help="apply migrations")
    upgrade.add_argument(
        "--check",
        action="store_true",
        help="only say whether migrations are pending (exit status 1 if so); apply none",
    )
    backup = db_commands.add_parser("backup", parents=[common], help="online backup to FILE")
    backup.add_argument("file", metavar="FILE")
    restore = db_commands.add_parser(
        "restore",
        parents=[common],
        help="replace the database with a backup from FILE",
        description="Replace the configured database with a backup taken by `samtal db backup` "
        "or the nightly backups. Stop every `samtal run` first. A database that holds data, "
        "or that a replica used in the last minutes, is only overwritten with --force.",
    )
    restore.add_argument("file", metavar="FILE")
    restore.add_argument(
        "--force", action="store_true", help="overwrite a database that holds data"
    )

    gdpr = commands.add_parser(
        "gdpr", parents=[common], help="a person's data, for the data controller"
    )
    gdpr_commands = gdpr.add_subparsers(dest="gdpr_command", required=True, metavar="ACTION")
    find = gdpr_commands.add_parser(
        "find", parents=[common], help="find people by name or username"
    )
    find.add_argument("text")
    export = gdpr_commands.add_parser(
        "export", parents=[common], help="everything stored about a person, as JSON"
    )
    export.add_argument("--person", type=int, required=True, metavar="ID")
    export.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    erase = gdpr_commands.add_parser(
        "erase",
        parents=[common],
        help="erase a person everywhere; only counts are kept",
        description=f"Erase a person everywhere. {ERASURE_KEEPS}",
    )
    erase.add_argument("--person", type=int, required=True, metavar="ID")
    erase.add_argument("--yes", action="store_true", help="do it without asking")

    invite = commands.add_parser(
        "invite", parents=[common], help="print join links for an organisation"
    )
    invite.add_argument("--org", required=True, metavar="SLUG")
    announce_cli.add_parser(commands, common)
    calendar_cli.add_parser(commands, common)
    welcome_cli.add_parser(commands, common)
    circle_cli.add_parser(commands, common)
    wheel_cli.add_parser(commands, common)
    stats_cli.add_parser(commands, common)
    members_cli.add_parser(commands, common)
    consultation_cli.add_parser(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"samtal: configuration error: {exc}", file=sys.stderr)
        return 2
    # In the terminal chat (and its transcripts) log lines would land between the messages.
    platforms = config.telegram_token or config.discord_token or config.email.enabled
    in_terminal = args.command == "console" or (args.command == "run" and not platforms)
    configured = logging.getLevelName(config.bot.log_level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(config.log.format))
    logging.basicConfig(
        level=max(configured, logging.WARNING) if in_terminal else configured,
        handlers=[handler],
    )
    quiet_libraries(configured)
    if config.source is not None and readable_by_others(config.source):
        log.warning("%s is readable by other users; consider chmod 600", config.source)
    try:
        return asyncio.run(exit_status(_dispatch(args, config)))
    except KeyboardInterrupt:
        return 130
    except DatabaseUnavailable as exc:
        print(f"samtal: {exc}", file=sys.stderr)
        return 2


async def _dispatch(args: argparse.Namespace, config: Config) -> int:
    match args.command:
        case "run":
            return await _run(config)
        case "console":
            if args.script is not None:
                return await _replay(config, args.script)
            return await _interactive(config, args.user or config.console.user)
        case "demo":
            return await _demo(config)
        case "orgs":
            return await _orgs(config)
        case "db":
            return await _db(config, args)
        case "invite":
            return await _invite(config, args.org)
        case "gdpr":
            if args.gdpr_command == "erase" and not args.yes and not sys.stdin.isatty():
                # No one to answer the question (a script, cron): refuse rather than guess.
                print(
                    "samtal: gdpr erase asks for confirmation on a terminal; "
                    "add --yes to erase without asking",
                    file=sys.stderr,
                )
                return 2
            return await _gdpr(config, args)
        case "announce":
            settings = core_settings(config, flood_limit=False)
            return await _on_database(
                config, lambda db: announce_cli.run(db, SystemClock(), settings, args)
            )
        case "calendar":
            return await _on_database(
                config,
                lambda db: calendar_cli.export_calendar(
                    db,
                    SystemClock(),
                    args.org,
                    Path(args.out),
                    members_only_too=args.with_members_only,
                ),
            )
        case "members":
            return await _members(config, args)
        case "wheel" | "circle" | "welcome" | "stats" | "radslag":
            command = DATABASE_COMMANDS[args.command]
            return await _on_database(config, lambda db: command(db, SystemClock(), args))
    raise AssertionError(args.command)


DATABASE_COMMANDS = {
    "wheel": wheel_cli.run,
    "circle": circle_cli.run,
    "welcome": welcome_cli.run,
    "stats": stats_cli.run,
    "radslag": consultation_cli.run,
}


async def _members(config: Config, args: argparse.Namespace) -> int:
    settings = core_settings(config, flood_limit=False)
    key = await asyncio.to_thread(members_cli.register_key, config.data_dir)
    links = JoinLinks(await _telegram_username(config), config.discord.invite_url)
    return await _on_database(
        config,
        lambda db: members_cli.run(db, SystemClock(), settings, args, key=key, links=links),
    )


async def _on_database(config: Config, work: Callable[[Database], Awaitable[int]]) -> int:
    """Runs a command's work on the configured database, closed again whatever happens."""
    database = await _with_database(config)
    try:
        return await work(database)
    finally:
        await database.dispose()


def quiet_libraries(level: int) -> None:
    """Libraries' chatter out of the operators' log: what happened, not every tick."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The database drivers' DEBUG lines carry SQL parameters: personal data and votes.
    for driver in ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool"):
        logging.getLogger(driver).setLevel(logging.WARNING)
    # APScheduler logs each job run (a sweep every few seconds) and the HTTP clients each
    # request at INFO: shown only at DEBUG.
    for chatty in ("apscheduler", "httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(
            logging.DEBUG if level <= logging.DEBUG else logging.WARNING
        )


async def _run(config: Config) -> int:
    enabled = [
        name
        for name, token in (("Telegram", config.telegram_token), ("Discord", config.discord_token))
        if token
    ]
    if config.email.enabled:
        enabled.append("email")
    if enabled:
        from samtal.platforms import run_platforms  # the platform libraries load only when used
        from samtal.startup import PlatformStartError

        try:
            return await run_platforms(config)
        except DatabaseUnavailable:
            raise
        except PlatformStartError as exc:  # e.g. a refused token: trying again will not help
            print(f"samtal: could not start {exc.platform}: {exc.reason}", file=sys.stderr)
            return 1
        except Exception as exc:  # a bad token, an unreachable API: say so, without a traceback
            from adapters.redaction import redact

            log.debug("platform start-up failed", exc_info=True)
            print(
                f"samtal: could not start {' and '.join(enabled)}: {redact(str(exc))}",
                file=sys.stderr,
            )
            return 1
    return await _interactive(config, config.console.user)


async def _interactive(config: Config, user: str) -> int:
    gateway = ConsoleGateway(stdout_writer(), config.console_files.absolute())
    # The wall clock, which `@clock: +1d` may move forward (reminders then arrive at once).
    replica = await build_replica(
        config, ShiftedClock(SystemClock()), {gateway.platform: gateway}, flood_limit=False
    )
    database, samtal = replica.database, replica.samtal
    await samtal.start()
    wakeup = Wakeup(samtal, replica.replication)
    wakeup.start()
    operating = await start_operating(config, database, samtal, replica.replication)
    try:
        await ConsoleSession(samtal, gateway, ZoneInfo(config.bot.timezone)).run_interactive(
            user.lower()
        )
    finally:
        await operating.stop()
        await wakeup.stop()
        await database.dispose()
    return 0


async def _replay(config: Config, script: str) -> int:
    if script == "-":
        lines = sys.stdin.readlines()
    else:
        try:
            text = await asyncio.to_thread(Path(script).read_text, encoding="utf-8")
            lines = text.splitlines()
        except OSError as exc:
            print(f"samtal: can't read the transcript: {exc}", file=sys.stderr)
            return 2
    start = SystemClock().now().replace(second=0, microsecond=0)
    # A transcript's output names files relative to the folder, so it reads the same anywhere.
    gateway = ConsoleGateway(stdout_writer(), config.console_files.absolute(), relative=True)
    database, samtal = await open_core(config, VirtualClock(start), {gateway.platform: gateway})
    try:
        await samtal.run_due()
        problems = await ConsoleSession(samtal, gateway, ZoneInfo(config.bot.timezone)).run_script(
            lines
        )
    finally:
        await database.dispose()
    return 1 if problems else 0


async def _with_database(config: Config) -> Database:
    database = Database(config.database_url)
    await database.upgrade()
    return database


async def _demo(config: Config) -> int:
    database = await _with_database(config)
    try:
        seeded = await seed_demo(database.unit_of_work, SystemClock())
    finally:
        await database.dispose()
    print("Demo data seeded." if seeded else "Demo data is already there.")
    print(
        "Console people: anna (member), bertil (organiser), cecilia (member officer), erik (study "
        "organiser), fatima (organiser in Gävle), sara (district admin), david (guest), oliver (English)"
    )
    print("Group channels: #allmant (Sandviken), #gavle (Gävle). Try: samtal console --as bertil")
    print(
        "Annual wheel: the party's and Gävleborg's default templates and Sandviken's own are "
        "published; see `samtal wheel show --org sandviken`, and start it in #allmant as bertil "
        "with /arshjul_start."
    )
    return 0


async def _orgs(config: Config) -> int:
    database = await _with_database(config)
    try:
        async with database.unit_of_work() as uow:
            orgs = await uow.orgs.list_all()
    finally:
        await database.dispose()
    if not orgs:
        print("No organisations yet. Seed the demo with: samtal demo")
        return 0
    depth: dict[int | None, int] = {None: -1}
    by_parent: dict[int | None, list[int]] = {}
    for org in orgs:
        by_parent.setdefault(org.parent_id, []).append(org.id or 0)
    by_id = {org.id: org for org in orgs}

    def walk(parent: int | None) -> None:
        for org_id in by_parent.get(parent, []):
            org = by_id[org_id]
            depth[org_id] = depth[parent] + 1
            print(
                f"{'  ' * depth[org_id]}{org.slug:<{24 - 2 * depth[org_id]}} {org.name} ({org.kind.value}, {org.timezone}, {org.language})"
            )
            walk(org_id)

    walk(None)
    return 0


async def _db(config: Config, args: argparse.Namespace) -> int:
    if args.db_command == "upgrade" and args.check:
        return await _upgrade_check(config)
    if args.db_command == "restore":
        return await _restore(config, Path(args.file), force=args.force)
    database = await _with_database(config)
    try:
        if args.db_command == "upgrade":
            print("The database is up to date.")
        else:
            await database.backup(Path(args.file))
            print(f"Backup written to {args.file}")
    finally:
        await database.dispose()
    return 0


async def _upgrade_check(config: Config) -> int:
    """For a pre-deploy step: 0 when nothing is pending, 1 when `db upgrade` has work."""
    database = Database(config.database_url)
    try:
        pending = await database.pending_migrations()
    finally:
        await database.dispose()
    if not pending:
        print("The database is up to date; no migrations are pending.")
        return 0
    print(f"{len(pending)} pending: {', '.join(pending)}. Apply with: samtal db upgrade")
    return 1


# A replica seen this recently still uses the database.
RECENTLY_USED = timedelta(minutes=5)


async def _restore(config: Config, source: Path, *, force: bool) -> int:
    from storage.database import RestoreError, backup_kind
    from storage.operations import tables_with_rows

    try:
        if not backup_kind(source):
            print(f"samtal: {source} is not a Samtal backup", file=sys.stderr)
            return 2
    except RestoreError as exc:
        print(f"samtal: {exc}", file=sys.stderr)
        return 2
    database = Database(config.database_url)
    # Looked at before this process opens it (which makes one): a WAL file beside a closed
    # SQLite database means a process has it open (or crashed with it open).
    wal = Path(f"{database.url.database}-wal") if database.is_sqlite else None
    wal_there = wal is not None and wal.exists()
    try:
        try:
            holding = await tables_with_rows(database.engine)
        except Exception as exc:
            raise DatabaseUnavailable(database.url, exc) from exc
        reasons = []
        if holding:
            more = ", ..." if len(holding) > 5 else ""
            reasons.append(f"it holds data ({', '.join(holding[:5])}{more})")
        if "replicas" in holding and await _recently_used(database):
            reasons.append("a replica's heartbeat in it is from the last minutes")
        if wal is not None and wal_there:
            reasons.append(f"{wal.name} is there: a process has it open, or did not close it")
        if reasons and not force:
            where = database.url.render_as_string(hide_password=True)
            print(
                f"samtal: not overwriting the database {where}: {'; '.join(reasons)}. "
                "Stop every `samtal run` using it, then add --force to overwrite it.",
                file=sys.stderr,
            )
            return 2
        await database.restore(source)
    except RestoreError as exc:
        print(f"samtal: {exc}", file=sys.stderr)
        return 2
    finally:
        await database.dispose()
    print(f"Restored {source} into {database.url.render_as_string(hide_password=True)}")
    return 0


async def _recently_used(database: Database) -> bool:
    import sqlalchemy as sa

    from storage.tables import replicas

    since = SystemClock().now() - RECENTLY_USED
    async with database.engine.connect() as connection:
        seen = await connection.scalar(
            sa.select(sa.func.count()).select_from(replicas).where(replicas.c.heartbeat_at >= since)
        )
    return bool(seen)


async def _invite(config: Config, slug: str) -> int:
    database = await _with_database(config)
    try:
        async with database.unit_of_work() as uow:
            org, _ = await org_by_slug(uow, slug)
    finally:
        await database.dispose()
    print(f"Join links for {org.name}:")
    username = await _telegram_username(config)
    if username:
        print(f"  Telegram: https://t.me/{username}?start=join_{org.slug}")
        print(
            f"  Telegram, for new members (starts the welcome): "
            f"https://t.me/{username}?start=member_{org.slug}"
        )
    else:
        print("  Telegram: set SAMTAL_TELEGRAM_TOKEN (or [telegram] bot_username) to get a link")
    if config.discord.invite_url:
        print(f"  Discord server: {config.discord.invite_url}")
    application = await _discord_application(config)
    if application:
        from adapters.discord.invite import authorize_url

        print(f"  Discord, to add the bot to a server (its admins): {authorize_url(application)}")
        print(
            f"    then, in a channel there, someone with Manage Server or an organiser role: "
            f"/kanal {org.slug}"
        )
    elif not config.discord.invite_url:
        print("  Discord: set SAMTAL_DISCORD_TOKEN (or [discord] invite_url) to get a link")
    return 0


async def _telegram_username(config: Config) -> str:
    """The bot's username from Telegram itself when the token is set, else the config's."""
    if config.telegram_token:
        from adapters.redaction import protect, redact
        from adapters.telegram.app import fetch_username

        protect([config.telegram_token])
        try:
            return await fetch_username(config.telegram_token, config.telegram.base_url)
        except Exception as exc:
            log.warning("could not ask Telegram for the bot's username: %s", redact(str(exc)))
    return config.telegram.bot_username


async def _discord_application(config: Config) -> str:
    if not config.discord_token:
        return ""
    from adapters.discord.invite import application_id
    from adapters.redaction import protect, redact

    protect([config.discord_token])
    try:
        return await application_id(config.discord_token, config.discord.api_base)
    except Exception as exc:
        log.warning("could not ask Discord for the bot's application id: %s", redact(str(exc)))
        return ""


async def _gdpr(config: Config, args: argparse.Namespace) -> int:
    database = await _with_database(config)
    try:
        async with database.unit_of_work() as uow:
            if args.gdpr_command == "find":
                for found in await uow.people.search(args.text):
                    print(f"{found.id}\t{found.display_name}\t{found.status.value}")
                return 0
            person = await uow.people.get(args.person)
            if person is None:
                print(f"samtal: no person with id {args.person}", file=sys.stderr)
                return 2
            if args.gdpr_command == "export":
                text = json.dumps(
                    await export_person(uow, args.person), ensure_ascii=False, indent=2
                )
                if args.out:
                    await asyncio.to_thread(
                        Path(args.out).write_text, text + "\n", encoding="utf-8"
                    )
                    print(f"Written to {args.out}")
                else:
                    print(text)
                return 0
            print(ERASURE_KEEPS)
            if not args.yes:
                answer = await asyncio.to_thread(
                    input, f"Erase {person.display_name} ({person.id}) everywhere? [y/N] "
                )
                if answer.strip().lower() not in ("y", "yes", "j", "ja"):
                    print("Nothing was erased.")
                    return 1
            await uow.people.erase(args.person)
            await uow.commit()
            print(f"Erased person {args.person}.")
            return 0
    finally:
        await database.dispose()
