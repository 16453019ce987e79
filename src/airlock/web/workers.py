"""The parent process of `airlock serve --workers N`: a slim supervisor.

`airlock serve` resolves the settings and runs the migrations (the CLI, pydantic, Alembic
and SQLAlchemy: ~100 MiB), then replaces itself with this module (`exec`, same PID), so the
process that holds the listening socket and keeps the workers alive carries none of that:
it imports uvicorn and the logging set-up only. Each worker is a fresh interpreter
(multiprocessing "spawn") that imports this module as its `__mp_main__` (cheap) and then
the app factory `airlock.web.asgi:app_from_environment`.

Plain values only here (json, not pydantic): the full settings travel to the workers as
JSON in SETTINGS_ENV; this process reads the few it needs from the same JSON.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

# Not AIRLOCK_*: the settings loader must not read them as settings.
SETTINGS_ENV = "AIRLOCKD_SERVE_SETTINGS"
WORKERS_ENV = "AIRLOCKD_SERVE_WORKERS"
# uvicorn's parent pings each worker and replaces one that has not answered within this
# many seconds (its default, 5 s, is shorter than a worker's start-up on a busy host: the
# workers were killed and respawned forever).
HEALTHCHECK_SECONDS = 60


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
        "timeout_graceful_shutdown": max(1, round(settings["shutdown_timeout_seconds"])),
        "timeout_worker_healthcheck": HEALTHCHECK_SECONDS,
    }


def exec_supervisor(settings_json: str, workers: int) -> NoReturn:
    """Become the supervisor (never returns). The environment carries the settings."""
    env = {**os.environ, SETTINGS_ENV: settings_json, WORKERS_ENV: str(workers)}
    # glibc gives each thread that allocates its own malloc arena (the database driver's
    # and the thread pool's threads); their fragments kept ~15 MiB more per worker after
    # load. Two arenas (read at process start, so here, before the workers are spawned);
    # an operator's own value wins.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "airlock.web.workers"], env)  # noqa: S606 (our own interpreter, fixed arguments)


def main() -> None:
    import uvicorn

    from airlock.observability.logs import configure_logging

    settings = json.loads(os.environ[SETTINGS_ENV])
    configure_logging(settings["log_level"], settings["log_format"])
    uvicorn.run(
        "airlock.web.asgi:app_from_environment",
        factory=True,
        workers=int(os.environ[WORKERS_ENV]),
        # Built in each worker from the same settings (web/connections.py).
        http="airlock.web.connections:WorkerHttpProtocol",
        **uvicorn_options(settings),
    )


if __name__ == "__main__":
    main()
