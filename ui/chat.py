"""The Chainlit chat: streamed, cited answers; history per thread; feedback and flags.

Chainlit loads this file itself (``ui.server`` mounts it), so the built services come
from ``ui.runtime``. Stable ids for browser tests: the flag action is
``sw-flag-<interaction>``, its choices ``sw-flag-<interaction>-<n>``, ``sw-kind-outdated``
/ ``sw-kind-wrong``, thumbs-down reasons ``sw-reason-<reason>``, and the chat settings
``source`` / ``generator``. Citation elements are named ``[n]``, so each ``[n]`` in an
answer opens its source in the side panel.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import chainlit as cl
from chainlit.input_widget import Select
from starlette.concurrency import run_in_threadpool

from assistant.errors import PermissionDeniedError, SourcewiseError
from assistant.models import Answer, User
from ui import auth, identity, runtime
from ui.citations import (
    answer_metadata,
    citation_markdown,
    cited_passages,
    element_name,
)
from ui.data_layer import CatalogDataLayer

log = logging.getLogger("sourcewise.ui")

AUTHOR = "Sourcewise"
# Answers run here, not in asyncio's default pool (cpu + 4 threads): a burst of questions
# then reaches the retriever together, and QueryBatcher embeds them in one forward pass.
_ANSWER_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="answer")
ALL_SOURCES = "*"
ASK_TIMEOUT_S = 600
REASONS = {"wrong_answer": "Wrong answer", "wrong_source": "Wrong source",
           "outdated_source": "Outdated source", "missing_source": "No source covers this",
           "other": "Something else"}
EMPTY_QUESTION = ("Type a question about the code or docs, e.g. *where do we retry failed payments?* "
                  "You can narrow it with `repo:NAME`, `path:GLOB`, `lang:X` or `kind:code|docs|wiki`.")
APOLOGY = "Sorry, something went wrong while answering. It has been logged"
STARTERS = [
    ("Where is the entry point?", "Where is the application's entry point, and what does it start?"),
    ("How is configuration loaded?", "How are settings and configuration loaded?"),
    ("How are errors handled?", "How are errors reported to the user?"),
    ("What do the tests cover?", "Which tests cover the main request path?"),
]

auth.register(runtime.current().settings)


@cl.data_layer
def _data_layer() -> CatalogDataLayer:
    return CatalogDataLayer()


# -- who is asking ----------------------------------------------------------------
async def current_user() -> User:
    """The retrieval identity of the signed-in person (anonymous: public sources only)."""
    rt = runtime.current()
    cl_user = cl.user_session.get("user")
    if cl_user is None:
        if auth.anonymous_allowed(rt.settings):
            return User(anonymous_caller())
        raise PermissionDeniedError("sign in to ask questions")
    account = await run_in_threadpool(rt.users.get, cl_user.identifier)
    if account is None or account.disabled:
        raise PermissionDeniedError("your account is disabled or gone; ask an admin")
    token = getattr(cl.context.session, "token", None)
    if token and await run_in_threadpool(identity.session_account, token, rt.users) is None:
        # A socket opened before logout or a password change: its session is over.
        raise PermissionDeniedError("your session has ended; reload the page and sign in again")
    return account.user()  # type: ignore[no-any-return]


def anonymous_caller() -> str:
    """This anonymous browser's own identity (``CallerMiddleware``'s), else one for this chat session."""
    who = identity.current_caller()
    if identity.is_anonymous(who):
        return str(who)
    own = cl.user_session.get("sw_anonymous")
    if not identity.is_anonymous(own):
        own = identity.new_anonymous_name()
        cl.user_session.set("sw_anonymous", own)
    return str(own)


def visible_sources(user: User) -> list[str]:
    """Names of the sources ``user`` may search (the picker's choices)."""
    from assistant.access import readable_sources, source_groups

    return sorted(readable_sources(source_groups(runtime.current().container.db), user))


# -- settings, starters, resume -----------------------------------------------------
async def send_settings(user: User) -> None:
    """The source picker (and the generator picker where allowed), keeping earlier choices."""
    rt = runtime.current()
    names = await run_in_threadpool(visible_sources, user)
    chosen = cl.user_session.get("source") or ALL_SOURCES
    if chosen != ALL_SOURCES and chosen not in names:
        await cl.Message(author=AUTHOR, content=(
            f"The source `{chosen.replace('`', '')}` this conversation used is no longer available to you; "
            "answers now come from all the sources you can see.")).send()
        chosen = ALL_SOURCES
    cl.user_session.set("source", chosen)
    widgets: list[Any] = [Select(id="source", label="Source", items={"All sources": ALL_SOURCES,
                                                                   **{n: n for n in names}},
                                 initial_value=chosen, description="Search only this source (repo: filter).")]
    if rt.app_setting("allow_generator_choice", rt.settings.ui.allow_generator_choice):
        gens = rt.generators()
        gen = cl.user_session.get("generator") if cl.user_session.get("generator") in gens else gens[0]
        cl.user_session.set("generator", gen)
        widgets.append(Select(id="generator", label="Generator", values=gens, initial_index=gens.index(gen)))
    await cl.ChatSettings(widgets).send()


@cl.set_starters
async def starters(user: Any = None, language: Any = None) -> list[cl.Starter]:
    return [cl.Starter(label=label, message=message) for label, message in STARTERS]


@cl.on_chat_start
async def on_chat_start() -> None:
    cl.user_session.set("history", [])
    try:
        await send_settings(await current_user())
    except SourcewiseError as exc:
        await cl.Message(author=AUTHOR, content=str(exc)).send()


@cl.on_chat_resume
async def on_chat_resume(thread: dict[str, Any]) -> None:
    """Reopen a thread: its turns become the history, its settings come back (sources may be gone)."""
    cl.user_session.set("history", history_from_steps(thread.get("steps") or []))
    try:
        await send_settings(await current_user())
    except SourcewiseError as exc:
        await cl.Message(author=AUTHOR, content=str(exc)).send()


def history_from_steps(steps: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Question/answer pairs of a stored thread (answers are the steps with an interaction id)."""
    history: list[dict[str, str]] = []
    question: str | None = None
    for step in steps:
        kind = step.get("type")
        if kind == "user_message":
            question = step.get("output") or ""
        elif kind == "assistant_message" and question and (step.get("metadata") or {}).get("interaction_id"):
            history += [{"role": "user", "content": question},
                        {"role": "assistant", "content": step.get("output") or ""}]
            question = None
    return history


@cl.on_settings_update
async def on_settings_update(settings: dict[str, Any]) -> None:
    if "source" in settings:
        cl.user_session.set("source", settings["source"] or ALL_SOURCES)
    if "generator" in settings:
        cl.user_session.set("generator", settings["generator"])


# -- answering ------------------------------------------------------------------------
@cl.on_message
async def on_message(message: cl.Message) -> None:
    question = message.content or ""
    if not question.strip():
        await cl.Message(author=AUTHOR, content=EMPTY_QUESTION).send()
        return
    reply = cl.Message(author=AUTHOR, content="")
    try:
        user = await current_user()
        answer = await stream_answer(question, user, reply)
    except SourcewiseError as exc:
        await _finish_error(reply, str(exc))
        return
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        iid = getattr(exc, "interaction_id", None)
        log.exception("chat answer failed (interaction %s)", iid)
        await _finish_error(reply, APOLOGY + (f" as interaction {iid}." if iid is not None else "."))
        return
    await present_answer(reply, answer)
    history = list(cl.user_session.get("history") or [])
    history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
    cl.user_session.set("history", history[-2 * 20:])


async def _finish_error(reply: cl.Message, text: str) -> None:
    reply.content = (reply.content + "\n\n" if reply.content else "") + f"⚠️ {text}"
    await reply.send()


async def stream_answer(question: str, user: User, reply: cl.Message) -> Answer:
    """Run ``Answerer.stream`` in a worker thread, streaming its deltas into ``reply``."""
    rt = runtime.current()
    source = cl.user_session.get("source") or ALL_SOURCES
    generator = cl.user_session.get("generator")
    history = list(cl.user_session.get("history") or [])
    filters = None
    if source != ALL_SOURCES:
        from assistant.retrieval.query import QueryFilters

        filters = QueryFilters(repos=(source,))
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def work() -> None:
        events: Any = None
        try:
            events = rt.answerer(generator).stream(question, history, user, filters=filters, channel="ui")
            for event in events:
                if stop.is_set():
                    break
                loop.call_soon_threadsafe(queue.put_nowait, ("event", event))
        except BaseException as exc:  # noqa: BLE001 - handed to the event loop
            loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
        finally:
            close = getattr(events, "close", None)
            if stop.is_set() and close is not None:
                close()  # the Answerer records the answer as abandoned
            loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

    worker = loop.run_in_executor(_ANSWER_POOL, work)
    answer: Answer | None = None
    try:
        while True:
            kind, item = await queue.get()
            if kind == "end":
                break
            if kind == "error":
                raise item
            if item.get("type") == "delta" and item.get("text"):
                await reply.stream_token(item["text"])
            elif item.get("type") == "answer":
                answer = item["answer"]
    finally:
        stop.set()
    await worker
    if answer is None:
        raise RuntimeError("the answer stream ended without an answer")
    return answer


async def present_answer(reply: cl.Message, answer: Answer) -> None:
    """The validated text, a side element per cited source, the interaction id, the flag action."""
    reply.content = answer.text
    reply.metadata = answer_metadata(answer)
    cited = cited_passages(answer)
    reply.elements = [cl.Text(name=element_name(n), content=citation_markdown(n, p), display="side")
                      for n, p in cited]
    iid = answer.interaction_id
    if cited and iid is not None:
        reply.actions = [cl.Action(
            name="flag_source", id=f"sw-flag-{iid}", icon="flag", label="Flag a source",
            tooltip="Tell the owner a cited source is outdated or wrong",
            payload={"interaction_id": iid, "sources": [[n, p.citation] for n, p in cited]})]
    await reply.send()


# -- feedback -------------------------------------------------------------------------
async def _ask_choice(content: str, choices: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any] | None:
    """Ask with buttons ``(id, label, payload)`` plus Cancel; the chosen payload or ``None``."""
    actions = [cl.Action(name="sw_choice", id=i, label=label, payload=payload) for i, label, payload in choices]
    actions.append(cl.Action(name="sw_choice", id=f"sw-cancel-{len(choices)}-{id(actions)}", label="Cancel",
                             payload={"cancel": True}))
    res = await cl.AskActionMessage(content=content, actions=actions, author=AUTHOR, timeout=ASK_TIMEOUT_S).send()
    payload = (res or {}).get("payload") or {}
    return None if not payload or payload.get("cancel") else payload


async def _ask_comment(content: str) -> str | None:
    res = await cl.AskUserMessage(content=content, author=AUTHOR, timeout=ASK_TIMEOUT_S).send()
    text = ((res or {}).get("output") or "").strip()
    return None if text.lower() in ("", "skip", "-", "no") else text


@cl.action_callback("flag_source")
async def flag_source(action: cl.Action) -> None:
    """Per-citation flag: pick the source, outdated or wrong, an optional comment -> ``FeedbackService.flag``."""
    iid = action.payload.get("interaction_id")
    sources = [(int(n), str(c)) for n, c in action.payload.get("sources") or []]
    if not isinstance(iid, int) or not sources:
        return
    picked = await _ask_choice("Which source is outdated or wrong?", [
        (f"sw-flag-{iid}-{n}", f"[{n}] {c}"[:90], {"n": n}) for n, c in sources])
    if picked is None:
        return
    n = int(picked["n"])
    kind = await _ask_choice(f"What is wrong with source [{n}]?", [
        ("sw-kind-outdated", "Outdated", {"kind": "outdated"}), ("sw-kind-wrong", "Wrong", {"kind": "wrong"})])
    if kind is None:
        return
    comment = await _ask_comment("Add a comment for the source's owner, or reply `skip`.")
    try:
        user = await current_user()
        await run_in_threadpool(runtime.current().feedback.flag, iid, n, user, kind["kind"], comment)
    except SourcewiseError as exc:
        await cl.Message(author=AUTHOR, content=f"⚠️ {exc}").send()
        return
    await cl.Message(author=AUTHOR, content=f"Thanks: source [{n}] is flagged as {kind['kind']}; "
                                            "its owner will see it in their queue.").send()


@cl.on_feedback
async def on_feedback(feedback: Any) -> None:
    """A thumbs-down (already recorded by the data layer) asks for its reason, without blocking."""
    if int(feedback.value) == 0:
        asyncio.create_task(ask_reason(feedback.forId, feedback.comment))


async def ask_reason(step_id: str, comment: str | None) -> None:
    rt = runtime.current()
    from assistant.catalog.chat_schema import ChatStepRow
    from ui.data_layer import step_interaction

    def interaction_of() -> int | None:
        with rt.container.db.session() as s:
            row = s.get(ChatStepRow, step_id)
            return step_interaction(s, row) if row else None

    iid = await run_in_threadpool(interaction_of)
    if iid is None:
        return
    picked = await _ask_choice("Thanks. What was wrong with that answer?", [
        (f"sw-reason-{r}", label, {"reason": r}) for r, label in REASONS.items()])
    if picked is None:
        return
    try:
        user = await current_user()
        await run_in_threadpool(rt.feedback.rate, iid, user, "down", picked["reason"], comment)
    except SourcewiseError as exc:
        await cl.Message(author=AUTHOR, content=f"⚠️ {exc}").send()
        return
    await cl.Message(author=AUTHOR, content=f"Noted: {REASONS[picked['reason']].lower()}. "
                                            "Thumbs-down answers are reviewed for the eval set.").send()
