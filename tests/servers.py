"""Private servers a test owns: a Redis, a PostgreSQL cluster, a gunicorn, on loopback ports of
their own, started in the test's temporary folder and always stopped by it.

Fault tests break and restart these, never the machine's own services. Where a program is
missing, `require(...)` skips the test naming it (CI installs them all: .ci/run).
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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

    def __init__(self, directory: Path, *, appendfsync: str = "always", port: int | None = None):
        """`appendfsync`: "always" loses nothing even when killed; "everysec" is what most
        production Redis runs (a clean stop still writes everything), and what a throughput
        figure should be measured against."""
        self.binary = require("redis-server")
        self.appendfsync = appendfsync
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
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
                "--appendfsync", self.appendfsync,
                "--save", "",
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives the command that started it (make topology)
        )  # fmt: skip
        wait_for_port(self.port, process=self.process)

    def stop(self) -> None:
        """A clean shutdown: the data written so far is on disk for the next start."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None


def project_command(database_url: str, *arguments: str) -> str:
    """`python <arguments>` in the project against a private cluster's database (migrate, the
    drills' world), with no cache or broker; its output, or a failure carrying its stderr."""
    env = os.environ | {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }
    done = subprocess.run([sys.executable, *arguments], cwd=REPOSITORY, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


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


class PrivatePgBouncer:
    """Debian's pgbouncer in transaction mode in front of a private cluster's database, trust
    auth, run as postgres (it refuses root); `pool_size` server connections at most."""

    def __init__(self, cluster: "PrivateCluster", database: str, *, pool_size: int = 4,
                 directory: Path | None = None, port: int | None = None):  # fmt: skip
        """`directory` must be writable by the server user (`server_directory` makes one)."""
        self.binary = require("pgbouncer")
        self.directory = directory or server_directory("pgbouncer-")
        self.port = port or free_port()
        self.database = database
        conf = self.directory / "pgbouncer.ini"
        users = self.directory / "users.txt"
        users.write_text('"postgres" ""\n')
        conf.write_text(
            f"[databases]\n{database} = host=127.0.0.1 port={cluster.port} dbname={database}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            f"unix_socket_dir =\nauth_type = trust\nauth_file = {users}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
            f"max_client_conn = 200\nadmin_users = postgres\n"
            f"ignore_startup_parameters = extra_float_digits, options\n"
            f"logfile = {self.directory / 'pgbouncer.log'}\n"
            f"pidfile = {self.directory / 'pgbouncer.pid'}\n"
        )
        if os.geteuid() == 0:
            for path in (conf, users):
                shutil.chown(path, "postgres", "postgres")
        self.process: subprocess.Popen | None = None

    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            as_server_user([self.binary, str(self.directory / "pgbouncer.ini")]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_for_port(self.port, process=self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def show(self, what: str) -> list[dict]:
        """The admin console's SHOW <what>, as rows of column -> value."""
        done = subprocess.run(
            [require("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "pgbouncer", "-XAF", "\t", "-c", f"SHOW {what}"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        header, *rows = done.stdout.strip().splitlines()[:-1]  # the last line counts the rows
        names = header.split("\t")
        return [dict(zip(names, row.split("\t"), strict=True)) for row in rows]

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class Gunicorn:
    """The project under gunicorn (config/gunicorn.conf.py) with the given environment."""

    def __init__(self, directory: Path, env: dict[str, str], *, workers: int = 2,
                 app: str | None = None, port: int | None = None):  # fmt: skip
        self.binary = str(Path(sys.executable).parent / "gunicorn")
        self.app = app  # another WSGI application under the same settings (the bench's floor)
        self.port = port or free_port()
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
                [
                    self.binary,
                    "-c",
                    str(REPOSITORY / "config" / "gunicorn.conf.py"),
                    *([self.app] if self.app else []),
                ],
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


class TcpProxy:
    """A loopback TCP forwarder in front of a real server, to take that server away from the
    application without touching it (the machine's RabbitMQ, say).

    `start()` listens on its own port and forwards every connection to `target_port`;
    `stop()` closes the listener and cuts every forwarded connection, as a broker that went
    down would (connections then are refused); `start()` again listens on the same port.
    `hang()` accepts connections and never answers, as a broker behind a dead network would.
    """

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._forwarding = True

    def url(self, scheme: str, *, credentials: str = "", path: str = "/") -> str:
        at = f"{credentials}@" if credentials else ""
        return f"{scheme}://{at}127.0.0.1:{self.port}{path}"

    def start(self, *, forwarding: bool = True) -> None:
        self._forwarding = forwarding
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def hang(self) -> None:
        """Accept connections and answer nothing (a stopped proxy starts hanging)."""
        self.stop()
        self.start(forwarding=False)

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone does not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    return
                self._sockets.add(client)
            if not self._forwarding:
                continue  # held open, never read: the peer waits for an answer
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets.add(server)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
