"""The chat data layer: threads persist in the catalog and only their owner reads or changes
them; Chainlit's native thumbs end in FeedbackService rows on the step's interaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from chainlit.context import init_http_context
from chainlit.types import Feedback, Pagination, ThreadFilter
from sqlalchemy import select

from assistant.catalog.schema import FeedbackRow
from assistant.errors import PermissionDeniedError
from tests.unit.ui.conftest import as_caller, interaction, step
from ui.data_layer import CatalogDataLayer


def run(caller: str | None, fn: Callable[[], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        init_http_context()  # Chainlit's own HTTP-side context: queued writes run at once
        with as_caller(caller):
            return await fn()

    return asyncio.run(main())


def make_thread(dl: CatalogDataLayer, owner: str, thread_id: str, iid: int | None = None) -> None:
    run(owner, lambda: dl.update_thread(thread_id, name="where are payments retried?", user_id=owner))
    run(owner, lambda: dl.create_step(step("u-" + thread_id, thread_id, type="user_message", output="question?")))
    meta = {"interaction_id": iid} if iid is not None else {}
    run(owner, lambda: dl.create_step(step("a-" + thread_id, thread_id, metadata=meta)))


def test_threads_round_trip_for_their_owner(rt: Any) -> None:
    dl = CatalogDataLayer()
    make_thread(dl, "alice", "t1", iid=7)
    run("alice", lambda: dl.update_thread("t1", metadata={"source": "payments", "gone": None}))
    thread = run("alice", lambda: dl.get_thread("t1"))
    assert thread["userIdentifier"] == "alice" and thread["name"].startswith("where")
    assert [s["type"] for s in thread["steps"]] == ["user_message", "assistant_message"]
    assert thread["steps"][1]["metadata"]["interaction_id"] == 7
    assert thread["metadata"]["source"] == "payments"
    page = run("alice", lambda: dl.list_threads(Pagination(first=10), ThreadFilter(userId="alice")))
    assert [t["id"] for t in page.data] == ["t1"]
    assert run("alice", lambda: dl.get_thread_author("t1")) == "alice"


def test_another_user_cannot_read_list_change_or_delete_a_thread(rt: Any) -> None:
    dl = CatalogDataLayer()
    make_thread(dl, "alice", "t1")
    assert run("bob", lambda: dl.get_thread("t1")) is None
    assert run(None, lambda: dl.get_thread("t1")) is None
    assert run("bob", lambda: dl.list_threads(Pagination(first=10), ThreadFilter(userId="alice"))).data == []
    for attempt in (lambda: dl.delete_thread("t1"),
                    lambda: dl.update_thread("t1", name="mine now"),
                    lambda: dl.create_step(step("evil", "t1")),
                    lambda: dl.delete_step("a-t1")):
        with pytest.raises(PermissionDeniedError):
            run("bob", attempt)
    assert run("alice", lambda: dl.get_thread("t1"))["name"].startswith("where")


def test_native_thumbs_map_to_feedback_rows_and_only_for_the_owner(rt: Any, container: Any) -> None:
    dl = CatalogDataLayer()
    iid = interaction(container, "alice")
    make_thread(dl, "alice", "t1", iid=iid)
    fid = run("alice", lambda: dl.upsert_feedback(Feedback(forId="a-t1", value=0, comment="old docs")))
    with container.db.session() as s:
        row = s.scalar(select(FeedbackRow).where(FeedbackRow.interaction_id == iid))
        assert (row.user_name, row.value, row.comment) == ("alice", "down", "old docs")
    thread = run("alice", lambda: dl.get_thread("t1"))
    assert thread["steps"][1]["feedback"] == {"forId": "a-t1", "id": fid, "value": 0, "comment": "old docs"}

    with pytest.raises(PermissionDeniedError):
        run("bob", lambda: dl.upsert_feedback(Feedback(forId="a-t1", value=1)))
    with pytest.raises(PermissionDeniedError):
        run("bob", lambda: dl.delete_feedback(fid))
    with container.db.session() as s:
        assert s.scalar(select(FeedbackRow).where(FeedbackRow.interaction_id == iid)).value == "down"

    assert run("alice", lambda: dl.delete_feedback(fid)) is True
    with container.db.session() as s:
        assert s.scalar(select(FeedbackRow).where(FeedbackRow.interaction_id == iid)) is None


def test_thumbs_on_the_run_step_rate_its_answer(rt: Any, container: Any) -> None:
    """Chainlit 2's browser puts the thumbs on the ``on_message`` run step, whose child
    assistant message carries the interaction id (found by the e2e suite)."""
    dl = CatalogDataLayer()
    iid = interaction(container, "alice")
    make_thread(dl, "alice", "t1")
    run("alice", lambda: dl.create_step(step("run-1", "t1", type="run", name="on_message", output="")))
    run("alice", lambda: dl.create_step(step("ans-1", "t1", parentId="run-1", metadata={"interaction_id": iid})))
    run("alice", lambda: dl.upsert_feedback(Feedback(forId="run-1", value=0, comment="stale")))
    with container.db.session() as s:
        row = s.scalar(select(FeedbackRow).where(FeedbackRow.interaction_id == iid))
        assert (row.user_name, row.value, row.comment) == ("alice", "down", "stale")


def test_feedback_on_an_unknown_step_is_refused(rt: Any) -> None:
    with pytest.raises(PermissionDeniedError):
        run("alice", lambda: CatalogDataLayer().upsert_feedback(Feedback(forId="nope", value=1)))


def test_elements_keep_their_text_for_the_owner_only(rt: Any) -> None:
    import chainlit as cl

    dl = CatalogDataLayer()
    make_thread(dl, "alice", "t1")
    element = cl.Text(name="[1]", content="```\n1 | <script>x</script>\n```", display="side",
                      thread_id="t1", for_id="a-t1")
    run("alice", lambda: dl.create_element(element))
    thread = run("alice", lambda: dl.get_thread("t1"))
    stored = thread["elements"][0]
    assert stored["name"] == "[1]" and stored["url"] == f"/chat-element/{element.id}"
    assert dl.element_content(element.id, "alice") == element.content
    assert dl.element_content(element.id, "bob") is None
    assert run("bob", lambda: dl.get_element("t1", element.id)) is None
    with pytest.raises(PermissionDeniedError):
        run("bob", lambda: dl.delete_element(element.id, "t1"))


def test_oversized_ids_are_refused_and_oversized_fields_clipped_alike_on_every_database(rt: Any) -> None:
    """Regression (PostgreSQL enforces VARCHAR lengths, SQLite does not): a hostile client's
    100-character ids and field values were stored on SQLite and failed the write on PostgreSQL."""
    import chainlit as cl

    dl = CatalogDataLayer()
    with pytest.raises(PermissionDeniedError):
        run("alice", lambda: dl.update_thread("t" * 100, name="long id", user_id="alice"))
    make_thread(dl, "alice", "t1")
    with pytest.raises(PermissionDeniedError):
        run("alice", lambda: dl.create_step(step("s" * 100, "t1")))
    run("alice", lambda: dl.create_step(step("odd", "t1", type="x" * 100, language="y" * 100,
                                             parentId="p" * 100, showInput="z" * 100)))
    element = cl.Text(name="[9]", content="text", display="side", thread_id="t1", for_id="odd",
                      mime="m" * 300, language="l" * 100)
    run("alice", lambda: dl.create_element(element))
    thread = run("alice", lambda: dl.get_thread("t1"))
    odd = next(s for s in thread["steps"] if s["id"] == "odd")
    assert (odd["type"], odd["language"], odd["parentId"]) == ("x" * 40, "y" * 40, None)
    stored = next(e for e in thread["elements"] if e["name"] == "[9]")
    assert (stored["mime"], stored["language"]) == ("m" * 200, "l" * 40)
    assert run("alice", lambda: dl.get_thread("t" * 100)) is None


def test_users_are_catalog_accounts(rt: Any) -> None:
    dl = CatalogDataLayer()
    user = run(None, lambda: dl.get_user("alice"))
    assert (user.id, user.identifier) == ("alice", "alice")
    assert run(None, lambda: dl.get_user("nobody")) is None
    rt.users.disable("bob")
    assert run(None, lambda: dl.get_user("bob")) is None


def test_concurrent_create_and_update_of_one_step_lose_nothing(rt: Any) -> None:
    """A question sent while the chat starts: Chainlit creates and updates a step from two
    threads at once; both writes must land (no UNIQUE error, no lost end time)."""
    import threading

    from assistant.catalog.chat_schema import ChatStepRow

    dl = CatalogDataLayer()
    make_thread(dl, "alice", "t1")
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def write(i: int) -> None:
        d = step(f"race-{i % 2}", "t1", output=f"out {i}", metadata={f"k{i}": i})
        if i % 4 == 1:
            d["end"] = "2026-11-25T12:00:00Z"
        start.wait(5)
        try:
            dl._upsert_step(d, "alice")
        except BaseException as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    dl.flush()  # writes are queued (ui.chat_writer); reading the table directly waits for them
    with dl.db.session() as s:
        rows = {r.id: r for r in s.scalars(select(ChatStepRow).where(ChatStepRow.id.like("race-%")))}
    assert set(rows) == {"race-0", "race-1"}
    assert set(rows["race-1"].meta) == {"k1", "k3", "k5", "k7"} and rows["race-1"].end_at is not None
