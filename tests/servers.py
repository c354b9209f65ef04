"""Private servers a test owns: a Redis, a PostgreSQL cluster, a gunicorn, on loopback ports of
their own, started in the test's temporary folder and always stopped by it.

Fault tests break and restart these, never the machine's own services. Where a program is
missing, `require(...)` skips the test naming it (CI installs them all: .ci/run).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTGRES_BIN = Path(os.environ.get("POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
REPOSITORY = Path(__file__).resolve().parent.parent


def require(program: str) -> str:
    """The path of a program the test needs, or a skip that names it."""
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/local/sbin")
    if path is None and (POSTGRES_BIN / program).exists():
        path = str(POSTGRES_BIN / program)
    if path is None:
        pytest.skip(f"{program} is not installed (CI installs it: see .ci/run)")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 20.0, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


class PrivateRedis:
    """A redis-server with persistence on (as production runs it): a restart keeps its data."""

    def __init__(self, directory: Path):
        self.binary = require("redis-server")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.directory),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, process=self.process)

    def stop(self) -> None:
        """A clean shutdown: the data written so far is on disk for the next start."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None


def as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root (CI), run its programs as `postgres`."""
    if os.geteuid() != 0:
        return command
    return [require("runuser"), "-u", "postgres", "--", *command]


def server_directory(prefix: str) -> Path:
    """A fresh folder the PostgreSQL programs can write (pytest's own is private to root)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    return directory


class PrivateCluster:
    """A PostgreSQL cluster made with Debian's initdb, trust auth on a loopback port.

    Its folder is made by `server_directory` and deleted by `remove()` once stopped.
    """

    def __init__(self, directory: Path | None = None, *, port: int | None = None,
                 settings: dict | None = None):  # fmt: skip
        self.pg_ctl = require("pg_ctl")
        self.directory = directory or server_directory("pg-cluster-")
        self.data = self.directory / "data"
        self.port = port or free_port()
        self.settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.directory}'",
            "fsync": "off",
            "max_connections": "100",
        } | (settings or {})

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        subprocess.run(
            as_server_user([require("initdb"), "-D", str(self.data), "-U", "postgres",
                            "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]),
            check=True, capture_output=True,
        )  # fmt: skip
        self.configure(self.settings)

    def configure(self, settings: dict) -> None:
        """Append settings to postgresql.conf (they apply at the next start or reload)."""
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        subprocess.run(
            as_server_user(["sh", "-c", f"cat >> {self.data / 'postgresql.conf'}"]),
            input=conf.encode(), check=True,
        )  # fmt: skip

    def start(self) -> None:
        subprocess.run(
            as_server_user([self.pg_ctl, "-D", str(self.data), "-l",
                            str(self.directory / "server.log"), "-w", "-t", "60", "start"]),
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            as_server_user([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"]),
            capture_output=True,
        )  # fmt: skip

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [require("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout.strip()

    def log(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Gunicorn:
    """The project under gunicorn (config/gunicorn.conf.py) with the given environment."""

    def __init__(self, directory: Path, env: dict[str, str], *, workers: int = 2):
        self.binary = str(Path(sys.executable).parent / "gunicorn")
        self.port = free_port()
        self.log_path = directory / f"gunicorn-{self.port}.log"
        self.env = (
            os.environ
            | {
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                "GUNICORN_WORKERS": str(workers),
                "GUNICORN_ACCESS_LOG": "",
                "PYTHONUNBUFFERED": "1",
            }
            | env
        )
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log_path, "ab") as log:  # the server keeps its own copy of the handle
            self.process = subprocess.Popen(
                [self.binary, "-c", str(REPOSITORY / "config" / "gunicorn.conf.py")],
                cwd=REPOSITORY,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, timeout=60, process=self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def running(server) -> Iterator:
    """Start a server and stop it whatever the test did."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with running(PrivateRedis(tmp_path / "redis")) as redis:
        yield redis


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        cluster.init()
        with running(cluster):
            yield cluster
    finally:
        cluster.remove()
