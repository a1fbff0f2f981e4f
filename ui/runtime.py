"""The hand-off between the composition root and the Chainlit module.

Chainlit registers callbacks at module level and loads the chat module itself, so the
built ``Container`` cannot be passed to it as an argument. ``ui.server`` installs it
here before Chainlit loads ``ui/chat.py``; the chat callbacks, auth callbacks and the
data layer read it back. This is the only module-level state in ``ui``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.answer import Answerer
    from assistant.api.deps import Services
    from assistant.container import Container
    from assistant.feedback import FeedbackService
    from assistant.settings import Settings
    from assistant.users import UserStore


@dataclass
class UiRuntime:
    """What the chat needs from the composition root, built lazily like the API's."""

    container: Container
    services: Services
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _answerers: dict[str, Any] = field(default_factory=dict, repr=False)
    _users: Any = field(default=None, repr=False)
    _feedback: Any = field(default=None, repr=False)
    _chat_writer: Any = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        return self.container.settings

    @property
    def users(self) -> UserStore:
        if self._users is None:
            self._users = getattr(self.container, "users", None) or _user_store(self.container)
        return self._users  # type: ignore[no-any-return]

    @property
    def feedback(self) -> FeedbackService:
        if self._feedback is None:
            self._feedback = getattr(self.container, "feedback", None) or _feedback_service(self.container)
        return self._feedback  # type: ignore[no-any-return]

    @property
    def chat_writer(self) -> Any:
        """The chat history's write-behind queue (``ui.chat_writer``), started on first use."""
        with self._lock:
            if self._chat_writer is None:
                from ui.chat_writer import ChatWriter

                self._chat_writer = ChatWriter(self.container.db)
            return self._chat_writer

    def close(self) -> None:
        """Write the queued chat history; call before the container closes."""
        with self._lock:
            writer, self._chat_writer = self._chat_writer, None
        if writer is not None:
            writer.close()

    def app_setting(self, key: str, default: Any) -> Any:
        """A run-time setting an admin changed (``assistant.app_settings``), else the file default."""
        try:
            from assistant.app_settings import AppSettings

            return AppSettings(self.container.db).get(key, default)
        except Exception:  # noqa: BLE001 - an unreadable override must not break the chat
            return default

    def generators(self) -> list[str]:
        """Generators a user may pick: the configured one, and ``extractive`` (needs no model)."""
        configured = self.settings.generation.generator
        return [configured] if configured == "extractive" else [configured, "extractive"]

    def answerer(self, generator: str | None = None) -> Answerer:
        """The answerer for ``generator`` (default: the configured one). Blocking: call from a thread."""
        configured = self.settings.generation.generator
        if generator in (None, configured) or generator not in self.generators():
            return self.services.answerer()
        with self._lock:
            if generator not in self._answerers:
                from assistant.answer import Answerer, build_generator

                cfg = self.settings.generation.model_copy(update={"generator": generator})
                self._answerers[generator] = Answerer(
                    self.services.retriever(), build_generator(cfg), self.container.catalog, self.settings,
                    router=False,  # the user picked this generator: no route
                    metrics=getattr(self.container, "metrics", None))
            return self._answerers[generator]  # type: ignore[no-any-return]


def _user_store(container: Container) -> UserStore:
    from assistant.users import UserStore

    return UserStore(container.db)


def _feedback_service(container: Container) -> FeedbackService:
    from assistant.audit import AuditLog
    from assistant.feedback import FeedbackService

    return FeedbackService(container.db, getattr(container, "audit", None) or AuditLog(container.db),
                           getattr(container, "notifier", None), metrics=getattr(container, "metrics", None))


_current: UiRuntime | None = None


def install(container: Container, *, services: Services | None = None, answerer: Any = None,
            retriever: Any = None) -> UiRuntime:
    """Register the built container (and, in tests, fake answerer/retriever) for the chat."""
    global _current
    if services is None:
        from assistant.api.deps import Services

        services = Services(container, answerer=answerer, retriever=retriever)
    _current = UiRuntime(container, services)
    return _current


def current() -> UiRuntime:
    """The installed runtime; raises when the chat module runs without ``ui.server``."""
    if _current is None:
        raise RuntimeError("the chat UI runs inside `sourcewise serve` (ui.server.create_server_app)")
    return _current


def uninstall() -> None:
    global _current
    if _current is not None:
        _current.close()
    _current = None
