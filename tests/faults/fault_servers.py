"""The settings of the fault tests' ``mengchong serve`` processes (tests/served.py starts them):
one set of services (database, Redis prefix, queue prefix) shared by all. Their queues are deleted
by the ``amqp_queues`` fixture: :data:`QUEUE_ENV` gives them the names that fixture deletes."""

from __future__ import annotations

from pathlib import Path

from served import ServerProcess, server_processes, with_logs

__all__ = ["QUEUE_ENV", "ServerProcess", "server_processes", "services_env", "with_logs"]

# Retries as the services profile's apps have them (conftest's APP_QUEUE_SETTINGS): the
# amqp_queues fixture deletes the servers' queues under the names these settings give them.
QUEUE_ENV = {"MENGCHONG__QUEUE__RETRY_BASE_SECONDS": "0.05", "MENGCHONG__QUEUE__MAX_ATTEMPTS": "3"}


def services_env(
    tmp_path: Path, database_url: str, redis_url: str, redis_prefix: str, amqp_url: str, queue_prefix: str
) -> dict[str, str]:
    """The MENGCHONG__ variables of servers sharing these services."""
    return {
        "MENGCHONG__APP__ENV": "test",
        "MENGCHONG__DATABASE__URL": database_url,
        "MENGCHONG__CACHE__URL": redis_url,
        "MENGCHONG__CACHE__PREFIX": redis_prefix,
        "MENGCHONG__QUEUE__URL": amqp_url,
        "MENGCHONG__QUEUE__PREFIX": queue_prefix,
        **QUEUE_ENV,
        "MENGCHONG__FILES__ROOT": str(tmp_path / "files"),
        "MENGCHONG__SERVER__ACCESS_LOG": "false",
        "MENGCHONG__EVENTS__RELAY_INTERVAL_SECONDS": "0.05",
    }
