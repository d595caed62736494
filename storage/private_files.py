"""The data folder, the SQLite database and backups hold members' data: the owner's alone.

Whatever the umask, a folder we create is 0700 and a file we create 0600
(SQLite gives its -wal and -shm files the database file's mode). Something that
already exists is left as it is, but a warning says so when others may read it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("samtal.storage")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_POSIX = os.name == "posix"


def private_dir(path: Path) -> None:
    """Creates the folder (0700) if it is missing; its parents are ordinary folders."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR)  # the umask can only take bits away
    except FileExistsError:
        return
    if _POSIX:
        os.chmod(path, PRIVATE_DIR)  # the umask may also have taken the owner's bits


def private_file(path: Path, *, replacing: bool = False) -> None:
    """Creates the file empty (0600) if it is missing, so whatever writes it keeps that mode.

    `replacing`: its content is about to be replaced (a backup), so an existing file is
    made 0600 too.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        if not replacing:
            return
    else:
        os.close(fd)
    if _POSIX:
        os.chmod(path, PRIVATE_FILE)


def open_to_others(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return _POSIX and bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def warn_if_open(*paths: Path) -> list[Path]:
    """Logs a warning for each path that others may read or enter; returns them."""
    wide = [path for path in paths if open_to_others(path)]
    for path in wide:
        mode = stat.S_IMODE(path.stat().st_mode)
        wanted = PRIVATE_DIR if path.is_dir() else PRIVATE_FILE
        log.warning(
            "%s is open to other users (mode %04o) but holds members' data: chmod %o %s",
            path,
            mode,
            wanted,
            path,
        )
    return wide
