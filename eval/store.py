"""Eval runs in the catalog: start, save each case as it finishes, resume, finish, discard.

Results are committed one case at a time, so a run stopped by Ctrl-C or a crash keeps
everything it scored and stays ``running``; ``resume`` hands back what was saved so only
the rest is run. A finished run holds its metrics, breakdowns and gate verdict, which is
what reports, ``--baseline latest`` and the history plots read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from assistant.catalog.db import Database
from assistant.catalog.eval_schema import EvalResultRow, EvalRunRow
from assistant.catalog.schema import utcnow
from assistant.errors import ConfigError, NotFoundError
from eval.cases import EvalSet, dump_jsonl

RUNNING, DONE, DISCARDED = "running", "done", "discarded"


def set_hash(eval_set: EvalSet) -> str:
    """Identity of the exact cases a run scores (a resume against an edited set is refused)."""
    return hashlib.sha256(dump_jsonl(eval_set.cases).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunSummary:
    """One line of ``sourcewise eval list``."""

    id: int
    set_name: str
    status: str
    generator: str
    created_at: datetime
    finished_at: datetime | None
    baseline_id: int | None
    cases_saved: int
    pass_rate: float | None
    gate_passed: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "set": self.set_name, "status": self.status, "generator": self.generator,
                "created_at": self.created_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "baseline_id": self.baseline_id, "cases_saved": self.cases_saved, "pass_rate": self.pass_rate,
                "gate_passed": self.gate_passed}


class EvalStore:
    """The ``eval_runs`` and ``eval_results`` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, eval_set: EvalSet, *, generator: str, settings: Mapping[str, Any] | None = None,
              baseline_id: int | None = None, index_version: str | None = None) -> int:
        """A new ``running`` run of ``eval_set``; returns its id."""
        if baseline_id is not None:
            self._row(baseline_id)
        with self.db.session() as s:
            row = EvalRunRow(set_name=eval_set.name, set_hash=set_hash(eval_set), status=RUNNING,
                             generator=generator, settings=dict(settings or {}), baseline_id=baseline_id,
                             metrics={}, breakdown={}, index_version=index_version)
            s.add(row)
            s.flush()
            return row.id

    def resume(self, run_id: int, eval_set: EvalSet) -> dict[str, dict[str, Any]]:
        """The results saved so far by an interrupted run of this very set (case id -> result)."""
        row = self._row(run_id)
        if row.status != RUNNING:
            hint = "start a new run" if row.status == DONE else "it was discarded; start a new run"
            raise ConfigError(f"eval run {run_id} is {row.status}, not running: nothing to resume ({hint})")
        if row.set_name != eval_set.name:
            raise ConfigError(f"eval run {run_id} ran set {row.set_name!r}, not {eval_set.name!r}; "
                              f"resume it with --set {row.set_name}")
        if row.set_hash != set_hash(eval_set):
            raise ConfigError(f"set {eval_set.name!r} changed since eval run {run_id} started, so its saved "
                              f"results would mix two versions of the set: `sourcewise eval discard {run_id}` "
                              "and start a new run")
        return self.results(run_id)

    def save_result(self, run_id: int, case_id: str, result: Mapping[str, Any]) -> None:
        """Commit one case's result now (a later save of the same case replaces it)."""
        with self.db.session() as s:
            run = s.get(EvalRunRow, run_id)
            if run is None:
                raise NotFoundError(f"no eval run with id {run_id}")
            if run.status != RUNNING:
                raise ConfigError(f"eval run {run_id} is {run.status}; results can only be added while it runs")
            s.execute(delete(EvalResultRow).where(EvalResultRow.run_id == run_id, EvalResultRow.case_id == case_id))
            s.add(EvalResultRow(run_id=run_id, case_id=case_id, result=dict(result)))

    def finish(self, run_id: int, metrics: Mapping[str, Any], breakdown: Mapping[str, Any],
               gate: Mapping[str, Any] | None = None) -> None:
        """Mark the run ``done`` with its aggregate metrics, breakdowns and gate verdict."""
        with self.db.session() as s:
            run = s.get(EvalRunRow, run_id)
            if run is None:
                raise NotFoundError(f"no eval run with id {run_id}")
            if run.status != RUNNING:
                raise ConfigError(f"eval run {run_id} is {run.status}; only a running run can finish")
            run.metrics, run.breakdown = dict(metrics), dict(breakdown)
            run.gate = dict(gate) if gate is not None else None
            run.status, run.finished_at = DONE, utcnow()

    def discard(self, run_id: int) -> None:
        """Mark a run ``discarded``: kept for the record, never a baseline, never resumed."""
        with self.db.session() as s:
            run = s.get(EvalRunRow, run_id)
            if run is None:
                raise NotFoundError(f"no eval run with id {run_id}")
            run.status = DISCARDED
            run.finished_at = run.finished_at or utcnow()

    # -- reading -----------------------------------------------------------------------
    def _row(self, run_id: int) -> EvalRunRow:
        with self.db.session() as s:
            row = s.get(EvalRunRow, run_id)
            if row is None:
                raise NotFoundError(f"no eval run with id {run_id} (`sourcewise eval list` shows the runs)")
            return row

    def get(self, run_id: int) -> EvalRunRow:
        return self._row(run_id)

    def results(self, run_id: int) -> dict[str, dict[str, Any]]:
        """Case id -> saved result, in the order they were saved."""
        with self.db.session() as s:
            rows = s.scalars(select(EvalResultRow).where(EvalResultRow.run_id == run_id).order_by(EvalResultRow.id))
            return {r.case_id: dict(r.result) for r in rows}

    def latest(self, set_name: str, *, before: int | None = None) -> int | None:
        """The newest finished run of ``set_name`` (older than run ``before``) that did not fail
        its gate: a run that regressed is never the next run's baseline. None when there is none."""
        stmt = select(EvalRunRow).where(EvalRunRow.set_name == set_name, EvalRunRow.status == DONE)
        if before is not None:
            stmt = stmt.where(EvalRunRow.id < before)
        with self.db.session() as s:
            for row in s.scalars(stmt.order_by(EvalRunRow.id.desc())):
                if not row.gate or row.gate.get("passed", True):
                    return row.id
        return None

    def list_runs(self, set_name: str | None = None, *, limit: int = 50,
                  include_discarded: bool = True) -> list[RunSummary]:
        """Runs newest first, with how many cases each saved."""
        from sqlalchemy import func

        counts = (select(EvalResultRow.run_id, func.count().label("n"))
                  .group_by(EvalResultRow.run_id).subquery())
        stmt = (select(EvalRunRow, counts.c.n).outerjoin(counts, counts.c.run_id == EvalRunRow.id)
                .order_by(EvalRunRow.id.desc()).limit(limit))
        if set_name is not None:
            stmt = stmt.where(EvalRunRow.set_name == set_name)
        if not include_discarded:
            stmt = stmt.where(EvalRunRow.status != DISCARDED)
        with self.db.session() as s:
            out = []
            for run, n in s.execute(stmt):
                gate = run.gate or {}
                out.append(RunSummary(run.id, run.set_name, run.status, run.generator, run.created_at,
                                      run.finished_at, run.baseline_id, int(n or 0),
                                      (run.metrics or {}).get("pass_rate"),
                                      gate.get("passed") if gate else None))
            return out

    def history(self, set_name: str, *, limit: int = 30, upto: int | None = None) -> list[dict[str, Any]]:
        """Finished runs of a set, oldest first: ``[{"id", "created_at", "metrics"}]`` for trend plots."""
        stmt = select(EvalRunRow).where(EvalRunRow.set_name == set_name, EvalRunRow.status == DONE)
        if upto is not None:
            stmt = stmt.where(EvalRunRow.id <= upto)
        with self.db.session() as s:
            rows = list(s.scalars(stmt.order_by(EvalRunRow.id.desc()).limit(limit)))
        return [{"id": r.id, "created_at": r.created_at.isoformat(), "metrics": dict(r.metrics or {})}
                for r in reversed(rows)]

    def load(self, run_id: int) -> dict[str, Any]:
        """The ``run`` mapping ``eval.report`` renders (see its docstring for the keys)."""
        row = self._row(run_id)
        baseline_metrics: dict[str, Any] = {}
        if row.baseline_id is not None:
            with self.db.session() as s:
                base = s.get(EvalRunRow, row.baseline_id)
                baseline_metrics = dict(base.metrics or {}) if base is not None else {}
        breakdown = dict(row.breakdown or {})
        cases = []
        for case_id, result in self.results(run_id).items():
            # Every key a report reads, then everything the runner saved (chunk hits, checks...).
            cases.append({"question": "", "tags": [], "passed": False, "skipped": None, "gold_files": [],
                          "file_ranked": [], "cited_files": [], "answer": "", "reciprocal_rank": None,
                          "timings": {}} | result | {"case_id": case_id})
        return {
            "id": row.id, "set": row.set_name, "status": row.status,
            "created_at": row.created_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "generator": row.generator, "settings": dict(row.settings or {}), "baseline_id": row.baseline_id,
            "metrics": dict(row.metrics or {}), "baseline_metrics": baseline_metrics,
            "breakdown": {"tag": breakdown.get("tag", {}), "source": breakdown.get("source", {})},
            "cases": cases, "gate": dict(row.gate) if row.gate else None, "index_version": row.index_version,
        }
