"""`sourcewise ask "question" [--json] [--user NAME --groups g1,g2]`: a cited answer.

Registered on the main app by ``sourcewise/cli.py``. Without ``--user`` the local CLI
acts as an admin (it can read the data directory anyway); with ``--user`` the answer
only draws on sources that user's groups may see, which is how to check an ACL.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from assistant.errors import ConfigError, SourcewiseError
from assistant.generation.citations import humanize_age, render_sources
from assistant.models import Answer, User
from sourcewise.options import parse_groups

err = Console(stderr=True)


def ask(
    question: Annotated[
        str, typer.Argument(help="The question; may contain repo:NAME path:GLOB lang:X kind:code|docs|wiki.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer, citations and timings as JSON.")] = False,
    user: Annotated[Optional[str], typer.Option("--user", help="Ask as this user (default: local admin).")] = None,
    groups: Annotated[
        Optional[str], typer.Option("--groups", help="That user's access groups, comma-separated.")
    ] = None,
) -> None:
    """Answer a question from the indexed code and docs, with citations and source ages."""
    from assistant.answer import build_answerer
    from assistant.container import build
    from assistant.settings import load_settings

    caller = make_user(user, groups)
    container = build(load_settings())
    try:
        answerer = build_answerer(container)
        if as_json:
            answer = answerer.answer(question, [], caller, channel="cli")
            print(json.dumps(answer_to_dict(answer), indent=2))
        else:
            answer = print_streamed(answerer.stream(question, [], caller, channel="cli"))
    except SourcewiseError as exc:  # bad input or configuration: the message says what to do
        err.print(f"[red]error:[/red] {exc}{_id_note(exc)}", highlight=False)
        raise typer.Exit(2) from None
    except Exception as exc:  # the Answerer logged the traceback with the interaction
        err.print(f"[red]Sorry, something went wrong answering this[/red]{_id_note(exc)}.", highlight=False)
        raise typer.Exit(1) from None
    finally:
        container.close()


def make_user(name: str | None, groups: str | None) -> User:
    """The local admin, or the named user with exactly the given groups."""
    group_list = tuple(parse_groups(groups))
    if name is None:
        if group_list:
            raise ConfigError("--groups needs --user NAME (without --user the CLI asks as the local admin)")
        return User("local", is_admin=True)
    if not name.strip():
        raise ConfigError("--user needs a name")
    return User(name.strip(), group_list, is_admin=False)


def print_streamed(events: Any) -> Answer:
    answer: Answer | None = None
    out = sys.stdout
    for event in events:
        if event["type"] == "delta":
            out.write(event["text"])
            out.flush()
        elif event["type"] == "answer":
            answer = event["answer"]
    assert answer is not None, "the answer stream ended without an answer"
    out.write("\n")
    sources = render_sources(answer.citations, datetime.now(UTC))
    if sources:
        out.write("\n" + sources + "\n")
    notes = [f"generator: {answer.generator}" + (f" ({answer.model})" if answer.model else "")]
    if answer.cached:
        notes.append("cached")
    if answer.removed_citations:
        notes.append(f"{answer.removed_citations} invalid citation(s) removed")
    if not answer.supported:
        notes.append("unsupported: no source cited")
    if answer.interaction_id is not None:
        notes.append(f"interaction {answer.interaction_id}")
    err.print(f"[dim]{' · '.join(notes)} · {answer.timings.get('total', 0):.2f} s[/dim]", highlight=False)
    return answer


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """The ``--json`` shape: everything a script or the eval needs to check an answer."""
    now = datetime.now(UTC)
    return {
        "text": answer.text,
        "supported": answer.supported,
        "citations": [
            {
                "n": c.n, "citation": c.passage.citation, "source": c.passage.source, "path": c.passage.path,
                "start_line": c.passage.start_line, "end_line": c.passage.end_line, "commit": c.passage.commit,
                "kind": c.passage.kind, "updated_at": c.passage.updated_at.isoformat(),
                "age": humanize_age(c.passage.age_days(now)), "status": c.passage.status,
                "url": c.passage.url, "owner": c.passage.owner,
            }
            for c in answer.citations
        ],
        "stale_warnings": list(answer.stale_warnings),
        "generator": answer.generator,
        "model": answer.model,
        "fallback_reason": answer.fallback_reason,
        "removed_citations": answer.removed_citations,
        "cached": answer.cached,
        "timings": dict(answer.timings),
        "tokens": dict(answer.tokens),
        "interaction_id": answer.interaction_id,
        "passages": [{"n": n, "citation": p.citation, "score": p.score} for n, p in enumerate(answer.passages, 1)],
    }


def _id_note(exc: BaseException) -> str:
    iid = getattr(exc, "interaction_id", None)
    return f" (interaction {iid})" if iid is not None else ""
