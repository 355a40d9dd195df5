"""A throwaway PostgreSQL server for the state-store tests: Debian's binaries, a temporary data
directory made by initdb, a Unix socket in that directory (no TCP port), stopped at the end.

initdb and postgres refuse to run as root, so as root they run as the `postgres` user (created by
Debian's package) through runuser. ./test.sh installs the package when it is missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path


def pg_bin() -> Path | None:
    """The newest installed /usr/lib/postgresql/<version>/bin holding pg_ctl, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    return Path(found[-1]).parent if found else None


def _as_user(cmd: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


@contextmanager
def postgres_server():
    """Yield a SQLAlchemy URL of a fresh database on a private server; stop and delete it after."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (./test.sh installs Debian's postgresql)")
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        pwd.getpwnam(user)  # KeyError when the package did not create it
    base = Path(tempfile.mkdtemp(prefix="vbc-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if user:
        entry = pwd.getpwnam(user)
        for p in (base, sock):
            os.chown(p, entry.pw_uid, entry.pw_gid)
    role = user or pwd.getpwuid(os.geteuid()).pw_name
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    try:
        subprocess.run(
            _as_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", role, "--no-sync"], user),
            **run,
        )
        options = f"-c listen_addresses='' -c unix_socket_directories={sock} -c fsync=off"
        subprocess.run(
            _as_user(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(base / "log"),
                    "-w",
                    "start",
                ],
                user,
            ),
            **run,
        )
        try:
            subprocess.run(
                _as_user([str(bindir / "createdb"), "-h", str(sock), "-U", role, "vbc_test"], user), **run
            )
            yield f"postgresql+psycopg://{role}@/vbc_test?host={sock}"
        finally:
            subprocess.run(
                _as_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], user),
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)
