"""Regressions of Sourcewise issue 17 (failure 4 and part of 8): each failed on the code
before the fix. Real SQLite catalogs and both real store engines; retrieval uses the
hashed-words embedder of the retriever unit tests (the canary suite uses the real model).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.answer import Answerer
from assistant.audit import AuditLog
from assistant.catalog.interactions import InteractionLog
from assistant.container import Container
from assistant.errors import ConfigError, NotFoundError, StoreError
from assistant.feedback import FeedbackService
from assistant.generation.extractive import ExtractiveGenerator
from assistant.models import Filter, User
from assistant.owners import OwnerQueue
from assistant.retrieval.query import QueryFilters
from assistant.retrieval.retriever import Retriever
from assistant.settings import RetrievalSettings, load_settings
from assistant.store.edge import EdgeStore
from assistant.store.server import QdrantServerStore
from indexers import admin
from tests.fixtures.gitrepo import make_sample_repo
from tests.fixtures.signed_in import sign_in_as
from tests.unit.generation.fakes import FakeRetriever
from tests.unit.generation.passages import passage
from tests.unit.retrieval.test_retriever import DIM, WordEmbedder, make_points

VAULT = "vaultcanary7q"  # text only the restricted source holds
SEC = User("sec", ("security",))
ENG = User("eng", ("eng",))


def _doc(doc_id: str, owner: str) -> dict[str, Any]:
    path = doc_id.split(":", 1)[1]
    return {"doc_id": doc_id, "path": path, "kind": "docs", "language": "markdown", "title": f"title of {path}",
            "content_hash": "h", "meta_hash": "m", "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
            "version": "abc123", "author": None, "owner": owner, "url": None, "status": "active",
            "chunk_count": 1, "chunk_strategy": "prose", "model_id": "m"}


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = Container(load_settings(home=tmp_path / "home", indexing={"allowed_roots": [str(tmp_path / "srv")]}))
    c.__dict__["store"] = EdgeStore(tmp_path / "shard")  # the real engine, without the model
    c.__dict__["embedder"] = WordEmbedder()
    c.store.ensure_collection(DIM)
    users = c.users
    users.create("root", is_admin=True)
    users.create("bob", aliases=["@bob"], groups=["eng"])  # owns documents in both sources
    users.create("sec", groups=["eng", "security"])
    app = c.catalog.add_source("app", "git", "/srv/app", access_groups=["eng"])
    vault = c.catalog.add_source("vault", "git", "/srv/vault", access_groups=["security"])
    c.catalog.record_documents(app.id, [(_doc("app:docs/deploy.md", "@bob"), [])])
    c.catalog.record_documents(vault.id, [(_doc("vault:keys/rotation.md", "@bob"), []),
                                          (_doc("vault:keys/hsm.md", "@sec"), [])])
    yield c
    c.close()


def _owners(c: Container) -> OwnerQueue:
    return OwnerQueue(c.db, c.store, c.audit)


def _ask(c: Container, user: str, docs: list[str], answer: str) -> int:
    retrieved = [{"n": n, "id": f"p{n}", "doc_id": d, "path": d.split(":", 1)[1], "score": 1.0 / n}
                 for n, d in enumerate(docs, 1)]
    iid = InteractionLog(c.db).record(user_name=user, channel="ui", question=f"how is {VAULT} rotated?",
                                      answer=answer, retrieved=retrieved,
                                      citations=[{"n": 1, "id": "p1", "citation": f"{docs[0]}#L1-L2"}])
    assert iid is not None
    return iid


# -- failure 1: the owners' queue -----------------------------------------------------------
def test_owners_queue_hides_an_answer_that_quoted_a_source_the_owner_cannot_read(container: Container) -> None:
    """sec's answer cites bob's deploy doc and quotes the vault; bob (eng) gets the flag on
    his document, but neither the question nor the answer behind it."""
    c, owners = container, _owners(container)
    iid = _ask(c, "sec", ["app:docs/deploy.md", "vault:keys/rotation.md"],
               f"Deploys rotate the key [1]; the vault says `{VAULT}` [2].")
    FeedbackService(c.db, c.audit).flag(iid, 1, User("sec", ("eng", "security")), "outdated", "steps changed")
    bob = c.users.require("bob")
    [item] = owners.queue(bob)
    assert item.path == "docs/deploy.md" and len(item.flags) == 1
    flag = item.flags[0]
    assert flag.comment == "steps changed" and flag.hidden
    assert flag.question is None and flag.answer is None
    assert VAULT not in repr(owners.queue(bob))
    # whoever may read every source it drew on still sees it: sec, and admins
    [shown] = owners.queue(c.users.require("root"), owner="@bob")
    assert VAULT in (shown.flags[0].answer or "") and not shown.flags[0].hidden


def test_owners_queue_and_actions_treat_an_unreadable_document_as_missing(container: Container) -> None:
    """bob is the vault document's CODEOWNERS owner but not in `security`: no queue item, and
    every action answers exactly as for a document or flag that does not exist."""
    c, owners = container, _owners(container)
    iid = _ask(c, "sec", ["vault:keys/rotation.md"], f"Rotate with `{VAULT}` [1].")
    flag_id = FeedbackService(c.db, c.audit).flag(iid, 1, User("sec", ("eng", "security")), "wrong")
    bob = c.users.require("bob")
    assert owners.queue(bob) == [] and owners.queue(bob, owner="@bob") == []
    for act in (lambda d: owners.deprecate(d, bob), lambda d: owners.reassign(d, bob, "@bob"),
                lambda d: owners.mark_fixed(d, bob, lambda s: None)):
        with pytest.raises(NotFoundError) as real:
            act("vault:keys/rotation.md")
        with pytest.raises(NotFoundError) as missing:
            act("vault:keys/nothing.md")
        assert str(real.value).replace("rotation", "X") == str(missing.value).replace("nothing", "X")
    with pytest.raises(NotFoundError, match=f"^no flag {flag_id}$"):
        owners.dismiss(flag_id, bob, "not mine")
    with pytest.raises(NotFoundError, match="^no flag 9999$"):
        owners.dismiss(9999, bob, "not mine")
    assert [i.path for i in owners.queue(c.users.require("root"), owner="@bob")] == ["keys/rotation.md"]


# -- unknown repo: only readable sources, and the same error for forbidden and missing ---------
def test_unknown_repo_error_names_only_sources_the_caller_may_read(container: Container) -> None:
    retriever = container.retriever
    with pytest.raises(ConfigError) as forbidden:
        retriever.retrieve("how are keys rotated repo:vault", user=ENG)
    with pytest.raises(ConfigError) as missing:
        retriever.retrieve("how are keys rotated repo:nosuch", user=ENG)
    assert "vault" not in str(missing.value) and "app" in str(missing.value)
    assert str(forbidden.value).replace("'vault'", "'X'") == str(missing.value).replace("'nosuch'", "'X'")
    with pytest.raises(ConfigError) as options:  # the same through filters given as options
        retriever.retrieve("how are keys rotated", user=ENG, filters=QueryFilters(repos=("vault",)))
    assert str(options.value) == str(forbidden.value)
    nobody = User("nobody")  # no groups: no source is readable
    with pytest.raises(ConfigError) as none:
        retriever.retrieve("keys repo:app", user=nobody)
    assert "app" not in str(none.value).replace("'app'", "") and "vault" not in str(none.value)
    # admins and members still name it without an error (nothing indexed: no passages)
    assert retriever.retrieve("keys repo:vault", user=SEC).passages == ()
    assert retriever.retrieve("keys repo:vault", user=User("root", is_admin=True)).passages == ()


def test_api_services_build_the_same_repo_check(container: Container) -> None:
    from assistant.api.deps import _build_retriever

    class Bare:  # a container without a ready-made retriever (what the API builds then)
        settings, store, db, catalog = container.settings, container.store, container.db, container.catalog
        embedder, sparse = WordEmbedder(), container.sparse

    with pytest.raises(ConfigError) as err:
        _build_retriever(Bare()).retrieve("rotation repo:vault", user=ENG)  # type: ignore[arg-type]
    assert "vault" not in str(err.value).replace("'vault'", "")


# -- the answer cache follows access changes -------------------------------------------------
def _answerer(c: Container) -> Answerer:
    passages = [passage(1, "docs/deploy.md", "Deploys rotate the signing key every week.\n", kind="docs",
                        language="markdown", source="app")]
    return Answerer(FakeRetriever(passages), ExtractiveGenerator(), c.catalog, c.settings)


def test_deprecate_restore_reassign_and_group_changes_invalidate_cached_answers(container: Container) -> None:
    c, owners = container, _owners(container)
    answerer, root = _answerer(c), c.users.require("root")
    q = "how often is the signing key rotated?"

    def cached() -> bool:
        return answerer.answer(q, user=ENG).cached

    assert not cached() and cached()
    owners.deprecate("app:docs/deploy.md", root, "replaced")
    assert not cached() and cached()
    owners.deprecate("app:docs/deploy.md", root, deprecated=False)
    assert not cached() and cached()
    owners.reassign("app:docs/deploy.md", root, "@sec")
    assert not cached() and cached()
    admin.update_source(c, "app", actor="root", groups=["eng", "ops"])
    assert not cached() and cached()
    admin.update_source(c, "app", actor="root", classification="restricted")
    assert not cached() and cached()
    assert len(answerer.cache) == 1  # answers of older index versions were dropped, not just bypassed


# -- narrowing groups applies to the next query, on both engines -----------------------------
@pytest.fixture(params=["edge", "server"])
def engine_container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    c = Container(load_settings(home=tmp_path / "home"))
    store = EdgeStore(tmp_path / "shard") if request.param == "edge" else QdrantServerStore("acl", location=":memory:")
    store.ensure_collection(DIM)
    store.upsert(make_points("app", "keys/rotate.py", f"def rotate_keys():\n    '''{VAULT} rotation.'''\n",
                             groups=("eng",)))
    store.upsert(make_points("docs", "deploy.md", "# Deploying\n\nRotate keys after deploying.\n", kind="docs",
                             language="markdown"))
    c.__dict__["store"] = store
    c.catalog.add_source("app", "git", "/srv/app", access_groups=["eng"])
    c.catalog.add_source("docs", "git", "/srv/docs", access_groups=["everyone"])
    yield c
    c.close()


def test_narrowing_a_sources_groups_rewrites_its_points_at_once(engine_container: Container) -> None:
    c = engine_container
    retriever = Retriever(c.store, WordEmbedder(), c.sparse, RetrievalSettings(k=5))
    q = "rotate keys rotation"
    assert "app" in {p.source for p in retriever.retrieve(q, user=ENG).passages}
    admin.update_source(c, "app", actor="root", groups=["security"])
    assert {p.source for p in retriever.retrieve(q, user=ENG).passages} == {"docs"}
    assert "app" in {p.source for p in retriever.retrieve(q, user=SEC).passages}
    assert {tuple(h.payload["access_groups"]) for h in c.store.points(Filter({"source": ["app"]}))} == {("security",)}
    assert {tuple(h.payload["access_groups"]) for h in c.store.points(Filter({"source": ["docs"]}))} == {("everyone",)}
    assert c.catalog.get_source("app").access_groups == ["security"]
    [entry] = c.audit.entries(action="source.update")
    assert entry.details["access_groups"] == ["security"]


def test_a_store_that_cannot_open_changes_nothing(container: Container) -> None:
    class Locked(Container):
        @property
        def store(self) -> Any:  # type: ignore[override]
            raise StoreError("the data directory is locked by another process")

    locked = Locked(container.settings)
    with pytest.raises(StoreError, match="nothing was changed"):
        admin.update_source(locked, "app", actor="root", groups=["security"])
    assert container.catalog.get_source("app").access_groups == ["eng"]


# -- public only when someone says so -------------------------------------------------------
@pytest.mark.parametrize("groups", [[], [""], [" ", "\t"]])
def test_a_blank_group_list_is_refused(container: Container, groups: list[str]) -> None:
    with pytest.raises(ConfigError, match="everyone"):
        admin.add_source(container, "new", "git", "/srv/new", actor="root", groups=groups)
    with pytest.raises(ConfigError, match="everyone"):
        admin.update_source(container, "app", actor="root", groups=groups)
    assert container.catalog.get_source("app").access_groups == ["eng"]
    assert "new" not in {r.name for r in container.catalog.list_sources()}


def test_public_is_explicit_and_not_mixed_with_groups(container: Container, tmp_path: Path) -> None:
    repo = str(make_sample_repo(tmp_path / "repo").path)  # a location that passes validation
    row = admin.add_source(container, "pub", "git", repo, actor="root", groups=["everyone"], door="cli")
    assert row.access_groups == ["everyone"] and row.classification == "internal"
    with pytest.raises(ConfigError, match="either everyone or"):
        admin.update_source(container, "pub", actor="root", groups=["everyone", "eng"])
    unsaid = admin.add_source(container, "cli", "git", repo, actor="root", door="cli")  # --groups not given at all
    assert unsaid.access_groups == ["everyone"]


def test_cli_refuses_an_empty_groups_option(tmp_path: Path) -> None:
    from tests.integration.cli import run_cli

    home = tmp_path / "home"
    repo = make_sample_repo(tmp_path / "repo").path
    for args in (["source", "add", "x", "--git", str(repo), "--groups", ""],
                 ["source", "add", "x", "--git", str(repo), "--groups", " , "]):
        out = run_cli(home, *args, check=False)
        assert out.returncode == 2 and "everyone" in out.stderr, out.stderr
    run_cli(home, "source", "add", "x", "--git", str(repo), "--groups", "eng")
    out = run_cli(home, "source", "update", "x", "--groups", "", check=False)
    assert out.returncode == 2 and "empty group list is refused" in " ".join(out.stderr.split())
    listed = run_cli(home, "source", "list", "--json")
    assert '"eng"' in listed.stdout
    added = run_cli(home, "source", "add", "y", "--git", str(repo))
    assert "readable by: everyone (public)" in added.stdout


# -- removal applies to the next query and purges stored snippets ----------------------------
def test_removing_a_source_applies_to_the_next_query_and_purges_stored_snippets(container: Container) -> None:
    from assistant.catalog.chat_schema import ChatElementRow, ChatStepRow, ChatThreadRow
    from assistant.retention import REMOVED_ANSWER

    c = container
    c.store.upsert(make_points("vault", "keys/rotation.md", f"# Rotation\n\n{VAULT} rotates keys.\n", kind="docs",
                               language="markdown", groups=("security",)))
    retriever = Retriever(c.store, WordEmbedder(), c.sparse, RetrievalSettings(k=5))
    answerer = Answerer(retriever, ExtractiveGenerator(), c.catalog, c.settings)
    q = "which tool rotates keys?"
    first = answerer.answer(q, user=SEC)
    assert VAULT in first.text and answerer.answer(q, user=SEC).cached
    kept = _ask(c, "sec", ["app:docs/deploy.md"], "Deploy with make [1].")
    with c.db.session() as s:
        s.add(ChatThreadRow(id="t1", user_name="sec", meta={}, tags=[]))
        s.flush()
        for iid, sid in ((first.interaction_id, "s1"), (kept, "s2")):
            s.add(ChatStepRow(id=sid, thread_id="t1", type="assistant_message", output=f"answer {iid}",
                              interaction_id=iid, meta={"interaction_id": iid, "citations": ["x"]}))
            s.flush()
            s.add(ChatElementRow(id=f"e{sid}", thread_id="t1", step_id=sid, type="text", name="[1]",
                                 content=f"passage text {VAULT if sid == 's1' else 'deploy'}"))

    admin.remove_source(c, "vault", actor="root")

    after = answerer.answer(q, user=SEC)
    assert not after.cached and VAULT not in after.text and not after.citations
    assert len(answerer.cache) <= 1  # the old answer is gone from memory too
    assert c.store.count(Filter({"source": ["vault"]})) == 0
    with c.db.session() as s:
        purged = s.get(ChatStepRow, "s1")
        assert purged.output == REMOVED_ANSWER and "citations" not in purged.meta
        assert s.get(ChatElementRow, "es1") is None
        assert s.get(ChatStepRow, "s2").output == f"answer {kept}" and s.get(ChatElementRow, "es2") is not None
    row = InteractionLog(c.db).get(first.interaction_id)
    assert row.answer == REMOVED_ANSWER and row.question == q
    assert InteractionLog(c.db).get(kept).answer == "Deploy with make [1]."
    [entry] = c.audit.entries(action="source.remove")
    assert entry.details["purged_answers"] >= 1


# -- thread resume follows access changes ---------------------------------------------------
def test_thread_resume_hides_answers_from_sources_the_owner_can_no_longer_read(container: Container) -> None:
    from chainlit.context import init_http_context

    from tests.unit.ui.conftest import as_caller, step
    from ui import runtime
    from ui.data_layer import CatalogDataLayer

    c = container
    iid = _ask(c, "bob", ["app:docs/deploy.md"], f"Deploy notes: {VAULT} [1].")
    rt = runtime.install(c, answerer=object(), retriever=object())
    try:
        dl = CatalogDataLayer()

        def run(fn: Any) -> Any:
            async def main() -> Any:
                init_http_context()
                with as_caller("bob"):
                    return await fn()
            return asyncio.run(main())

        class Element:  # what Chainlit hands the data layer for a citation side panel
            id, thread_id, for_id, type, name, display = "el1", "t1", "a1", "text", "[1]", "side"
            mime, url, content, props = "text/markdown", None, f"```\n{VAULT} line\n```", {}

        run(lambda: dl.update_thread("t1", name="deploys", user_id="bob"))
        run(lambda: dl.create_step(step("a1", "t1", output=f"Deploy notes: {VAULT} [1].",
                                        metadata={"interaction_id": iid, "citations": [{"n": 1}]})))
        run(lambda: dl.create_element(Element()))
        assert VAULT in str(run(lambda: dl.get_thread("t1")))
        assert VAULT in (dl.element_content("el1", "bob") or "")

        admin.update_source(c, "app", actor="root", groups=["security"])  # bob loses app
        thread = run(lambda: dl.get_thread("t1"))
        assert VAULT not in str(thread) and thread["elements"] == []
        assert thread["steps"][0]["output"].startswith("[hidden")
        assert dl.element_content("el1", "bob") is None
        assert run(lambda: dl.get_element("t1", "el1")) is None

        admin.update_source(c, "app", actor="root", groups=["eng"])  # and back: nothing was destroyed
        assert VAULT in str(run(lambda: dl.get_thread("t1")))
    finally:
        rt.close()
        runtime.uninstall()


def test_feedback_audit_and_owner_queue_keep_working_for_admins(container: Container) -> None:
    """Admins read every source: nothing is hidden from them (the review page is admin-only)."""
    c = container
    iid = _ask(c, "sec", ["vault:keys/hsm.md"], f"HSM: {VAULT} [1].")
    FeedbackService(c.db, c.audit).flag(iid, 1, User("sec", ("security",)), "outdated")
    items = FeedbackService(c.db, AuditLog(c.db)).review()
    assert any(VAULT in (i.answer or "") for i in items)
    assert [i.path for i in _owners(c).queue(c.users.require("sec"))] == ["keys/hsm.md"]


# -- failed lookups fail closed --------------------------------------------------------------
def test_failed_lookups_show_nothing(container: Container) -> None:
    from assistant.errors import StoreError as Broken
    from tests.security.test_policy import RecordingModel

    def broken() -> dict[str, Any]:
        raise Broken("the catalog is unreachable")

    retriever = Retriever(container.store, WordEmbedder(), container.sparse, RetrievalSettings(), known_sources=broken)
    with pytest.raises(Broken):
        retriever.retrieve("keys repo:vault", user=ENG)
    model = RecordingModel()
    answerer = Answerer(FakeRetriever([passage(1, "k.md", f"{VAULT}\n", source="vault")]), model, container.catalog,
                        container.settings)
    answerer.policy.classifications = broken
    with pytest.raises(Broken) as err:
        answerer.answer("what is in the vault?", user=SEC)
    assert model.seen == [] and VAULT not in str(err.value)
    assert InteractionLog(container.db).get(err.value.interaction_id).answer is None  # type: ignore[attr-defined]


# -- the pages: a blank groups field, classification, the owners' page ----------------------
@pytest.fixture
def pages(container: Container) -> Iterator[tuple[TestClient, dict[str, str]]]:
    import ui.pages
    from assistant.api.app import create_app
    
    app = create_app(container)
    app.include_router(ui.pages.router)
    who = sign_in_as(app, container)
    from ui.pages.jobs import start_worker

    start_worker(app, container)  # access changes are indexing jobs: run them as `serve` does
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, who
    ui.pages.shutdown(app)


def _csrf(client: TestClient, url: str) -> str:
    import re

    m = re.search(r'name="csrf-token" content="([0-9a-f]+)"', client.get(url).text)
    assert m
    return m.group(1)


def test_admin_form_refuses_a_blank_groups_field_and_sets_classification(
        container: Container, pages: tuple[TestClient, dict[str, str]], tmp_path: Path) -> None:
    client, _ = pages
    repo = make_sample_repo(tmp_path / "srv" / "wiki")  # under the allowed root: passes validation
    form = {"name": "wiki", "kind": "git", "location": str(repo.path), "csrf_token": _csrf(client, "/admin")}
    r = client.post("/admin/sources", data={**form, "groups": "  "}, follow_redirects=True)
    assert "empty group list is refused" in " ".join(r.text.split())
    assert "wiki" not in {s.name for s in container.catalog.list_sources()}
    r = client.post("/admin/sources", data={**form, "groups": "eng", "public": "true"}, follow_redirects=True)
    assert "either everyone or" in r.text
    client.post("/admin/sources", data={**form, "public": "true", "classification": "restricted"})
    row = container.catalog.get_source("wiki")
    assert row.access_groups == ["everyone"] and row.classification == "restricted"
    page = client.get("/admin/sources/wiki").text
    assert 'value="restricted" selected' in page and 'name="public" value="true" checked' in page
    # the source page: blank refused, nothing changed; groups and classification applied at once
    token = _csrf(client, "/admin/sources/wiki")
    r = client.post("/admin/sources/wiki/groups", data={"groups": "", "csrf_token": token}, follow_redirects=True)
    assert "empty group list is refused" in " ".join(r.text.split())
    assert container.catalog.get_source("wiki").access_groups == ["everyone"]
    r = client.post("/admin/sources/wiki/groups", follow_redirects=True,
                    data={"groups": "eng", "classification": "internal", "csrf_token": token})
    assert "Access saved and applied" in r.text
    row = container.catalog.get_source("wiki")
    assert row.access_groups == ["eng"] and row.classification == "internal"


def test_owners_page_says_why_a_flags_answer_is_not_shown(
        container: Container, pages: tuple[TestClient, dict[str, str]]) -> None:
    client, who = pages
    iid = _ask(container, "sec", ["app:docs/deploy.md", "vault:keys/rotation.md"], f"It says `{VAULT}` [2].")
    FeedbackService(container.db, container.audit).flag(iid, 1, User("sec", ("eng", "security")), "wrong", "old")
    who["name"] = "bob"
    page = client.get("/owners").text
    assert "docs/deploy.md" in page and "“old”" in page
    assert "drew on sources you cannot read" in page and VAULT not in page
    assert "keys/rotation.md" not in page and "vault" not in page.lower()
