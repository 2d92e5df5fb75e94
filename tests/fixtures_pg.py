"""A throwaway PostgreSQL server on loopback for end-to-end tests.

initdb in a temporary folder, a random password, a free port, fsync off, started as an
unprivileged OS user (PostgreSQL refuses to run as root). Binaries are found on PATH, in
PG_BINDIR, or in Debian's /usr/lib/postgresql/<version>/bin. Without them the tests skip,
except under CI=true, where they fail: scripts/test installs them (apt-get install postgresql).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

PG_USER = "postgres"  # the database superuser initdb creates


def in_ci() -> bool:
    """True when running under CI (CI=true), where nothing may be skipped for lack of setup."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Skip with a clear reason on a developer's machine; fail under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: scripts/test must set this up)")
    pytest.skip(reason)


def find_pg_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, if any."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)

    def version(p: Path) -> int:
        return int(p.parent.name) if p.parent.name.isdigit() else 0

    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    candidates.extend(debian)
    for folder in candidates:
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway server; `new_database` gives each test its own database."""

    host: str
    port: int
    user: str
    password: str
    root: Path

    def conninfo(self, dbname: str = "postgres") -> str:
        """A libpq connection string (password authentication, as a warehouse would have)."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={dbname}"
        )

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A psycopg connection in autocommit mode."""
        return psycopg.connect(self.conninfo(dbname), autocommit=True)

    def new_database(self) -> str:
        """Create an empty database with a unique name and return the name."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


def _as_server_user(command: list[str], owner: str | None) -> list[str]:
    """Prefix a command so it runs as `owner` (when we are root)."""
    if owner is None:
        return command
    return ["runuser", "-u", owner, "--", *command]


def _server_owner() -> str | None:
    """The OS user to run the server as: None when we are not root, else `postgres`."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        missing("running as root and there is no 'postgres' OS user to run PostgreSQL as")
    return "postgres"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a PostgreSQL server for this test session (one per xdist worker); stop it after."""
    bindir = find_pg_bindir()
    if bindir is None:
        missing(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: "
            "run scripts/test, or apt-get install postgresql, or set PG_BINDIR"
        )
        raise AssertionError("unreachable")
    owner = _server_owner()
    root = Path(tempfile.mkdtemp(prefix="tap-cf-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if owner is not None:
        entry = pwd.getpwnam(owner)
        for path in (root, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def run(command: list[str]) -> None:
        result = subprocess.run(
            _as_server_user(command, owner),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{log.read_text() if log.exists() else ''}"
            )

    password = secrets.token_hex(16)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if owner is not None:
        os.chown(pwfile, pwd.getpwnam(owner).pw_uid, -1)
    run([str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, f"--pwfile={pwfile}",
         "--auth=scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions"])  # fmt: skip
    pwfile.unlink()
    port = 0
    for _attempt in range(5):
        port = free_port()
        options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c full_page_writes=off"
        try:
            run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                 "-w", "-t", "60", "start"])  # fmt: skip
            break
        except RuntimeError:
            if _attempt == 4:
                raise
    server = PostgresServer(host="127.0.0.1", port=port, user=PG_USER, password=password, root=root)
    try:
        yield server
    finally:
        subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], owner),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.new_database()
