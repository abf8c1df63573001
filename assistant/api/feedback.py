"""Append feedback to a JSON Lines file: one whole line per record, fsynced, rotated by size, never torn.

Several uvicorn workers (processes) and several threads per worker may write at once, so each write holds a
threading lock (threads of this process) and an exclusive ``fcntl`` lock on a sidecar ``.lock`` file
(other processes). The sidecar, not the data file, carries the lock because rotation renames the data file.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class FeedbackWriter:
    """Writes feedback records to ``path``; past ``max_bytes`` the file moves to ``path.1`` (older ones to
    ``.2``, ``.3`` ...) and a new one starts. Rotated files are kept, so no feedback is lost.

    Args:
        path: the JSON Lines file.
        max_bytes: size after which the file is rotated (a single record is never split).
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append one record (a ``ts`` timestamp is added unless present); returns what was written."""
        record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), **record}
        # ASCII-escaped JSON: no character of a comment (U+2028, NEL, ...) can split a record over two
        # lines for a reader that splits on Unicode line boundaries.
        data = (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode("utf-8")
        with self._thread_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._lock_path, "a+b") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                try:
                    self._rotate_if_needed(len(data))
                    fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                    try:
                        view = memoryview(data)
                        while view:
                            view = view[os.write(fd, view):]
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                finally:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        return record

    def rotated(self) -> list[Path]:
        """The rotated files, newest first (``.1``, ``.2`` ...)."""
        pattern = re.compile(re.escape(self.path.name) + r"\.(\d+)$")
        found = [(int(m.group(1)), p) for p in self.path.parent.glob(self.path.name + ".*")
                 if (m := pattern.match(p.name))]
        return [p for _, p in sorted(found)]

    def _rotate_if_needed(self, incoming: int) -> None:
        # Called with both locks held.
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.max_bytes:
            return
        for old in reversed(self.rotated()):  # oldest first, so no rename overwrites a kept file
            n = int(old.name.rsplit(".", 1)[1])
            os.replace(old, old.with_name(f"{self.path.name}.{n + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the renames durable before new lines land in a fresh file
        finally:
            os.close(dir_fd)
