"""Retrieval quality with known answers: real git repos, the real bundled model, both
store engines (embedded qdrant-edge and qdrant-client's in-process ``:memory:``).

The corpus is built here: a code repo with dated commits (so freshness comes from git
history), docs with a deprecated page and an aged page each next to its replacement, a
repo readable only by one group, and a git wiki.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.container import Container, build
from assistant.models import User
from assistant.retrieval.query import QueryFilters
from assistant.retrieval.retriever import Retriever
from assistant.settings import RetrievalSettings, load_settings
from assistant.store.base import VectorStore
from assistant.store.server import QdrantServerStore
from indexers.pipeline import Pipeline
from indexers.sources.factory import make_source
from tests.fixtures.gitrepo import HTTP_CLIENT, PAYMENTS_RETRY, GitRepo

pytestmark = pytest.mark.slow

ADMIN = User("admin", is_admin=True)
DEV = User("dev", ("eng",))
SEC = User("sam", ("security",))

LEDGER = '''"""Double-entry ledger for captured payments."""


def post_entry(account: str, amount_cents: int) -> None:
    """Record a ledger entry when a payment is captured."""
    if amount_cents == 0:
        raise ValueError("empty entry")
'''
EMAIL = '''"""Customer notifications."""


def send_receipt_email(customer_email: str, order_id: str) -> None:
    """Email the customer a receipt after checkout."""
    print(f"receipt for {order_id} to {customer_email}")
'''
SETTINGS_PY = '''"""Service configuration read from the environment."""

import os

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///dev.db")
CACHE_TTL_SECONDS = 300
'''
DEPLOY_NEW = '''---
owner: "@platform-team"
---
# Deploying the payments service

Releases go out through the release pipeline after the canary stage passes.

## Rolling back a bad release

Run `make rollback` to return to the previous release; the pipeline keeps five.
'''
DEPLOY_OLD = '''---
owner: "@platform-team"
deprecated: true
---
# Deploying the payments service (old process)

Releases were copied to the servers by hand with fabric.

## Rolling back a bad release

Run `fab rollback:prod` on the bastion host to return to the previous release.
'''
ONCALL_OLD = '''# On-call escalation

If the primary on-call engineer does not acknowledge a page within 15 minutes,
escalate the page to the secondary on-call engineer and then to the team lead.
'''
ONCALL_NEW = '''# On-call escalation policy

When a page is not acknowledged by the primary on-call engineer within 10 minutes,
escalate it to the secondary on-call engineer, then to the engineering manager.
'''
ROTATE = '''"""Credential rotation for the payment processor."""


def rotate_payment_api_keys(vault_path: str) -> None:
    """Issue new payment processor API keys, store them in the vault, revoke the old ones."""
    print("rotating", vault_path)
'''
RUNBOOK = '''# Payments runbook

When payment captures keep failing, check the retry queue dashboard and the processor
status page before paging anyone.
'''
RELEASE_CLI = '''"""Command line for cutting a release."""

import argparse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="release")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the steps without tagging or pushing anything",
    )
    return p
'''
RELEASE_TEST = '''from cli.release import main


def test_dry_run_only_prints(capsys):
    main(["--dry-run"])
    assert "would tag" in capsys.readouterr().out


def test_dry_run_with_verbose_option(capsys):
    main(["--dry-run", "--verbose"])
    assert "dry run" in capsys.readouterr().out


def test_dry_run_option_never_pushes(git):
    main(["--dry-run"])
    assert git.pushed == []
'''
DEPLOY_SH = '''#!/bin/sh
# Deploy with a dry run option first: the dry run option prints the plan.
terraform plan --dry-run
./release --dry-run && ./release
'''


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")


def make_repos(root: Path) -> dict[str, GitRepo]:
    app = GitRepo(root / "app")
    app.write("payments/retry.py", PAYMENTS_RETRY)
    app.write("payments/ledger.py", LEDGER)
    app.write("web/http_client.js", HTTP_CLIENT)
    app.write("notify/email.py", EMAIL)
    app.write("config/settings.py", SETTINGS_PY)
    app.write("cli/release.py", RELEASE_CLI)
    app.write("tests/test_release.py", RELEASE_TEST)
    app.write("scripts/deploy.sh", DEPLOY_SH)
    app.write("docs/oncall.md", ONCALL_OLD)
    app.commit("initial", ago(5 * 365))
    app.write("docs/deploy-old.md", DEPLOY_OLD)
    app.commit("old deploy doc", ago(400))
    app.write("docs/deploy.md", DEPLOY_NEW)
    app.commit("new deploy process", ago(10))
    app.write("docs/oncall-policy.md", ONCALL_NEW)
    app.commit("new escalation policy", ago(5))

    secure = GitRepo(root / "secure")
    secure.write("keys/rotate.py", ROTATE)
    secure.commit("rotation", ago(30))

    wiki = GitRepo(root / "wiki")
    wiki.write("Payments-Runbook.md", RUNBOOK)
    wiki.commit("runbook", ago(60))
    return {"app": app, "secure": secure, "wiki": wiki}


def add_and_index(container: Container, catalog: Catalog, store: VectorStore, repos: dict[str, GitRepo]) -> None:
    catalog.add_source("app", "git", str(repos["app"].path))
    catalog.add_source("secure", "git", str(repos["secure"].path), access_groups=["security"])
    catalog.add_source("wiki", "wiki", str(repos["wiki"].path), options={"format": "git"})
    pipeline = Pipeline(catalog, store, container.embedder, container.sparse)
    for name in ("app", "secure", "wiki"):
        row = catalog.get_source(name)
        report = pipeline.index(row, make_source(row, container.settings, catalog))
        assert report.status == "ok", report.error


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The corpus indexed once per engine, sharing one loaded model."""
    root = tmp_path_factory.mktemp("quality")
    repos = make_repos(root / "repos")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCEWISE_HOME", str(root / "home"))
        container = build(load_settings())
    add_and_index(container, container.catalog, container.store, repos)
    server_catalog = Catalog(Database(f"sqlite:///{root / 'server-catalog.db'}"))
    server_store = QdrantServerStore("quality", location=":memory:")
    add_and_index(container, server_catalog, server_store, repos)
    yield {"edge": (container.store, container.catalog), "server": (server_store, server_catalog),
           "container": container}
    server_store.close()
    server_catalog.db.close()
    container.close()


@pytest.fixture(params=["edge", "server"])
def engine(request: pytest.FixtureRequest, indexed: dict) -> tuple[VectorStore, Catalog, Container]:
    store, catalog = indexed[request.param]
    return store, catalog, indexed["container"]


def retriever(engine: tuple, **overrides: object) -> Retriever:
    store, catalog, container = engine
    return Retriever(store, container.embedder, container.sparse, RetrievalSettings(**overrides),
                     known_sources=lambda: {r.name for r in catalog.list_sources()})


def paths(r: Retriever, question: str, user: User = ADMIN, **kw: object) -> list[str]:
    return [f"{p.source}:{p.path}" for p in r.retrieve(question, user=user, **kw).passages]


@pytest.mark.parametrize(
    ("question", "path", "line"),
    [
        ("Where is RETRY_LIMIT defined?", "payments/retry.py", 3),
        ("HttpClient.send", "web/http_client.js", 6),
        ("what does retry_failed_payment do", "payments/retry.py", 17),
        ("CACHE_TTL_SECONDS", "config/settings.py", 6),
        ("what is in payments/ledger.py", "payments/ledger.py", 4),
        ("where is the --dry-run option declared?", "cli/release.py", 9),
    ],
)
def test_identifier_or_path_finds_the_definition_first(engine: tuple, question: str, path: str, line: int) -> None:
    top = retriever(engine).retrieve(question, user=ADMIN).passages[0]
    assert (top.source, top.path) == ("app", path)
    assert top.start_line <= line <= top.end_line


def test_prose_question_finds_the_right_doc(engine: tuple) -> None:
    found = paths(retriever(engine), "How do I roll back a bad release?")
    assert found[0] == "app:docs/deploy.md"
    found = paths(retriever(engine), "who gets the page after the primary on-call engineer?", k=3)
    assert {"app:docs/oncall.md", "app:docs/oncall-policy.md"} & set(found[:2])
    found = paths(retriever(engine), "payment captures keep failing, what should I check?", k=5)
    assert "wiki:Payments-Runbook.md" in found[:3]


def test_deprecated_doc_is_demoted_below_its_replacement(engine: tuple) -> None:
    q = "how do I roll back a bad release of the payments service?"
    neutral = paths(retriever(engine, deprecated_penalty=0.0, freshness_weight=0.0), q, k=8)
    assert "app:docs/deploy-old.md" in neutral  # relevant: only the formula demotes it
    found = paths(retriever(engine), q, k=8)
    assert found[0] == "app:docs/deploy.md"
    if "app:docs/deploy-old.md" in found:
        assert found.index("app:docs/deploy-old.md") > found.index("app:docs/deploy.md")
    stale = retriever(engine).retrieve(q, user=ADMIN, k=8).passages
    assert all(p.status == "deprecated" for p in stale if p.path == "docs/deploy-old.md")


def test_aged_doc_is_demoted_below_its_fresh_replacement(engine: tuple) -> None:
    q = ("If the primary on-call engineer does not acknowledge a page within 15 minutes, "
         "who do I escalate to?")
    without = paths(retriever(engine, freshness_weight=0.0), q, k=4)
    assert without.index("app:docs/oncall.md") < without.index("app:docs/oncall-policy.md")
    found = paths(retriever(engine), q, k=4)
    assert found.index("app:docs/oncall-policy.md") < found.index("app:docs/oncall.md")
    ages = {p.path: p.age_days() for p in retriever(engine).retrieve(q, user=ADMIN, k=4).passages}
    assert ages["docs/oncall.md"] > 4 * 365 and ages["docs/oncall-policy.md"] < 30


def test_acl_excludes_a_groups_source_for_outsiders(engine: tuple) -> None:
    r = retriever(engine)
    q = "how do we rotate the payment processor API keys?"
    assert paths(r, q)[0] == "secure:keys/rotate.py"
    assert paths(r, q, user=SEC)[0] == "secure:keys/rotate.py"
    outsider = paths(r, q, user=DEV)
    assert outsider and not any(p.startswith("secure:") for p in outsider)
    assert not any(f.startswith("secure:") for f, _ in r.rank_files(q, user=DEV))
    assert r.retrieve(q, user=User("nobody")).passages  # public sources stay visible


def test_filters_in_the_question(engine: tuple) -> None:
    r = retriever(engine)
    q = "payments"
    assert {p.split(":")[0] for p in paths(r, f"{q} repo:wiki")} == {"wiki"}
    assert all(p.startswith("app:docs/") for p in paths(r, f"{q} path:docs/*"))
    assert {p for p in paths(r, "send a request lang:javascript")} == {"app:web/http_client.js"}
    docs = r.retrieve(f"{q} kind:docs", user=ADMIN).passages
    assert docs and {p.kind for p in docs} == {"docs"}
    assert {p.kind for p in r.retrieve(f"{q} kind:wiki", user=ADMIN).passages} == {"wiki"}
    both = r.retrieve(q, user=ADMIN, filters=QueryFilters(repos=("secure", "wiki"))).passages
    assert {p.source for p in both} == {"secure", "wiki"}
    assert {p.source for p in r.retrieve(f"{q} repo:secure", user=DEV).passages} == set()


def test_top_k_spans_several_files(engine: tuple) -> None:
    found = paths(retriever(engine), "payment processing code", k=8)
    per_file = Counter(found)
    assert len(per_file) >= 5
    assert max(per_file.values()) <= 2


def test_file_ranking(engine: tuple) -> None:
    ranked = retriever(engine).rank_files("retry a failed payment capture with backoff", user=ADMIN, k=5)
    assert ranked[0][0] == "app:payments/retry.py"
    assert len(ranked) == len({f for f, _ in ranked}) == 5
