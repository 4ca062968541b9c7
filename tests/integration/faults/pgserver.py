"""A private PostgreSQL a test starts and stops itself, and small helpers for fault tests.

The private server runs from Debian's binaries (``/usr/lib/postgresql/*/bin``) on a spare port with
its data in a temporary folder; as root it runs as the ``postgres`` OS user (initdb refuses root).
The ``private_pg`` fixture (conftest.py) skips without the binaries, except in CI, where it fails.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time


class Unavailable(Exception):
    """A private PostgreSQL cannot be started here (the reason is the message)."""


def bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """One PostgreSQL cluster of our own: ``start()``, ``stop()`` (immediate, like a crash), ``url``."""

    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="gb-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            import pwd

            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and there is no 'postgres' OS user to run a private PostgreSQL")
            self.user = "postgres"
            shutil.chown(self.dir, user="postgres")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [os.path.join(self.bindir, tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", self.data, "-o", opts, "-w", "-t", "30", "-l", os.path.join(self.dir, "log"), "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def cleanup(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(fn, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    return fn()
