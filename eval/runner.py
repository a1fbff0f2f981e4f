"""Run an eval set through the real retrieval and answer path, case by case.

Each case asks the same ``Retriever`` and ``Answerer`` users get (built from the
container, with optional retrieval overrides so a regression can be injected on purpose),
as an admin (or as ``meta.user`` with ``meta.groups``, to check access control), with the
case's conversation and filters. Every case's outcome is saved as
soon as it is known, so an interrupted run resumes where it stopped.

How gold matches what was retrieved (``docs/eval-format.md`` has the user-facing version):

- Files are keyed ``source:path``, the key ``Retriever.rank_files`` and citations use.
- A gold with a ``source`` matches only that source's path; a gold without one matches
  the path in any source, and is scored as the first ranked ``source:path`` that has it
  (or the first source, by name, that holds it), so recall counts it once.
- A retrieved chunk is a hit when ``Gold.matches_chunk`` holds for some gold entry (same
  file, and overlapping lines / the same symbol when the gold names them).
- A gold path the catalog does not hold at the indexed commit skips the case with
  ``skipped="gold path missing: ..."``: a case about a file that is not indexed is a
  broken case, and counting it (as a pass or a miss) would hide that.
- A cited source counts as stale when it is marked stale or deprecated, or is older than
  the answer's own "check before relying on it" limit for its kind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assistant.access import source_groups
from assistant.answer import Answerer
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.schema import DocumentRow, SourceRow
from assistant.errors import ConfigError, SourcewiseError
from assistant.generation.condense import standalone_question
from assistant.generation.factory import build_generator
from assistant.models import Answer, Passage, User, split_doc_id
from assistant.retrieval.query import QueryFilters
from assistant.retrieval.retriever import Retriever
from assistant.settings import RetrievalSettings
from eval import metrics as m
from eval.cases import EvalCase, EvalFormatError, EvalSet, load_set, text_matches
from eval.gate import Tolerances, compare
from eval.store import EvalStore

log = logging.getLogger("sourcewise.eval")

SETS_DIR = Path(__file__).resolve().parent / "sets"
EVAL_USER = User("eval", is_admin=True)
FILE_DEPTH = 10  # files kept per case (more when a case's retrieval_k asks for more)
CHANNEL = "eval"  # interaction rows written by eval runs carry this channel

Progress = Callable[[int, int, str], None]  # (cases done, total, case id just finished)
_SCORE_FIELDS = {f.name for f in fields(m.CaseScore)}


# -- sets --------------------------------------------------------------------------------

def resolve_set(container: Any, name: str) -> EvalSet:
    """``NAME`` or ``PATH`` -> the set: a file path, else ``eval/sets/NAME.{yaml,yml,jsonl}``
    plus the catalog's cases promoted into a set of that name, else the catalog set alone."""
    from eval.sets import catalog_cases

    path = Path(name)
    if path.suffix in (".yaml", ".yml", ".jsonl") and path.is_file():
        return load_set(path)
    catalog = catalog_cases(container.db, name)
    promoted = catalog[0].cases if catalog else ()
    for suffix in (".yaml", ".yml", ".jsonl"):
        candidate = SETS_DIR / f"{name}{suffix}"
        if candidate.is_file():
            file_set = load_set(candidate)
            ids = {c.id for c in file_set.cases}
            extra = tuple(c for c in promoted if c.id not in ids)
            return EvalSet(file_set.name, file_set.cases + extra, file_set.origin)
    if promoted:
        return catalog[0]
    known = sorted({p.stem for p in SETS_DIR.glob("*.y*ml")} | {p.stem for p in SETS_DIR.glob("*.jsonl")}
                   | {s.name for s in catalog_cases(container.db)})
    raise EvalFormatError(f"no eval set {name!r}: not a file, not in eval/sets/, not in the catalog; "
                          f"known sets: {', '.join(known) or 'none'}")


# -- the system under test ----------------------------------------------------------------

def build_system(container: Any, *, generator: str | None = None,
                 retrieval_overrides: Mapping[str, Any] | None = None) -> tuple[Retriever, Answerer, dict[str, Any]]:
    """The retriever and answerer users get, with ``retrieval_overrides`` applied onto
    ``settings.retrieval`` (unvalidated ``model_copy``, so ``sparse_weight=0`` can switch a
    leg off), and the settings record stored with the run."""
    settings = container.settings
    overrides = dict(retrieval_overrides or {})
    unknown = set(overrides) - set(RetrievalSettings.model_fields)
    if unknown:
        raise ConfigError(f"unknown retrieval setting(s) {sorted(unknown)}; "
                          f"known: {', '.join(sorted(RetrievalSettings.model_fields))}")
    retrieval = settings.retrieval.model_copy(update=overrides) if overrides else settings.retrieval
    generation = settings.generation.model_copy(update={"generator": generator}) if generator else settings.generation
    catalog = container.catalog
    retriever = Retriever(container.store, container.embedder, container.sparse, retrieval,
                          known_sources=lambda: source_groups(container.db))
    full = settings.model_copy(update={"retrieval": retrieval, "generation": generation})
    # --generator asks for that generator alone; otherwise the configured routes answer, as for users
    answerer = Answerer(retriever, build_generator(generation), catalog, full, router=False if generator else True)
    record = {
        "generator": answerer.generator.name, "model": answerer.generator.model,
        "embedding_model": settings.embedding.model, "retrieval": retrieval.model_dump(),
        "retrieval_overrides": overrides, "user": EVAL_USER.name,
    }
    if answerer.router is not None:  # which models the routes used: what a model swap's gate compares
        record["routes"] = {key: [f"{n}={answerer.router.endpoints[n].generator.model or n}" for n in steps]
                            for key, steps in answerer.router.routes.items()}
    return retriever, answerer, record


class Corpus:
    """What the catalog holds at the indexed commit: ``path -> sources`` for gold checks."""

    def __init__(self, db: Any) -> None:
        with db.session() as s:
            rows = s.execute(select(SourceRow.name, DocumentRow.path).join(SourceRow, DocumentRow.source_id == SourceRow.id))
            self.sources_of: dict[str, set[str]] = {}
            for source, path in rows:
                self.sources_of.setdefault(path, set()).add(source)

    def missing(self, case: EvalCase) -> list[str]:
        """Gold entries with no indexed document, as ``source:path`` (or ``path``)."""
        out = []
        for g in case.gold:
            have = self.sources_of.get(g.path, set())
            if not have or (g.source is not None and g.source not in have):
                out.append(f"{g.source}:{g.path}" if g.source else g.path)
        return out

    def gold_keys(self, case: EvalCase, ranked: Sequence[str]) -> list[str]:
        """One ``source:path`` per distinct gold file (see the module docstring)."""
        out: dict[str, None] = {}
        for g in case.gold:
            if g.source is not None:
                out[f"{g.source}:{g.path}"] = None
                continue
            hit = next((key for key in ranked if split_doc_id(key)[1] == g.path), None)
            out[hit or f"{min(self.sources_of.get(g.path, {'?'}))}:{g.path}"] = None
        return list(out)


# -- one case -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Context:
    retriever: Retriever
    answerer: Answerer
    corpus: Corpus
    user: User
    max_age_days: Mapping[str, float]


def _filters(case: EvalCase) -> QueryFilters | None:
    if not case.filters:
        return None
    qf = QueryFilters(**{k: tuple(v) for k, v in case.filters.items()})
    return None if qf.is_empty() else qf


def case_user(case: EvalCase, default: User) -> User:
    """``meta.user`` (with ``meta.groups``) asks as that non-admin user, so a set can check
    access control; otherwise the run's user (an admin) asks."""
    name = case.meta.get("user") if isinstance(case.meta, Mapping) else None
    if not name:
        return default
    groups = case.meta.get("groups") or ()
    if isinstance(groups, str):
        groups = [g.strip() for g in groups.split(",")]
    return User(str(name), tuple(str(g) for g in groups if g))


def _stale(p: Passage, max_age_days: Mapping[str, float], now: datetime) -> bool:
    limit = max_age_days.get(p.kind)
    return p.status in ("stale", "deprecated") or (limit is not None and p.age_days(now) > limit)


def _key(p: Passage) -> str:
    return f"{p.source}:{p.path}"


def run_case(case: EvalCase, ctx: _Context) -> dict[str, Any]:
    """Rank files, answer, and score one case; the result is what ``eval_results`` keeps."""
    base: dict[str, Any] = {"case_id": case.id, "question": case.question, "tags": list(case.tags),
                            "origin": case.origin, "conversation": [dict(x) for x in case.conversation]}
    missing = ctx.corpus.missing(case)
    if missing:
        score = m.CaseScore(case.id, tuple(case.tags), skipped=f"gold path missing: {', '.join(missing)}")
        return base | _score_dict(score) | {"answer": "", "reciprocal_rank": None, "error": None}
    history = [dict(x) for x in case.conversation]
    filters = _filters(case)
    user = case_user(case, ctx.user)
    timings: dict[str, float] = {}
    error = None
    ranked: list[str] = []
    answer: Answer | None = None
    try:
        t0 = time.perf_counter()
        question = case.question
        if history:  # rank with the standalone question, as the answerer retrieves with it
            question, _ = standalone_question(ctx.answerer.generator, case.question, history,
                                              ctx.answerer.cfg.deadline_s)
        depth = max(FILE_DEPTH, case.criteria.retrieval_k)
        ranked = [key for key, _ in ctx.retriever.rank_files(question, user=user, k=depth, filters=filters)]
        timings["rank"] = round(time.perf_counter() - t0, 6)
        answer = ctx.answerer.answer(case.question, history, user, filters=filters, channel=CHANNEL)
    except SourcewiseError as exc:
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a bug in one case must not cost the rest of the run
        log.exception("eval case %s failed", case.id)
        error = f"internal: {type(exc).__name__}: {exc}"
    gold = ctx.corpus.gold_keys(case, ranked)
    passages = answer.passages if answer else ()
    chunk_gold = tuple(tuple(i for i, g in enumerate(case.gold)
                             if g.matches_chunk(p.source, p.path, p.start_line, p.end_line, p.symbol))
                       for p in passages)
    cited = list(dict.fromkeys(_key(c.passage) for c in answer.citations)) if answer else []
    text = answer.text if answer else ""
    if answer is not None:
        timings |= {"retrieve": answer.timings.get("retrieve"), "generate": answer.timings.get("generate"),
                    "answer": answer.timings.get("total")}
        timings = {k: v for k, v in timings.items() if v is not None}
    now = datetime.now(UTC)
    must_ok = all(text_matches(p, text) for p in case.must_include) if case.must_include else None
    must_not_ok = not any(text_matches(p, text) for p in case.must_not_include) if case.must_not_include else None
    supported = answer.supported if answer else None  # no answer (an error) is not judged
    k = case.criteria.retrieval_k
    passed = error is None and answer is not None and (not gold or bool(set(gold) & set(ranked[:k])))
    passed = passed and must_ok is not False and must_not_ok is not False
    if case.criteria.require_citation and gold:
        passed = passed and bool(set(gold) & set(cited))
    if case.criteria.require_supported:
        passed = passed and bool(supported)
    sources = tuple(dict.fromkeys([key.partition(":")[0] for key in gold] + list(case.filters.get("repos", ()))))
    score = m.CaseScore(
        case.id, tuple(case.tags), sources, tuple(ranked), tuple(bool(x) for x in chunk_gold), tuple(gold),
        tuple(cited), must_ok, must_not_ok, supported,
        sum(1 for c in (answer.citations if answer else ()) if _stale(c.passage, ctx.max_age_days, now)),
        len(answer.citations) if answer else 0, passed, timings, None, chunk_gold, len(case.gold))
    return base | _score_dict(score) | {
        "answer": text, "reciprocal_rank": score.reciprocal_rank, "error": error, "retrieval_k": k,
        "interaction_id": answer.interaction_id if answer else None,
        "passages": [{"citation": p.citation, "status": p.status, "score": round(p.score, 6)} for p in passages],
        "missing_includes": [p for p in case.must_include if not text_matches(p, text)],
        "found_excludes": [p for p in case.must_not_include if text_matches(p, text)],
    }


def _score_dict(score: m.CaseScore) -> dict[str, Any]:
    d = asdict(score)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def case_score(result: Mapping[str, Any]) -> m.CaseScore:
    """A saved result back into the ``CaseScore`` ``metrics.aggregate`` takes."""
    raw = {k: v for k, v in result.items() if k in _SCORE_FIELDS}
    for name in ("tags", "sources", "file_ranked", "chunk_hits", "gold_files", "cited_files"):
        raw[name] = tuple(raw.get(name) or ())
    raw["chunk_gold"] = tuple(tuple(x) for x in raw.get("chunk_gold") or ())
    raw["timings"] = dict(raw.get("timings") or {})
    return m.CaseScore(**raw)


# -- a run --------------------------------------------------------------------------------

def summarize(results: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metrics and per-tag/per-source breakdowns of saved results."""
    scores = [case_score(r) for r in results]
    return m.aggregate(scores), {"tag": m.breakdown(scores, "tag"), "source": m.breakdown(scores, "source")}


def run_eval(container: Any, eval_set: EvalSet, *, generator: str | None = None, baseline_id: int | None = None,
             resume_id: int | None = None, progress: Progress | None = None,
             retrieval_overrides: Mapping[str, Any] | None = None,
             tolerances: Tolerances | Mapping[str, Any] | None = None, user: User | None = None,
             labels: Mapping[str, Any] | None = None) -> int:
    """Run (or resume) ``eval_set``; returns the run id. The run ends ``done`` with its metrics
    and, with a baseline, the gate verdict; an interruption leaves it ``running`` with every
    case scored so far saved (``resume_id`` continues it, ``EvalStore.discard`` drops it).
    ``labels`` are stored with the run's settings record (``{"canary": True}`` marks a canary run)."""
    if not eval_set.cases:
        raise EvalFormatError(f"eval set {eval_set.name!r} has no cases: nothing to run")
    store = EvalStore(container.db)
    done: dict[str, dict[str, Any]] = {}
    if resume_id is not None:
        done = store.resume(resume_id, eval_set)
        row = store.get(resume_id)
        stored = row.settings or {}
        if generator is not None and generator != row.generator:
            raise ConfigError(f"eval run {resume_id} used generator {row.generator!r}; resume it without "
                              "--generator (or start a new run)")
        if retrieval_overrides is not None and dict(retrieval_overrides) != stored.get("retrieval_overrides", {}):
            raise ConfigError(f"eval run {resume_id} ran with retrieval overrides "
                              f"{stored.get('retrieval_overrides') or 'none'}; resume it with the same options")
        generator, retrieval_overrides = row.generator, stored.get("retrieval_overrides") or {}
        baseline_id = row.baseline_id if baseline_id is None else baseline_id
    elif baseline_id is not None:
        base = store.get(baseline_id)
        if base.status != "done":
            raise ConfigError(f"baseline run {baseline_id} is {base.status}; a baseline must be a finished run")
        if base.set_name != eval_set.name:
            raise ConfigError(f"baseline run {baseline_id} ran set {base.set_name!r}, not {eval_set.name!r}")
    retriever, answerer, record = build_system(container, generator=generator, retrieval_overrides=retrieval_overrides)
    record |= dict(labels or {})
    index_version = InteractionLog(container.catalog).index_version()
    if resume_id is None:
        run_id = store.start(eval_set, generator=record["generator"], settings=record, baseline_id=baseline_id,
                             index_version=index_version)
    else:
        run_id = resume_id
        if store.get(run_id).index_version not in (None, index_version):
            log.warning("eval run %s: the index changed since it started; its halves scored different indexes",
                        run_id)
    container.embedder.embed_query("warm up")  # load the model now, not inside the first case's timings
    ctx = _Context(retriever, answerer, Corpus(container.db), user or EVAL_USER,
                   container.settings.generation.max_age_days())
    total = len(eval_set.cases)
    count = 0
    for case in eval_set.cases:
        if case.id in done:
            count += 1
            if progress:
                progress(count, total, case.id)
            continue
        result = run_case(case, ctx)
        store.save_result(run_id, case.id, result)
        done[case.id] = result
        count += 1
        if progress:
            progress(count, total, case.id)
    results = [done[c.id] for c in eval_set.cases]
    metrics, breakdown = summarize(results)
    gate = None
    if baseline_id is not None:
        gate = compare(metrics, store.get(baseline_id).metrics or {}, tolerances).as_dict()
    store.finish(run_id, metrics, breakdown, gate)
    return run_id
