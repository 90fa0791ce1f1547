"""Writing a benchmark's output file whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path


def write_whole(path, write):
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    A reader, or a rerun that skips finished work because its file exists, never sees a
    partial file: an interrupted write leaves only the temporary one. Its name carries the
    process id because two tasks may write the same file at once (a shared cache).
    The temporary name keeps ``path``'s suffix, which ``numpy.savez`` would otherwise add.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
