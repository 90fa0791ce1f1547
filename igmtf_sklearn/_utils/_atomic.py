"""Atomic file writes: a file is either written whole or not at all.

Used by everything that writes results (models, reports, workflow outputs), so
that a failure part-way never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    Whatever writes to the temporary path (``DataFrame.to_parquet``,
    ``joblib.dump``, ...) either completes and replaces ``path`` in one rename,
    or fails and leaves ``path`` untouched, with the temporary file removed.

    Parameters
    ----------
    path : str or path-like
        The final file; its folder must exist.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from igmtf_sklearn.report import atomic_path
    >>> folder = tempfile.mkdtemp()
    >>> with atomic_path(os.path.join(folder, "notes.txt")) as temporary:
    ...     _ = temporary.write_text("all or nothing")
    >>> os.listdir(folder)
    ['notes.txt']
    >>> shutil.rmtree(folder)
    """
    path = Path(path)
    # A fresh name, not mkstemp's file: whatever writes it creates it with the usual
    # permissions (mkstemp's are owner-only).
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically; return ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write. ``data`` goes to a temporary file beside it, which
        is renamed over ``path`` once complete (see :func:`atomic_path`).
    data : str or bytes
        The content; a str is encoded as UTF-8.

    Returns
    -------
    path : pathlib.Path
        ``path``, now holding ``data``.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from igmtf_sklearn.report import atomic_write
    >>> folder = tempfile.mkdtemp()
    >>> atomic_write(os.path.join(folder, "notes.txt"), "all or nothing").read_text()
    'all or nothing'
    >>> shutil.rmtree(folder)
    """
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
    return Path(path)
