"""Golden transcripts: each file in tests/transcripts is replayed on the demo data, and the
console's output must equal the file. The files read as conversations, so they document the
flows too. After an intended change of text, regenerate them with
`SAMTAL_UPDATE_TRANSCRIPTS=1 pytest tests/test_transcripts.py` and read the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Console

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.txt"))


def _inputs(text: str) -> str:
    """The lines a person typed: everything that is not the bot's output."""
    return "\n".join(line for line in text.splitlines() if line.startswith(("@", "#")))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
async def test_transcript(path: Path, console: Console) -> None:
    expected = path.read_text(encoding="utf-8").rstrip("\n")
    output = await console.run(_inputs(expected))
    if os.environ.get("SAMTAL_UPDATE_TRANSCRIPTS"):
        path.write_text(output + "\n", encoding="utf-8")
    assert output == expected
