"""What every CLI command opens: the container (with the writer lock when it writes) and
the actor name the audit log records for the local user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from assistant.container import Container, build
from assistant.lock import WriterLock
from assistant.settings import load_settings


@contextmanager
def open_container(write: bool = False) -> Iterator[Container]:
    """Settings from the environment, backends built lazily; ``write`` takes the data dir's lock."""
    settings = load_settings()
    lock = WriterLock(settings.home).acquire() if write else None
    container = build(settings)
    try:
        yield container
    finally:
        container.close()
        if lock:
            lock.release()


def cli_actor() -> str:
    """Who ran a CLI admin action, for the audit log: ``cli:<OS user>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
