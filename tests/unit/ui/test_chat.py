"""Chat callbacks with a scripted answerer: streaming, cited elements, bad input, history, resume."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from assistant.errors import ConfigError
from assistant.models import Answer, Citation
from tests.unit.api.conftest import make_answer
from tests.unit.ui.conftest import step
from ui import runtime


class ScriptedAnswerer:
    def __init__(self, answer: Answer | None = None, error: BaseException | None = None) -> None:
        self.answer, self.error, self.calls = answer, error, []

    def stream(self, question: str, history: Any, user: Any, *, filters: Any = None,
               channel: str = "cli") -> Iterator[dict[str, Any]]:
        self.calls.append({"question": question, "history": list(history), "user": user, "filters": filters,
                           "channel": channel})
        if self.error is not None:
            raise self.error
        return iter([{"type": "delta", "text": "Failed payments "}, {"type": "delta", "text": "are retried [1]."},
                     {"type": "answer", "answer": self.answer}])


@pytest.fixture
def chat(container: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake = ScriptedAnswerer(make_answer())
    rt = runtime.install(container, answerer=fake, retriever=object())
    rt.users.create("alice", password="alice-password")
    import chainlit.message

    from ui import chat as chat_module

    sent: list[Any] = []

    async def record(self: Any) -> Any:
        sent.append(self)
        return self

    monkeypatch.setattr(chainlit.message.Message, "send", record)
    chat_module.sent, chat_module.fake = sent, fake  # type: ignore[attr-defined]
    yield chat_module
    runtime.uninstall()


def ask(chat: Any, text: str, user: str | None = "alice") -> list[Any]:
    import chainlit as cl
    from chainlit.context import init_http_context

    async def main() -> None:
        init_http_context(user=cl.User(identifier=user) if user else None)
        cl.user_session.set("history", [{"role": "user", "content": "earlier?"},
                                        {"role": "assistant", "content": "earlier [1]"}])
        await chat.on_message(cl.Message(content=text))

    asyncio.run(main())
    return chat.sent


def test_a_streamed_answer_carries_citations_interaction_and_flag_action(chat: Any) -> None:
    sent = ask(chat, "where are failed payments retried?")
    reply = sent[-1]
    assert reply.content.startswith("Failed payments are retried in")
    assert reply.metadata["interaction_id"] == 42
    assert [e.name for e in reply.elements] == ["[1]", "[2]"]
    assert all(e.display == "side" for e in reply.elements)
    assert "L1-L20" in reply.elements[0].content and "STALE" in reply.elements[1].content
    assert [a.id for a in reply.actions] == ["sw-flag-42"]
    assert reply.actions[0].payload["sources"][0][0] == 1
    call = chat.fake.calls[-1]
    assert call["channel"] == "ui" and call["user"].name == "alice" and len(call["history"]) == 2


def test_empty_input_gets_guidance_without_asking(chat: Any) -> None:
    sent = ask(chat, "   \n ")
    assert "Type a question" in sent[-1].content and chat.fake.calls == []


def test_sourcewise_errors_are_shown_and_others_apologise(chat: Any) -> None:
    chat.fake.error = ConfigError("the question is 100,000 characters; the limit is 8,000.")
    assert "the limit is 8,000" in ask(chat, "x" * 100_000)[-1].content

    boom = RuntimeError("secret internals at /srv/db")
    boom.interaction_id = 99  # type: ignore[attr-defined]
    chat.fake.error = boom
    text = ask(chat, "anything")[-1].content
    assert "interaction 99" in text and "secret internals" not in text and "Traceback" not in text


def test_signed_out_callers_are_refused_unless_anonymous_is_allowed(chat: Any) -> None:
    assert "sign in" in ask(chat, "where?", user=None)[-1].content
    assert chat.fake.calls == []


def test_history_comes_from_answered_turns_only() -> None:
    from ui.chat import history_from_steps

    steps = [step("1", "t", type="user_message", output="first?"),
             step("2", "t", output="first answer [1]", metadata={"interaction_id": 1}),
             step("3", "t", type="assistant_message", output="Which source?", metadata={}),
             step("4", "t", type="user_message", output="skip"),
             step("5", "t", type="user_message", output="second?"),
             step("6", "t", output="second answer", metadata={"interaction_id": 2})]
    assert history_from_steps(steps) == [
        {"role": "user", "content": "first?"}, {"role": "assistant", "content": "first answer [1]"},
        {"role": "user", "content": "second?"}, {"role": "assistant", "content": "second answer"}]


def test_an_answer_without_citations_has_no_flag_action(chat: Any) -> None:
    chat.fake.answer = make_answer(citations=(), text="Nothing relevant found.", supported=False)
    reply = ask(chat, "unknown thing?")[-1]
    assert reply.elements == [] and reply.actions == []
    assert isinstance(make_answer().citations[0], Citation)


def test_a_thread_whose_source_was_removed_still_opens(chat: Any, container: Any) -> None:
    import chainlit as cl
    from chainlit.context import init_http_context

    container.catalog.add_source("handbook", "docs", "/x", access_groups=["everyone"])

    async def main() -> Any:
        init_http_context(user=cl.User(identifier="alice"))
        cl.user_session.set("source", "payments-retired")
        await chat.on_chat_resume({"id": "t", "steps": [
            step("1", "t", type="user_message", output="q?"),
            step("2", "t", output="a [1]", metadata={"interaction_id": 5})]})
        return cl.user_session.get("source"), cl.user_session.get("history")

    source, history = asyncio.run(main())
    assert source == chat.ALL_SOURCES and len(history) == 2
    assert any("no longer available" in m.content for m in chat.sent)
