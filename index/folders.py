"""A folder written whole or not at all: filled in a temporary sibling, then renamed into place."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path


def replace_folder(folder: Path, write: Callable[[Path], None],
                   finished_elsewhere: Callable[[], bool] | None = None) -> bool:
    """Write ``folder`` through a temporary sibling (``.<name>.tmp-<pid>``) renamed into place, so that a crash
    never leaves half a folder behind; the temporary folder is removed on any failure.

    Args:
        folder: the folder to (re)place; an existing one is replaced.
        write: fills the temporary folder it is given, which exists and is empty.
        finished_elsewhere: asked once the temporary folder is complete, before the rename: True when another
            process (a second worker) has put a finished folder in place meanwhile, which is then kept.

    Returns:
        True when the folder written here was put in place, False when ``finished_elsewhere`` kept another's.
    """
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        write(tmp)
        if finished_elsewhere is not None and finished_elsewhere():
            shutil.rmtree(tmp)
            return False
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True
