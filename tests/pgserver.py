"""A private PostgreSQL server for tests: Debian's binaries, a fresh cluster in a temporary folder, listening on
127.0.0.1 on a free port only (no Unix socket), trust authentication for its one user.

The binaries are found where `make system-deps` (apt-get install postgresql) puts them: on the PATH if a
packager linked them there, else the newest ``/usr/lib/postgresql/<version>/bin``. initdb and postgres refuse
to run as root (CI runs as root), so then they run as the ``postgres`` user Debian's package creates (else
``nobody``) through ``runuser``, in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import free_port

USER = "dgm"  # the cluster's superuser (trust auth over 127.0.0.1)


def postgres_bin() -> Path | None:
    """The folder of initdb/pg_ctl/postgres, or None when PostgreSQL is not installed."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    versions = sorted((int(m.group(1)), p) for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")
                      if (m := re.fullmatch(r"(\d+)", p.parent.parent.name)))
    return versions[-1][1].parent if versions else None


def _as_owner() -> tuple[list[str], str | None]:
    """The command prefix that runs PostgreSQL's programs as a non-root user, and that user's name."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"], name
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


@dataclass
class PostgresServer:
    """A running cluster: ``url`` (SQLAlchemy, psycopg), and `stop`/`start` to take it down and back up."""

    bin_dir: Path
    data: Path
    port: int
    prefix: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.prefix, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args],
                       check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        try:
            self._pg_ctl("-w", "-t", "60", "-l", str(self.data.parent / "postgres.log"),
                         "-o", f"-h 127.0.0.1 -p {self.port} -c unix_socket_directories=''", "start", timeout=90)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"PostgreSQL did not start: {self.log()}") from exc

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash as far as the data is concerned (no checkpoint; WAL replayed at start)."""
        self._pg_ctl("-w", "-m", mode, "stop")

    def log(self) -> str:
        path = self.data.parent / "postgres.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql)")
    prefix, owner = _as_owner()
    # Not under pytest's tmp (nor a private TMPDIR): the folders above it must let the owner through.
    root = Path(tempfile.mkdtemp(prefix="dgm-pg-", dir="/tmp" if owner is not None else None))
    try:
        if owner is not None:
            entry = pwd.getpwnam(owner)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        data = root / "data"
        done = subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                               "-E", "UTF8", "--locale=C", "--no-sync"], timeout=120, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr[-1500:]}")
        server = PostgresServer(bin_dir, data, free_port(), prefix)
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.SubprocessError):
                server.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)
