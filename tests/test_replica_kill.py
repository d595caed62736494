"""Kill -9 one of two replicas halfway through an announcement (a small version of
benchmarks/replica_kill.py, with short replica intervals): real processes, the real
`samtal announce`, the Telegram double, a scratch PostgreSQL database.

What is asserted is the documented contract (bot/delivery/__init__.py): nobody is missed,
nothing fails, and a member gets it twice only where the survivor logged the entry as
uncertain (its platform call had started in the killed replica). How often that
happens is measured by the benchmark (BENCHMARKS.md), not asserted here.
"""

from __future__ import annotations

import pytest

from benchmarks.replica_kill import run_once


@pytest.mark.parametrize(
    ("members", "paid"),
    # A paid broadcast in groups (bot/delivery/__init__.py): more members than one claim of it.
    [(100, False), (600, True)],
    ids=["at-30-a-second", "paid-broadcast"],
)
async def test_every_member_gets_it_when_a_replica_is_killed_halfway(
    postgres_scratch_url: str | None, members: int, paid: bool
) -> None:
    if postgres_scratch_url is None:
        pytest.skip(
            "needs PostgreSQL (set SAMTAL_TEST_POSTGRES_URL): replicas share one PostgreSQL; "
            "on SQLite there is one process"
        )
    lines: list[str] = []
    outcome = await run_once(
        postgres_scratch_url,
        members,
        fast=True,
        say=lines.append,
        queue_in_process=True,
        paid=paid,
    )
    assert outcome.sent_before_kill < outcome.members  # A died halfway, B finished
    assert outcome.missing == 0 and len(outcome.per_chat) == outcome.members
    assert outcome.failed_entries == 0 and outcome.refused_429 == 0
    assert outcome.duplicates_explained(), (outcome.duplicated, outcome.uncertain_keys)
    assert outcome.scheduler_takeover is not None and outcome.scheduler_takeover < 5
