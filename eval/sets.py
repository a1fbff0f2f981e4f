"""Eval sets from the catalog (cases promoted from feedback) and sets written to files.

Promoted cases live in the catalog's ``eval_cases`` table (``FeedbackService.promote``,
from the admin console or ``sourcewise feedback promote``). Reading them back goes through
``parse_case``, the same validation as a YAML or JSONL file, so a case behaves the same
wherever it is stored; ``export_set`` writes them out to review or commit as a file set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import EvalCaseRow
from eval.cases import (
    FORMAT_VERSION,
    EvalCase,
    EvalFormatError,
    EvalSet,
    dump_jsonl,
    parse_case,
)

CATALOG_ORIGIN = "catalog"
_GOLD_KEYS = ("path", "source", "symbol", "start_line", "end_line", "lines")


def _row_case(row: EvalCaseRow) -> EvalCase:
    """One catalog row as a case; extra keys a promotion UI keeps on gold (``doc_id``) are dropped."""
    gold = [{k: v for k, v in g.items() if k in _GOLD_KEYS and v not in (None, "")}
            for g in (row.gold or []) if isinstance(g, dict)]
    conversation = [{"role": m["role"], "content": m["content"]} for m in (row.conversation or [])
                    if isinstance(m, dict) and m.get("role") in ("user", "assistant")
                    and isinstance(m.get("content"), str) and m["content"].strip()]
    meta: dict[str, Any] = {"created_by": row.created_by}
    if row.created_at is not None:
        meta["created_at"] = row.created_at.isoformat()
    for key in ("feedback_id", "flag_id"):
        if getattr(row, key) is not None:
            meta[key] = getattr(row, key)
    raw: dict[str, Any] = {
        "id": f"catalog-{row.id}", "question": row.question, "gold": gold, "conversation": conversation,
        "must_include": list(row.must_include or []), "must_not_include": list(row.must_not_include or []),
        "tags": list(row.tags or []), "origin": row.origin or "feedback",
        "interaction_id": row.interaction_id, "meta": meta,
    }
    return parse_case(raw, f"catalog eval case {row.id} (set {row.set_name!r})", f"catalog-{row.id}")


def catalog_cases(db: Database, set_name: str | None = None) -> list[EvalSet]:
    """The catalog's eval cases as one ``EvalSet`` per ``set_name`` (all sets, or the one named),
    sorted by set name, cases in the order they were created. A set name with no rows gives
    an empty list, not an empty set: the caller says "no such set"."""
    stmt = select(EvalCaseRow).order_by(EvalCaseRow.set_name, EvalCaseRow.id)
    if set_name is not None:
        stmt = stmt.where(EvalCaseRow.set_name == set_name)
    groups: dict[str, list[EvalCase]] = {}
    with db.session() as s:
        for row in s.scalars(stmt):
            groups.setdefault(row.set_name, []).append(_row_case(row))
    return [EvalSet(name, tuple(cases), CATALOG_ORIGIN) for name, cases in groups.items()]


def export_set(cases: EvalSet | Sequence[EvalCase], path: Path | str) -> Path:
    """Write cases as ``.jsonl`` (one case per line) or ``.yaml``/``.yml`` (``{name, version,
    cases}``), chosen by the suffix; ``load_set`` reads the file back to equal cases."""
    path = Path(path)
    name = cases.name if isinstance(cases, EvalSet) else path.stem
    items = list(cases.cases if isinstance(cases, EvalSet) else cases)
    if path.suffix == ".jsonl":
        text = dump_jsonl(items)
    elif path.suffix in (".yaml", ".yml"):
        import yaml

        doc = {"name": name, "version": FORMAT_VERSION, "cases": [_ordered(c.as_dict()) for c in items]}
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    else:
        raise EvalFormatError(f"{path}: eval sets are written as .yaml, .yml or .jsonl files")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _ordered(d: dict[str, Any]) -> dict[str, Any]:
    """id and question first: a YAML set is read by people."""
    first = ("id", "question", "gold", "must_include", "must_not_include", "tags", "origin")
    return {k: d[k] for k in first if k in d} | {k: v for k, v in d.items() if k not in first}
