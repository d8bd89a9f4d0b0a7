"""Real servers for the tests: a throw-away PostgreSQL cluster and Redis, started on loopback.

Set POSTROOM_TEST_POSTGRES_URL / POSTROOM_TEST_REDIS_URL to use servers that are already
running; otherwise the Debian packages' binaries are started in a temporary folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


class ServiceUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *command]
    return command


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not found:
        raise ServiceUnavailable("PostgreSQL is not installed: run scripts/test.sh (it installs Debian's postgresql)")
    return Path(found[-1])


class PostgresServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.data = root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        bin_dir = _postgres_bin()
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            parent = self.root.parent
            while parent != Path("/"):
                parent.chmod(parent.stat().st_mode | 0o001)  # let 'postgres' reach the folder
                parent = parent.parent
        subprocess.run(
            _as_postgres_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300 "
            "-c shared_buffers=128MB"
        )
        subprocess.run(
            _as_postgres_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "-o",
                    options,
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres_user([str(_postgres_bin() / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
            capture_output=True,
        )


class RedisServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            raise ServiceUnavailable("redis-server is not installed: run scripts/test.sh")
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.root),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.root / "redis.pid"),
                "--logfile",
                str(self.root / "redis.log"),
                "--save",
                "",
            ],
            check=True,
            capture_output=True,
        )
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise ServiceUnavailable("redis-server did not start")

    def stop(self) -> None:
        pid_file = self.root / "redis.pid"
        if pid_file.exists():
            subprocess.run(["kill", pid_file.read_text().strip()], capture_output=True)
