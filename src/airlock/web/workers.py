"""`airlock serve --workers N`: a minimal supervisor and the workers it starts.

`airlock serve` resolves the settings and runs the migrations (the CLI, pydantic, Alembic
and SQLAlchemy: ~100 MiB), then replaces itself with this module (`exec`, same PID). The
supervisor imports the standard library only (~11 MiB instead of ~33 MiB with uvicorn and
the logging set-up, and no multiprocessing resource tracker, another ~12 MiB): it binds
the listening socket, starts N workers (`python -m airlock.web.workers worker`, fresh
interpreters that inherit the socket), restarts one that exits or stops sending its
heartbeat for `HEALTHCHECK_SECONDS`, and on SIGTERM/SIGINT stops them all and waits.
SIGHUP restarts the workers one by one.

Each worker runs uvicorn on the inherited socket with the app factory
`airlock.web.asgi:app_from_environment`, and writes a heartbeat byte to a pipe from its
event loop every `HEARTBEAT_SECONDS` (uvicorn's `callback_notify`): a worker whose loop is
stuck stops beating and is replaced. A worker whose supervisor is gone (the pipe is
broken) shuts down.

Plain values only here (json, not pydantic): the full settings travel to the workers as
JSON in SETTINGS_ENV; this process reads the few it needs from the same JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import time
from typing import Any, NoReturn

# Not AIRLOCK_*: the settings loader must not read them as settings.
SETTINGS_ENV = "AIRLOCKD_SERVE_SETTINGS"
WORKERS_ENV = "AIRLOCKD_SERVE_WORKERS"
LISTEN_FD_ENV = "AIRLOCKD_LISTEN_FD"
HEARTBEAT_FD_ENV = "AIRLOCKD_HEARTBEAT_FD"
# A worker that has not sent a heartbeat for this many seconds (counted from its start,
# so it also bounds the start-up: imports and opening the database) is killed and
# replaced. uvicorn's 5 s default was shorter than a worker's start-up on a busy host.
HEALTHCHECK_SECONDS = 60
HEARTBEAT_SECONDS = 5
# A worker that exits within this many seconds of its start is restarted after a pause
# (a crash at start-up must not become a busy loop of spawns).
_QUICK_EXIT_SECONDS = 10
_RESPAWN_PAUSE_SECONDS = 1.0
# Beyond the workers' own graceful shutdown, how long the supervisor waits before SIGKILL.
_KILL_MARGIN_SECONDS = 5
_BACKLOG = 2048  # uvicorn's default


def worker_count(configured: int | None) -> int:
    return configured or os.cpu_count() or 1


def uvicorn_options(settings: dict[str, Any]) -> dict[str, Any]:
    """What every `airlock serve` hands uvicorn, from the settings as plain JSON values."""
    return {
        "host": settings["host"],
        "port": settings["port"],
        "log_level": settings["log_level"],
        "access_log": False,
        "server_header": False,
        # Airlock reads X-Forwarded-For itself, and only from `trusted_proxies`
        # (web/client_address.py): uvicorn's default trusts it from any loopback peer.
        "proxy_headers": False,
        "log_config": None,  # configure_logging set up logging (JSON or text)
        "timeout_graceful_shutdown": _grace_seconds(settings),
    }


def _grace_seconds(settings: dict[str, Any]) -> int:
    return max(1, round(float(settings["shutdown_timeout_seconds"])))


def exec_supervisor(settings_json: str, workers: int) -> NoReturn:
    """Become the supervisor (never returns). The environment carries the settings."""
    env = {**os.environ, SETTINGS_ENV: settings_json, WORKERS_ENV: str(workers)}
    # glibc gives each thread that allocates its own malloc arena (the database driver's
    # and the thread pool's threads); their fragments kept ~15 MiB more per worker after
    # load. Two arenas (read at process start, so here, before the workers are started);
    # an operator's own value wins.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "airlock.web.workers"], env)  # noqa: S606 (our own interpreter, fixed arguments)


# --- supervisor ---------------------------------------------------------------------


def _log(settings: dict[str, Any], level: str, message: str) -> None:
    """One log line in the configured format (the supervisor does not load structlog)."""
    levels = ("debug", "info", "warning", "error", "critical")
    if levels.index(level) < levels.index(str(settings["log_level"]).lower()):
        return
    fmt = settings["log_format"]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if fmt == "json" or (fmt == "auto" and not sys.stderr.isatty()):
        line = json.dumps(
            {"event": message, "level": level, "logger": "airlock.supervisor", "timestamp": stamp}
        )
    else:
        line = f"{stamp} [{level:<9}] {message} [airlock.supervisor]"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(_BACKLOG)
    sock.set_inheritable(True)
    return sock


class _Worker:
    # (Not a dataclass: `dataclasses` imports `inspect`, a few MiB in this small process.)
    __slots__ = ("beats", "last_beat", "pid", "started")

    def __init__(self, pid: int, beats: int, started: float) -> None:
        self.pid = pid
        self.beats = beats  # read end of its heartbeat pipe
        self.started = started
        self.last_beat = started


class Supervisor:
    def __init__(self, settings: dict[str, Any], count: int) -> None:
        self.settings = settings
        self.count = count
        self.sock = _bind(settings["host"], settings["port"])
        self.workers: dict[int, _Worker] = {}  # slot -> worker
        self.due: dict[int, float] = {}  # slot -> when to start its next worker
        self.stopping = False
        self.restart_all = False

    def run(self) -> int:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._hup)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select via the wakeup fd
        _log(self.settings, "info", f"Supervisor [{os.getpid()}] starting {self.count} workers")
        for slot in range(self.count):
            self._spawn(slot)
        while not self.stopping:
            self._step(wake_r)
        self._shutdown()
        return 0

    def _stop(self, *_: Any) -> None:
        self.stopping = True

    def _hup(self, *_: Any) -> None:
        self.restart_all = True

    def _spawn(self, slot: int) -> None:
        beats_r, beats_w = os.pipe()
        os.set_inheritable(beats_w, True)
        env = {
            **os.environ,
            LISTEN_FD_ENV: str(self.sock.fileno()),
            HEARTBEAT_FD_ENV: str(beats_w),
        }
        argv = [sys.executable, "-m", "airlock.web.workers", "worker"]
        try:
            pid = os.posix_spawn(sys.executable, argv, env)
        finally:
            os.close(beats_w)
        os.set_blocking(beats_r, False)
        now = time.monotonic()
        self.workers[slot] = _Worker(pid, beats_r, now)

    def _step(self, wake_r: int) -> None:
        fds = [wake_r, *(w.beats for w in self.workers.values())]
        try:
            ready, _, _ = select.select(fds, [], [], 1.0)
        except InterruptedError:
            ready = []
        if wake_r in ready:
            while True:
                try:
                    if not os.read(wake_r, 512):
                        break
                except BlockingIOError:
                    break
        now = time.monotonic()
        for worker in self.workers.values():
            if worker.beats in ready:
                try:
                    if os.read(worker.beats, 512):
                        worker.last_beat = now
                except BlockingIOError:
                    pass
        self._reap(now)
        for worker in self.workers.values():
            if now - worker.last_beat > HEALTHCHECK_SECONDS:
                _log(
                    self.settings,
                    "error",
                    f"Worker [{worker.pid}] sent no heartbeat for {HEALTHCHECK_SECONDS} s;"
                    " killing it",
                )
                worker.last_beat = now  # one kill; its exit is reaped above next time
                self._signal(worker.pid, signal.SIGKILL)
        if self.restart_all:
            self.restart_all = False
            _log(self.settings, "info", "SIGHUP: restarting the workers")
            for worker in self.workers.values():
                self._signal(worker.pid, signal.SIGTERM)
        for slot, when in list(self.due.items()):
            if now >= when and not self.stopping:
                del self.due[slot]
                self._spawn(slot)

    def _reap(self, now: float) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for slot, worker in list(self.workers.items()):
                if worker.pid != pid:
                    continue
                del self.workers[slot]
                os.close(worker.beats)
                if not self.stopping:
                    _log(
                        self.settings,
                        "warning",
                        f"Worker [{pid}] exited ({_describe(status)}); starting another",
                    )
                    quick = now - worker.started < _QUICK_EXIT_SECONDS
                    self.due[slot] = now + (_RESPAWN_PAUSE_SECONDS if quick else 0.0)

    def _signal(self, pid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def _shutdown(self) -> None:
        _log(self.settings, "info", "Stopping the workers")
        for worker in self.workers.values():
            self._signal(worker.pid, signal.SIGTERM)
        self.sock.close()
        deadline = time.monotonic() + _grace_seconds(self.settings) + _KILL_MARGIN_SECONDS
        while self.workers and time.monotonic() < deadline:
            self._reap(time.monotonic())
            time.sleep(0.05)
        for worker in self.workers.values():
            _log(self.settings, "error", f"Worker [{worker.pid}] did not stop; killing it")
            self._signal(worker.pid, signal.SIGKILL)
        while self.workers:
            self._reap(time.monotonic())
            time.sleep(0.05)
        _log(self.settings, "info", "Supervisor stopped")


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"code {os.waitstatus_to_exitcode(status)}"


# --- worker -------------------------------------------------------------------------


_WORKER_SKIPS = ("rich", "pydantic.v1")


def run_worker() -> None:
    """One worker: uvicorn on the supervisor's socket, the app built from the settings."""
    # Optional imports a worker does not need, refused (ImportError) so they are never
    # loaded: structlog renders tracebacks with rich when it can import it (rich and
    # pygments, ~4 MiB; Airlock's logs use plain tracebacks), and FastAPI checks each
    # route's models against pydantic.v1 when it can import it (~2 MiB; none are).
    for optional in _WORKER_SKIPS:
        sys.modules.setdefault(optional, None)  # type: ignore[arg-type]
    import uvicorn

    from airlock.observability.logs import configure_logging

    settings = json.loads(os.environ[SETTINGS_ENV])
    configure_logging(settings["log_level"], settings["log_format"])
    sock = socket.socket(fileno=int(os.environ[LISTEN_FD_ENV]))
    beats = int(os.environ[HEARTBEAT_FD_ENV])
    os.set_blocking(beats, False)
    server: uvicorn.Server

    async def heartbeat() -> None:
        try:
            os.write(beats, b".")
        except BlockingIOError:
            pass  # the supervisor is behind on reading: it has beats already
        except OSError:
            server.should_exit = True  # the supervisor is gone

    config = uvicorn.Config(
        "airlock.web.asgi:app_from_environment",
        factory=True,
        # Built in each worker from the same settings (web/connections.py).
        http="airlock.web.connections:WorkerHttpProtocol",
        callback_notify=heartbeat,
        timeout_notify=HEARTBEAT_SECONDS,
        **uvicorn_options(settings),
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])


def main() -> None:
    if sys.argv[1:] == ["worker"]:
        run_worker()
        return
    settings = json.loads(os.environ[SETTINGS_ENV])
    sys.exit(Supervisor(settings, int(os.environ[WORKERS_ENV])).run())


if __name__ == "__main__":
    main()
