"""Private files: everything that holds store data is readable by its owner only.

The database and the files SQLite keeps beside it (``-wal``, ``-shm``, ``-journal``: SQLite
gives them the database file's mode), backups, exports and rejects files are created 0600,
whatever the umask. A file that exists already and that this process owns loses any access
by others (``o-rwx``; a group the administrator chose is kept): stores and backups made by
older versions were world-readable.

On Windows, where POSIX modes do not apply, these functions only create and open files.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

PRIVATE_MODE = 0o600
PRIVATE_UMASK = 0o077
_POSIX = os.name == "posix"
_umask_lock = threading.RLock()


@contextmanager
def private_umask() -> Iterator[None]:
    """Files created inside (by this process, SQLite, GDAL or a child process) are private.

    The umask is the whole process's: other threads creating files meanwhile get private
    files too (never more open ones), and the lock keeps two of these blocks from restoring
    each other's umask. Keep the block short: around the call that creates the file.
    """
    if not _POSIX:
        yield
        return
    with _umask_lock:
        old = os.umask(PRIVATE_UMASK)
        try:
            yield
        finally:
            os.umask(old)


def close_to_others(*paths: str | os.PathLike[str]) -> None:
    """Remove access by others from each existing file this process owns.

    Files of other owners are left as they are (only their owner may change them).
    """
    if not _POSIX:
        return
    for path in paths:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            continue
        if info.st_uid == os.getuid() and info.st_mode & stat.S_IRWXO:
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~stat.S_IRWXO)


def create_private(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` as a new, empty 0600 file, for a tool that writes into it.

    Raises
    ------
    FileExistsError
        When ``path`` exists.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    return Path(path)


@overload
def open_private(path: str | os.PathLike[str], *, text: Literal[True] = ...,
                 newline: str | None = None) -> TextIO: ...
@overload
def open_private(path: str | os.PathLike[str], *, text: Literal[False],
                 newline: str | None = None) -> BinaryIO: ...
@overload
def open_private(path: str | os.PathLike[str], *, text: bool = True,
                 newline: str | None = None) -> IO[Any]: ...
def open_private(path: str | os.PathLike[str], *, text: bool = True,
                 newline: str | None = None) -> IO[Any]:
    """Open ``path`` for writing from empty, as a 0600 file (also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        if _POSIX:
            os.fchmod(fd, PRIVATE_MODE)  # an existing file keeps its mode through O_CREAT
        if text:
            return os.fdopen(fd, "w", encoding="utf-8", newline=newline)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | os.PathLike[str], content: bytes) -> Path:
    """Write ``content`` to ``path`` (replacing it) as a 0600 file."""
    with open_private(path, text=False) as f:
        f.write(content)
    return Path(path)
