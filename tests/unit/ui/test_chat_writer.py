"""The chat history's write-behind queue: everything lands, in order, in few transactions."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from assistant.catalog.chat_schema import ChatStepRow, ChatThreadRow
from tests.unit.ui.conftest import step
from ui.chat_writer import ChatWriter, Write
from ui.data_layer import CatalogDataLayer, _apply_step


def thread_row(container: Any, thread_id: str = "t1", owner: str = "alice") -> None:
    with container.db.session() as s:
        s.add(ChatThreadRow(id=thread_id, user_name=owner, meta={}, tags=[]))


def test_a_burst_lands_whole_and_in_order_in_a_few_transactions(container: Any) -> None:
    thread_row(container)
    writer = ChatWriter(container.db)
    gate = threading.Event()
    first = Write("step", "s-0", lambda s, row: gate.wait(10) and None)  # holds the writer up
    writer.submit(first)
    for i in range(200):  # queued behind the first: one batch
        d = step(f"s-{i % 20}", "t1", output=f"out {i}", metadata={f"k{i}": i})
        writer.submit(Write("step", f"s-{i % 20}", lambda s, row, d=d: _apply_step(d, "t1", s, row)))
    gate.set()
    assert writer.flush(10)
    with container.db.session() as s:
        rows = {r.id: r for r in s.scalars(select(ChatStepRow))}
    assert set(rows) == {f"s-{i}" for i in range(20)}
    assert rows["s-3"].output == "out 183"  # the last write to a step wins
    assert set(rows["s-3"].meta) == {f"k{i}" for i in range(3, 200, 20)}  # metadata merges
    assert writer.batches <= 3
    writer.close()


def test_a_failing_write_costs_only_itself(container: Any) -> None:
    thread_row(container)
    writer = ChatWriter(container.db)

    def broken(s: Any, row: Any) -> None:
        raise ValueError("bad row")

    d1, d2 = step("ok-1", "t1", output="one"), step("ok-2", "t1", output="two")
    writer.submit(Write("step", "ok-1", lambda s, row: _apply_step(d1, "t1", s, row)))
    writer.submit(Write("step", "bad", broken))
    writer.submit(Write("step", "ok-2", lambda s, row: _apply_step(d2, "t1", s, row)))
    assert writer.flush(10)
    with container.db.session() as s:
        assert {r.id for r in s.scalars(select(ChatStepRow))} == {"ok-1", "ok-2"}
    assert writer.failures == 1
    writer.close()


def test_close_writes_what_is_queued(container: Any) -> None:
    thread_row(container)
    writer = ChatWriter(container.db)
    for i in range(50):
        d = step(f"c-{i}", "t1", output="x")
        writer.submit(Write("step", f"c-{i}", lambda s, row, d=d: _apply_step(d, "t1", s, row)))
    writer.close()
    with container.db.session() as s:
        assert len(list(s.scalars(select(ChatStepRow)))) == 50


def test_reads_through_the_data_layer_see_queued_writes(rt: Any) -> None:
    """A write is queued and the call returns at once; the next read waits for it."""
    import asyncio

    from chainlit.context import init_http_context

    from tests.unit.ui.conftest import as_caller

    dl = CatalogDataLayer()

    async def main() -> Any:
        init_http_context()
        with as_caller("alice"):
            await dl.update_thread("t9", name="q", user_id="alice")
            for i in range(30):
                await dl.create_step(step(f"r-{i}", "t9", type="user_message", output=f"q{i}",
                                          createdAt=f"2026-01-02T03:04:{i:02d}.000000Z"))
            return await dl.get_thread("t9")

    thread = asyncio.run(main())
    assert [s["output"] for s in thread["steps"]] == [f"q{i}" for i in range(30)]
