"""The issue's "done means", in headless Chromium against the real server: sign in, a
streamed cited answer and its citation panel; thumbs down with a reason; a source flagged
outdated, fixed by its owner and re-indexed; an admin adding a source; threads private
to their owner; markup typed as a question shown as text. Also writes the README's
screenshots (``docs/screenshots`` with ``make screenshots``, else a temporary folder).

Section numbers follow the issue's list. The tests share one server and run in file order; each starts its own chat, and the
only state carried forward is in the catalog (the flag closed by the owner, the
thumbs-down the admin reviews).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.conftest import JOB_TIMEOUT_MS, SOURCE, Server, Session, screenshot
from tests.fixtures.gitrepo import DEPLOY_MD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROLLBACK = "how do we roll back a release?"
ANSWER = "[data-step-type=assistant_message]:has(button[id^='sw-flag-'])"
HOSTILE_QUESTION = "<img src=x onerror=alert(1)> how do we escalate an incident page?"


# -- helpers -----------------------------------------------------------------------------
def ask(session: Session, question: str) -> tuple[Locator, int]:
    """Type a question, send it, wait for the final answer (it carries the flag action);
    returns the answer's step and its interaction id."""
    page = session.page
    answers = page.locator(ANSWER)
    before = answers.count()
    page.locator("#chat-input").fill(question)
    page.locator("#chat-submit").click()
    expect(answers).to_have_count(before + 1)
    answer = answers.nth(before)
    flag_id = answer.locator("button[id^='sw-flag-']").first.get_attribute("id") or ""
    match = re.fullmatch(r"sw-flag-(\d+)", flag_id)
    assert match, f"unexpected flag action id {flag_id!r}"
    return answer, int(match.group(1))


def assert_streamed(session: Session) -> None:
    """The chat socket carried the answer as a stream (start, tokens) before the final message."""
    events = [json.loads(f[2:]) for f in session.frames if f.startswith("42[")]
    names = [e[0] for e in events]
    assert "stream_start" in names, names
    start = names.index("stream_start")
    sid = events[start][1]["id"]
    tokens = [i for i, e in enumerate(events) if e[0] == "stream_token" and e[1]["id"] == sid]
    final = [i for i, e in enumerate(events) if e[0] == "new_message" and e[1].get("id") == sid]
    assert tokens and final and start < tokens[0] <= tokens[-1] < final[-1], names


def thread_id(session: Session) -> str:
    """The chat's thread id, from the URL Chainlit moves to after the first message."""
    session.page.wait_for_url(re.compile(r"/thread/[0-9a-f-]{36}$"))
    return session.page.url.rsplit("/", 1)[1]


def last_commit_of(server: Server, path: str) -> str:
    return server.repo.git("log", "-1", "--format=%H", "--", path)


def open_citation(session: Session, answer: Locator, n: int) -> Locator:
    """Close the side panel if Chainlit opened one, click ``[n]`` in the answer, return the panel."""
    page = session.page
    panel = page.locator("#side-view-content")
    if panel.is_visible():
        page.locator("#side-view-title button").click()
        expect(panel).to_be_hidden()
    answer.locator("a.element-link", has_text=f"[{n}]").first.click()
    expect(page.locator("#side-view-title")).to_contain_text(f"[{n}]")
    expect(panel).to_be_visible()
    return panel


def job_evidence(page: Any, first_render: str) -> str:
    """What the page showed first and what the server says about its jobs (for a failure message)."""
    job = re.search(r'<div class="job"[^>]*>', first_render)
    docs = re.search(r'<div class="stat">(\d+)</div><div class="small muted">documents', first_render)
    jobs = page.request.get("/admin/jobs").text()[:1500]
    return (f"first render: job={job.group(0) if job else None}, documents={docs.group(1) if docs else None}\n"
            f"jobs now: {jobs}")


def choose(page: Any, button_id: str) -> None:
    button = page.locator(f"#{button_id}")
    expect(button).to_be_visible()
    button.click()


# -- 1. ask, stream, cite ----------------------------------------------------------------
def test_signed_in_question_streams_a_cited_answer_and_opens_its_source(server: Server, sign_in: Any) -> None:
    alice = sign_in("alice")
    page = alice.page
    answer, iid = ask(alice, ROLLBACK)

    expect(answer.locator(".message-content")).to_contain_text("make rollback")
    links = answer.locator("a.element-link")
    expect(links.first).to_have_text(re.compile(r"^\[\d+\]$"))
    assert_streamed(alice)

    # Which [n] is docs/deploy.md: the answer step's metadata lists its citations.
    cites = server.query("SELECT citations FROM interactions WHERE id = ?", iid)[0][0]
    n = next(c["n"] for c in json.loads(cites) if ":docs/deploy.md#" in c["citation"])
    panel = open_citation(alice, answer, n)

    commit = last_commit_of(server, "docs/deploy.md")
    head = panel.locator("code").first
    expect(head).to_have_text(re.compile(rf"^{SOURCE}@{commit[:12]}:docs/deploy\.md#L\d+-L\d+$"))
    start, end = map(int, re.search(r"#L(\d+)-L(\d+)", head.inner_text()).groups())  # type: ignore[union-attr]
    body = panel.locator("pre code").inner_text()
    numbers = [int(m) for m in re.findall(r"^\s*(\d+) \|", body, re.MULTILINE)]
    assert numbers == list(range(start, end + 1)), body
    assert "make rollback" in body
    # The age: the file's own last change (2024-01-10 in the fixture), never the push time.
    expect(panel).to_contain_text(re.compile(r"updated 2024-01-10 \(\d+ (days?|months|years?) ago\)"))
    said = re.search(r"docs/deploy\.md was last changed (.+?) ago \(2024-01-10\)", answer.inner_text())
    assert said, answer.inner_text()  # the answer names the doc's age too, and the two agree
    expect(panel).to_contain_text(f"updated 2024-01-10 ({said.group(1)} ago)")
    expect(panel).to_contain_text("owner @platform-team")

    row = server.query("SELECT channel, user_name FROM interactions WHERE id = ?", iid)[0]
    assert row == ("ui", "alice")
    screenshot(page, "chat.png")
    assert alice.dialogs == []


# -- 3. flag -> owner's queue -> fix -> re-index ------------------------------------------
def test_flagged_source_reaches_its_owner_who_marks_it_fixed(server: Server, sign_in: Any) -> None:
    alice = sign_in("alice")
    page = alice.page
    answer, iid = ask(alice, ROLLBACK)
    comment = "Rollback now goes through the deploy tool, not make."

    answer.locator(f"#sw-flag-{iid}").click()
    choice = page.locator(f"button[id^='sw-flag-{iid}-']", has_text="docs/deploy.md")
    expect(choice).to_have_count(1)
    n = int((choice.get_attribute("id") or "").rsplit("-", 1)[1])
    choice.click()
    choose(page, "sw-kind-outdated")
    expect(page.get_by_text("Add a comment for the source's owner")).to_be_visible()
    page.locator("#chat-input").fill(comment)
    page.locator("#chat-submit").click()
    expect(page.get_by_text(f"Thanks: source [{n}] is flagged as outdated")).to_be_visible()

    old_commit = last_commit_of(server, "docs/deploy.md")
    flags = server.query("SELECT id, kind, comment, owner, user_name, status, citation_n, doc_id FROM flags "
                         "WHERE interaction_id = ?", iid)
    assert len(flags) == 1
    flag_id, kind, saved, owner, user, status, cited_n, doc_id = flags[0]
    assert (kind, saved, owner, user, status, cited_n) == ("outdated", comment, "@platform-team", "alice", "open", n)

    # The owner (plat has the @platform-team handle) sees it in their queue.
    plat = sign_in("plat")
    owners = plat.page
    owners.goto("/owners")
    item = owners.locator(".item", has_text="docs/deploy.md")
    expect(item).to_have_count(1)
    expect(item).to_contain_text(f"{SOURCE}:docs/deploy.md")
    expect(item).to_contain_text(comment)
    expect(item).to_contain_text("flagged by alice")
    expect(item).to_contain_text(ROLLBACK)
    expect(item.locator(".badge", has_text="outdated")).to_be_visible()
    screenshot(owners, "owners.png")

    # The owner fixes the doc in the repository, then marks it fixed: a re-index job runs.
    server.repo.write("docs/deploy.md", DEPLOY_MD.replace(
        "Run `make rollback` to return to the previous release.",
        "Run `deploy rollback payments` to return to the previous release."))
    new_commit = server.repo.commit("rollback through the deploy tool", datetime.now(UTC).isoformat())
    assert new_commit != old_commit
    fixed = item.locator("form[action='/owners/fixed']")
    fixed.locator("input[name=note]").fill("uses the deploy tool now")
    fixed.get_by_role("button", name="Mark fixed").click()
    notice = owners.locator(".flash.notice")
    expect(notice).to_contain_text(f"Re-indexing {SOURCE} to pick up the fix to docs/deploy.md")
    job = int(re.search(r"job #(\d+)", notice.inner_text()).group(1))  # type: ignore[union-attr]
    progress = owners.locator(f"[data-job='{job}']")
    if progress.count():  # still running when the page rendered: it shows live progress, then reloads
        expect(progress.locator("[data-job-text]")).to_contain_text(re.compile(rf"mark fixed #{job}: "))
        expect(progress).to_have_count(0, timeout=JOB_TIMEOUT_MS)
    expect(owners.locator(".empty")).to_contain_text("Nothing flagged", timeout=JOB_TIMEOUT_MS)
    snap = owners.request.get(f"/owners/jobs/{job}").json()
    assert snap["state"] == "done", snap
    assert snap["report"]["status"] == "ok" and snap["tasks"], snap
    assert all(t["done"] == t["total"] for t in snap["tasks"].values()), snap

    status, resolved_by = server.query("SELECT status, resolved_by FROM flags WHERE id = ?", flag_id)[0]
    assert (status, resolved_by) == ("fixed", "plat")
    version, path = server.query("SELECT version, path FROM documents WHERE doc_id = ?", doc_id)[0]
    assert (version, path) == (new_commit, "docs/deploy.md")
    assert alice.dialogs == [] and plat.dialogs == []


# -- 2. thumbs down with a reason ---------------------------------------------------------
def test_thumbs_down_asks_for_a_reason_and_is_recorded(server: Server, sign_in: Any) -> None:
    alice = sign_in("alice")
    page = alice.page
    answer, iid = ask(alice, ROLLBACK)
    comment = "It should name the deploy tool."

    answer.locator(".negative-feedback-off").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("textarea").fill(comment)
    dialog.get_by_role("button", name="Submit feedback").click()
    expect(page.get_by_text("What was wrong with that answer?")).to_be_visible()
    for reason, label in (("wrong_answer", "Wrong answer"), ("wrong_source", "Wrong source"),
                          ("outdated_source", "Outdated source"), ("missing_source", "No source covers this"),
                          ("other", "Something else")):
        expect(page.locator(f"#sw-reason-{reason}")).to_have_text(label)
    choose(page, "sw-reason-wrong_answer")
    expect(page.get_by_text("Noted: wrong answer.")).to_be_visible()

    rows = server.query("SELECT value, reason, comment, user_name FROM feedback WHERE interaction_id = ?", iid)
    assert rows == [("down", "wrong_answer", comment, "alice")]

    # The admin's feedback review lists it with the question and answer.
    root = sign_in("root")
    review = root.page
    review.goto("/admin/feedback")
    item = review.locator(".item", has_text=comment)
    expect(item).to_have_count(1)
    expect(item.locator(".badge")).to_have_text("thumbs down")
    expect(item.locator(".chip").first).to_have_text("wrong answer")
    expect(item).to_contain_text(f"answer #{iid}")
    expect(item.locator(".qa .q")).to_have_text(f"Q: {ROLLBACK}")
    screenshot(review, "admin-feedback.png")
    assert alice.dialogs == [] and root.dialogs == []


# -- 4. an admin adds a source ------------------------------------------------------------
def test_admin_adds_a_docs_source_and_sees_it_indexed(server: Server, sign_in: Any) -> None:
    docs = server.tmp / "handbook"
    (docs / "oncall").mkdir(parents=True)
    (docs / "oncall" / "paging.md").write_text("# Paging\n\nThe on-call engineer is paged through PagerDuty.\n")
    (docs / "style.md").write_text("# Code style\n\nFormat Python with ruff; keep modules under 500 lines.\n")

    root = sign_in("root")
    page = root.page
    page.goto("/admin")
    form = page.locator("form[action='/admin/sources']")
    form.locator("#name").fill("handbook")
    form.locator("#kind").select_option("docs")
    form.locator("#location").fill(str(docs))
    form.locator("input[name=public]").check()  # public on purpose: a blank groups field is refused
    expect(form.locator("input[name=index_now]")).to_be_checked()
    form.get_by_role("button", name="Add source").click()

    page.wait_for_url(re.compile(r"/admin/sources/handbook$"))
    first = page.content()
    documents = page.locator(".stats > div", has_text="documents").locator(".stat")
    try:
        expect(documents).to_have_text("2", timeout=JOB_TIMEOUT_MS)  # the page follows the job, then reloads
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{job_evidence(page, first)}") from exc
    expect(page.locator("h1 .badge")).to_have_text("healthy")

    page.goto("/admin")
    sources = page.locator("table").first  # the sources table (the jobs table follows)
    row = sources.locator("tbody tr", has_text="handbook")
    expect(row.locator("td.num").first).to_have_text("2")
    expect(row.locator(".badge.ok")).to_have_text("healthy")
    # The sample repo's binary logo is skipped, and the health column says so.
    expect(sources.locator("tbody tr", has_text=SOURCE).locator(".badge.warn").first).to_have_text("1 skipped")
    assert server.query("SELECT count(*) FROM documents d JOIN sources s ON s.id = d.source_id "
                        "WHERE s.name = 'handbook'") == [(2,)]
    screenshot(page, "admin.png")
    assert root.dialogs == []


# -- 5. threads are private ---------------------------------------------------------------
def test_another_user_cannot_see_or_open_a_thread(server: Server, sign_in: Any) -> None:
    question = "where are failed payments retried?"
    alice = sign_in("alice")
    ask(alice, question)
    alice_thread = thread_id(alice)
    expect(alice.page.locator(f"#thread-{alice_thread}")).to_be_visible()  # in her own history
    own = alice.page.request.get(f"/project/thread/{alice_thread}")
    assert own.status == 200, own.text()
    element_url = next(e["url"] for e in own.json()["elements"] if e.get("url"))
    assert alice.page.request.get(element_url).status == 200

    bob = sign_in("bob")
    page = bob.page
    ask(bob, ROLLBACK)
    bob_thread = thread_id(bob)
    history = page.locator("#thread-history")
    expect(history.locator(f"#thread-{bob_thread}")).to_be_visible()  # the list works for bob...
    expect(history.locator(f"#thread-{alice_thread}")).to_have_count(0)  # ...and lacks alice's thread
    expect(history).not_to_contain_text(question)

    page.goto(f"/thread/{alice_thread}")
    expect(page.get_by_text("Thread not found")).to_be_visible()
    expect(page.locator("[data-step-type]")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(question)

    # The data layer behind the page refuses too (bob's own thread, for contrast, opens).
    assert page.request.get(f"/project/thread/{bob_thread}").status == 200
    assert page.request.get(f"/project/thread/{alice_thread}").status in (401, 403, 404)
    listed = page.request.post("/project/threads", data={"pagination": {"first": 50}, "filter": {}}).json()
    assert alice_thread not in [t["id"] for t in listed["data"]]
    assert bob_thread in [t["id"] for t in listed["data"]]
    assert page.request.get(element_url).status == 404  # nor the text of her cited sources
    assert alice.dialogs == [] and bob.dialogs == []


# -- markup typed as a question -----------------------------------------------------------
def test_markup_in_questions_and_sources_is_shown_as_text(server: Server, sign_in: Any) -> None:
    alice = sign_in("alice")
    page = alice.page
    answer, iid = ask(alice, HOSTILE_QUESTION)

    question = page.locator("[data-step-type=user_message]").last
    expect(question).to_contain_text(HOSTILE_QUESTION)
    # The extractive answer quotes the doc, markup and all: it shows as text there too.
    expect(answer.locator(".message-content")).to_contain_text('<img src=x onerror=alert(2)> <script>alert("doc")</script>')
    cites = json.loads(server.query("SELECT citations FROM interactions WHERE id = ?", iid)[0][0])
    n = next(c["n"] for c in cites if ":docs/incidents.md#" in c["citation"])
    panel = open_citation(alice, answer, n)
    expect(panel).to_contain_text('<script>alert("doc")</script>')
    expect(panel).to_contain_text("<img src=x onerror=alert(2)>")

    assert page.locator("img[src='x'], img[onerror]").count() == 0
    assert page.locator("#root script, #side-view-content script").count() == 0
    assert alice.dialogs == [], alice.dialogs
