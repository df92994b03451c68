"""Writing the files a run makes: atomically, with the permissions any other file of the user gets.

Each file is written under a temporary name in its own folder and renamed into place,
so an interrupted run leaves either the previous file or the new one, never half of
one; it is flushed to disk before the rename, so a power cut cannot either.  The
temporary file is private (0600) while written; before the rename it gets the mode
the file had, or, for a new file, what the user's umask gives (0644 usually).
"""

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path


def _mode_for(path):
    """The permissions `path` keeps (if it exists) or gets (0666 less the umask)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # reading the umask means setting it; put it straight back
        os.umask(umask)
        return 0o666 & ~umask


def _flush_to_disk(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path` to write to.

    On success it is flushed to disk and replaces `path`; on failure it is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # else a power cut soon after the rename can leave an empty file under the name
        _flush_to_disk(tmp)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(data, path):
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(text, path):
    """Write `text` to `path` atomically."""
    return write_bytes(text.encode(), path)


def write_json(obj, path):
    """Write `obj` as indented JSON to `path` atomically."""
    return write_text(json.dumps(obj, indent=2) + "\n", path)
