"""The platform as it runs past one machine, on loopback: a primary and a streaming replica,
PgBouncer in transaction mode, two gunicorn app servers behind HAProxy, two Celery workers and
beat, Redis, and an SMTP sink standing in for the mail provider (docs/scaling.md).

    python -m tests.scaling.topology up      # make topology
    python -m tests.scaling.topology down    # make topology-down
    python -m tests.scaling.topology status

Every server is private: its own data in var/topology/ (state.json: ports, pids, data folders),
its own port from TOPOLOGY_PORT (default 18000) plus a fixed offset, on 127.0.0.1 only; the
machine's PostgreSQL, Redis and RabbitMQ are never touched (Redis is the broker too). The
programs are Debian's (postgresql-15, pgbouncer, haproxy, redis-server); .ci/run installs them.
The scale test (tests/scaling/test_scale.py) drives the same class in a folder of its own and
stops, kills and restarts its parts under load.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.celery.worker import CeleryBeat, CeleryWorker
from tests.servers import (
    REPOSITORY,
    Gunicorn,
    PrivateCluster,
    PrivatePgBouncer,
    PrivateRedis,
    as_server_user,
    project_command,
    require,
    wait_for_port,
)

DEFAULT_DIRECTORY = REPOSITORY / "var" / "topology"
DEFAULT_BASE_PORT = 18000
# Each server's port is the base plus its offset.
PORT_OFFSETS = {
    "haproxy": 0,
    "primary": 2,
    "replica": 3,
    "pgbouncer": 4,
    "redis": 5,
    "smtp": 6,
    "app1": 7,
    "app2": 8,
}
DATABASE = "booking"
ORGANIZATION = "drill-wash"  # tests.private_world's car wash
QUEUES = ["emails", "housekeeping", "celery"]  # config.settings.base.celery_queues("")
POOL_SIZE = 8  # PgBouncer's server connections to the primary, for 4 gunicorn + 2 Celery workers
APP_WORKERS = 2  # gunicorn workers per app server: the machine has 2 cores


class Topology:
    """Starts, stops and breaks the servers; `up()` builds everything from nothing."""

    def __init__(
        self,
        directory: Path = DEFAULT_DIRECTORY,
        base_port: int | None = None,
        settings: dict[str, str] | None = None,
    ):
        """`settings`: extra environment for the app servers and workers (the scale test
        raises the throttles with it)."""
        self.directory = directory
        self.state_path = directory / "state.json"
        base = base_port or int(os.environ.get("TOPOLOGY_PORT", DEFAULT_BASE_PORT))
        self.ports = {name: base + offset for name, offset in PORT_OFFSETS.items()}
        self.settings = settings or {}
        self.primary = PrivateCluster(directory / "primary", port=self.ports["primary"])
        self.replica = PrivateCluster(directory / "replica", port=self.ports["replica"])
        self.bouncer: PrivatePgBouncer | None = None
        self.redis: PrivateRedis | None = None
        self.apps: list[Gunicorn] = []
        self.workers: list[CeleryWorker] = []
        self.beat: CeleryBeat | None = None
        self.haproxy: subprocess.Popen | None = None
        self.smtp: subprocess.Popen | None = None

    # --- What clients see ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The front door: HAProxy."""
        return f"http://127.0.0.1:{self.ports['haproxy']}"

    @property
    def mail_path(self) -> Path:
        """The SMTP sink's record: a JSON line per accepted message (tests.scaling.smtp_sink)."""
        return self.directory / "mail.jsonl"

    def environment(self) -> dict[str, str]:
        """What every app server and worker runs with: the deployment's wiring, on loopback."""
        return {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.ports['pgbouncer']}/{DATABASE}",
            "DATABASE_POOLED": "true",
            "DATABASE_REPLICA_URLS": self.replica.url(DATABASE),
            "REDIS_URL": f"redis://127.0.0.1:{self.ports['redis']}/0",
            "CACHE_KEY_PREFIX": "topology",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.ports['redis']}/1",
            "EMAIL_URL": f"smtp://127.0.0.1:{self.ports['smtp']}",
            # A lost email is queued again within seconds, not half a minute.
            "EMAIL_SWEEP_SECONDS": "5",
            "EMAIL_SEND_CLAIM_SECONDS": "10",
            "SITE_URL": self.url,
        } | self.settings

    # --- Up and down -----------------------------------------------------------------------

    def up(self) -> None:
        """Build and start everything; on any failure stop what was started and raise."""
        for program in (
            "initdb",
            "pg_ctl",
            "pg_basebackup",
            "pgbouncer",
            "haproxy",
            "redis-server",
        ):
            require(program)
        busy = [f"{name} {port}" for name, port in self.ports.items() if not _port_free(port)]
        if busy:
            raise RuntimeError(
                f"Ports already in use: {', '.join(busy)}. Another topology? "
                "`make topology-down`, or choose another base with TOPOLOGY_PORT."
            )
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)
        try:
            self._start_databases()
            self._start_services()
        except BaseException:
            self.down()
            raise

    def _start_databases(self) -> None:
        for cluster in (self.primary, self.replica):
            _server_owned(cluster.directory)
        self.primary.init()
        self.primary.start()
        self._save()
        self.primary.psql(f"CREATE DATABASE {DATABASE}")
        # Behind a transaction-mode pooler, session settings come from the role
        # (docs/operations.md).
        for setting in ("statement_timeout = '10s'", "lock_timeout = '3s'", "jit = off"):
            self.primary.psql(f"ALTER ROLE postgres SET {setting}")
        direct = self.primary.url(DATABASE)  # migrations go around the pooler
        project_command(direct, "manage.py", "migrate", "--noinput")
        project_command(direct, "-m", "tests.private_world", "world")
        subprocess.run(
            as_server_user(
                [
                    require("pg_basebackup"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.primary.port),
                    "-U",
                    "postgres",
                    "-D",
                    str(self.replica.data),
                    "-R",
                    "-X",
                    "stream",
                    "-C",
                    "-S",
                    "topology_replica",
                    "--checkpoint=fast",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.replica.configure(
            {
                "port": str(self.replica.port),
                "unix_socket_directories": f"'{self.replica.directory}'",
            }
        )
        self.replica.start()
        self._save()
        bouncer_directory = self.directory / "pgbouncer"
        _server_owned(bouncer_directory)
        self.bouncer = PrivatePgBouncer(
            self.primary,
            DATABASE,
            pool_size=POOL_SIZE,
            directory=bouncer_directory,
            port=self.ports["pgbouncer"],
        )
        self.bouncer.start()
        self._save()

    def _start_services(self) -> None:
        self.redis = PrivateRedis(
            self.directory / "redis", appendfsync="everysec", port=self.ports["redis"]
        )
        self.redis.start()
        self._save()
        self.smtp = _detached(
            [
                sys.executable,
                "-m",
                "tests.scaling.smtp_sink",
                str(self.ports["smtp"]),
                str(self.mail_path),
            ],
            self.directory / "smtp.log",
        )
        wait_for_port(self.ports["smtp"], process=self.smtp)
        self._save()
        env = self.environment()
        self.apps = [
            Gunicorn(
                self.directory,
                env | {"GUNICORN_WORKERS": str(APP_WORKERS)},
                workers=APP_WORKERS,
                port=self.ports[name],
            )
            for name in ("app1", "app2")
        ]
        for app in self.apps:
            self._start_app(app)
        self.haproxy = _detached(
            [require("haproxy"), "-db", "-f", str(REPOSITORY / "deploy/topology/haproxy.cfg")],
            self.directory / "haproxy.log",
            env={
                "TOPOLOGY_HAPROXY_PORT": str(self.ports["haproxy"]),
                "TOPOLOGY_APP1_PORT": str(self.ports["app1"]),
                "TOPOLOGY_APP2_PORT": str(self.ports["app2"]),
            },
        )
        wait_for_port(self.ports["haproxy"], process=self.haproxy)
        self._save()
        for number in (1, 2):
            self.start_worker(number)
        self.beat = CeleryBeat(env=env, directory=self.directory / "beat")
        self._save()
        for worker in self.workers:
            worker.wait_ready()

    def down(self) -> None:
        """Stop everything this topology started (from state.json if this process did not start
        it), then delete its folder."""
        for app in self.apps:
            app.stop()
        for process in (self.haproxy, self.smtp):
            _stop_group(process.pid if process else None, process)
        for worker in self.workers:
            worker.kill()
        if self.beat is not None:
            self.beat.kill()
        if self.bouncer is not None:
            self.bouncer.stop()
        if self.redis is not None:
            self.redis.stop()
        state = self._load()
        for pid in state.get("pids", {}).values():
            _stop_group(pid)
        for cluster in (self.replica, self.primary):
            if (cluster.data / "postmaster.pid").exists():
                cluster.stop("fast")
        shutil.rmtree(self.directory, ignore_errors=True)

    def status(self) -> dict:
        state = self._load()
        running = {name: pid for name, pid in state.get("pids", {}).items() if _alive(pid)}
        return {"url": self.url, "ports": state.get("ports", {}), "running": running}

    # --- Breaking it (the scale test) ------------------------------------------------------

    def stop_app(self, number: int) -> None:
        self.apps[number - 1].stop()
        self._save()

    def start_app(self, number: int) -> None:
        self._start_app(self.apps[number - 1])

    def _start_app(self, app: Gunicorn) -> None:
        """Start it and wait until its workers answer (HAProxy then finds it up at once)."""
        app.start()
        self._save()
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{app.url}/health/live", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{app.url} did not answer /health/live:\n{app.log()[-3000:]}")
            time.sleep(0.2)

    def stop_replica(self) -> None:
        self.replica.stop("fast")

    def start_replica(self) -> None:
        self.replica.start()

    def restart_pgbouncer(self) -> None:
        """Stop (every client connection drops) and start again on the same port."""
        assert self.bouncer is not None
        self.bouncer.stop()
        self.bouncer.start()
        self._save()

    def start_worker(self, number: int) -> None:
        worker = CeleryWorker(
            queues=QUEUES, env=self.environment(), log_path=self.directory / f"worker{number}.log"
        )
        if number <= len(self.workers):
            self.workers[number - 1] = worker
        else:
            self.workers.append(worker)
        self._save()

    def kill_worker(self, number: int) -> None:
        """SIGKILL a worker and its pool child: a crashed machine, no warm shutdown."""
        self.workers[number - 1].kill()

    def logs(self) -> str:
        """The tail of every log, for a failing test's message."""
        paths = sorted(self.directory.glob("*.log")) + sorted(self.directory.glob("*/*.log"))
        return "\n".join(
            f"--- {path}\n{path.read_text(errors='replace')[-3000:]}" for path in paths
        )

    # --- state.json --------------------------------------------------------------------------

    def _save(self) -> None:
        pids = {f"app{n}": app.process.pid for n, app in enumerate(self.apps, 1) if app.process}
        pids |= {f"worker{n}": w.process.pid for n, w in enumerate(self.workers, 1)}
        named = {
            "haproxy": self.haproxy,
            "smtp": self.smtp,
            "redis": self.redis.process if self.redis else None,
            "pgbouncer": self.bouncer.process if self.bouncer else None,
            "beat": self.beat.process if self.beat else None,
        }
        pids |= {name: process.pid for name, process in named.items() if process is not None}
        state = {
            "url": self.url,
            "ports": self.ports,
            "pids": pids,
            "clusters": {"primary": str(self.primary.data), "replica": str(self.replica.data)},
            "environment": self.environment(),
        }
        self.state_path.write_text(json.dumps(state, indent=2) + "\n")

    def _load(self) -> dict:
        if not self.state_path.exists():
            return {}
        return json.loads(self.state_path.read_text())


def _port_free(port: int) -> bool:
    """Nothing listens on it (connections of a past run waiting out TIME_WAIT do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _server_owned(directory: Path) -> None:
    """A folder PostgreSQL's programs (run as `postgres` under root) may write."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")


def _detached(command: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    """A server in a session of its own: it outlives `make topology`, and a signal to its
    process group reaches its children."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            cwd=REPOSITORY,
            env=os.environ | (env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stop_group(pid: int | None, process: subprocess.Popen | None = None) -> None:
    """SIGTERM a process group, SIGKILL it if still there after 20 s."""
    if pid is None or not _alive(pid):
        return
    for signum, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.1)
            if not _alive(pid):
                return
            time.sleep(0.1)


def main(command: str) -> int:
    topology = Topology()
    if command == "up":
        if topology.status()["running"]:
            print("The topology is up already; `make topology-down` first.", file=sys.stderr)
            return 1
        topology.down()  # whatever a crashed run left
        try:
            topology.up()
        except pytest.skip.Exception as missing:
            print(f"Cannot start the topology: {missing.msg}", file=sys.stderr)
            return 2
        print(f"Topology up: {topology.url}/{ORGANIZATION}/ (state: {topology.state_path})")
        for name, port in topology.ports.items():
            print(f"  {name:10} 127.0.0.1:{port}")
        print(f"  emails     {topology.mail_path}")
        return 0
    if command == "down":
        topology.down()
        print("Topology down.")
        return 0
    if command == "status":
        print(json.dumps(topology.status(), indent=2))
        return 0
    print("usage: python -m tests.scaling.topology up|down|status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
