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


def _let_others_reach(folder: Path) -> None:
    """Servers that drop root ('postgres', 'postfix') must be able to walk down to their folders."""
    while folder != Path("/"):
        folder.chmod(folder.stat().st_mode | 0o001)
        folder = folder.parent


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
            _let_others_reach(self.root.parent)
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


POSTFIX_MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
maillog_file_prefixes = {root}/log
maillog_file = {root}/log/postfix.log
myhostname = mx.postfix.test
mydomain = postfix.test
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtp_host_lookup = native
biff = no
alias_maps =
alias_database =
local_recipient_maps =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [127.0.0.1]:{relay_port}
transport_maps = texthash:{root}/etc/transport
# accept every recipient at SMTP time, so refusals become DSN bounce messages
smtpd_reject_unlisted_recipient = no
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
"""


class PostfixServer:
    """Debian's Postfix on a loopback port: relays everything to ``relay_port`` and answers the
    domains in ``errors`` with the error transport (``domain -> "5.1.1 text"``), so it bounces them
    with a real DSN. Postfix runs only as root (its master refuses otherwise)."""

    def __init__(self, root: Path, relay_port: int, errors: dict[str, str] | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.relay_port = relay_port
        self.errors = errors or {}

    def _postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["postfix", "-c", str(self.root / "etc"), *args], capture_output=True, text=True, check=False
        )

    def start(self) -> None:
        if shutil.which("postfix") is None:
            raise ServiceUnavailable("Postfix is not installed: run scripts/test.sh (it installs Debian's postfix)")
        if os.geteuid() != 0:
            raise ServiceUnavailable("Postfix runs only as root")
        for name in ("etc", "spool", "data", "log"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        etc = self.root / "etc"
        (etc / "main.cf").write_text(POSTFIX_MAIN_CF.format(root=self.root, relay_port=self.relay_port))
        (etc / "master.cf").write_text(POSTFIX_MASTER_CF.format(smtp_port=self.port))
        (etc / "transport").write_text("".join(f"{d} error:{text}\n" for d, text in self.errors.items()))
        shutil.chown(self.root / "data", "postfix", "postfix")
        _let_others_reach(self.root)
        for step in (("check",), ("start",)):
            result = self._postfix(*step)
            if result.returncode != 0:
                raise ServiceUnavailable(f"postfix {step[0]} failed: {result.stderr or result.stdout}")
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise ServiceUnavailable(f"postfix did not open port {self.port}: {self.log()[-2000:]}")

    def log(self) -> str:
        path = self.root / "log" / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        self._postfix("stop")
