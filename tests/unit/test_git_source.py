"""GitSource on real repositories made here: freshness, ignores, owners, bad input."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.errors import ItemError, SourceError
from assistant.models import Document, ItemFailure
from indexers.sources.git import GitSource, browse_url_template
from indexers.sources.git_history import update_history
from tests.fixtures.gitrepo import GitRepo, make_sample_repo
from tests.fixtures.githttp import LOOPBACK_POLICY, GitHttpServer


def scan(src: GitSource) -> tuple[dict[str, Document], dict[str, ItemFailure]]:
    docs, fails = {}, {}
    for item in src.scan():
        if isinstance(item, ItemFailure):
            fails[item.path] = item
        else:
            docs[item.path] = item
    return docs, fails


def make(tmp_path: Path, location: Path | str, **kw) -> GitSource:
    return GitSource("app", str(location), mirror_dir=tmp_path / "mirror.git", **kw)


def test_per_file_freshness_author_and_owner(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    docs, fails = scan(make(tmp_path, repo.path))
    assert set(docs) == {
        "payments/retry.py", "web/http_client.js", "docs/deploy.md", "core/legacy.py",
        "CODEOWNERS", ".gitignore", "notes.txt", "assets/logo.png",
    }
    assert docs["payments/retry.py"].updated_at == datetime(2024, 1, 10, 10, tzinfo=UTC)
    assert docs["payments/retry.py"].author == "Alice Dev <alice@example.com>"
    assert docs["web/http_client.js"].updated_at == datetime(2024, 3, 5, 12, tzinfo=UTC)
    assert docs["web/http_client.js"].author == "Bob Ops <bob@example.com>"
    # a rename counts as touching the new path
    assert docs["core/legacy.py"].updated_at == datetime(2024, 6, 1, 8, 30, tzinfo=UTC)
    assert docs["payments/retry.py"].owner == "@payments-team"
    assert docs["web/http_client.js"].owner == "@core-team"
    assert docs["docs/deploy.md"].kind == "docs"
    assert docs["payments/retry.py"].kind == "code"
    assert docs["payments/retry.py"].language == "python"
    # the version of a file is the last commit that touched it, not HEAD
    first = repo.git("rev-list", "--max-parents=0", "HEAD")
    assert docs["payments/retry.py"].version == first
    assert not fails
    with pytest.raises(ItemError) as info:
        docs["assets/logo.png"].read_text()
    assert info.value.reason == "binary"
    assert "RETRY_LIMIT = 5" in docs["payments/retry.py"].read_text()


def test_reads_objects_not_worktree_and_bare_mirror(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    (repo.path / "payments/retry.py").write_text("uncommitted edit\n")
    (repo.path / "scratch.py").write_text("untracked\n")
    docs, _ = scan(make(tmp_path, repo.path))
    assert "scratch.py" not in docs
    assert "RETRY_LIMIT" in docs["payments/retry.py"].read_text()
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True)
    bare_docs, _ = scan(make(tmp_path, bare))
    assert {p: d.content_hash for p, d in bare_docs.items()} == {
        p: d.content_hash for p, d in docs.items()
    }


def test_clone_url_mirrors_into_data_dir(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    with GitHttpServer(tmp_path / "served") as server:
        url = server.publish(repo.path)
        src = make(tmp_path, url, fetch_policy=LOOPBACK_POLICY)
        docs, _ = scan(src)
        assert "payments/retry.py" in docs
        assert (tmp_path / "mirror.git" / "HEAD").exists()
        repo.write("payments/new.py", "X = 1\n")
        repo.commit("new", "2024-07-01T00:00:00+00:00")
        server.publish(repo.path)
        docs2, _ = scan(make(tmp_path, url, fetch_policy=LOOPBACK_POLICY))
        assert "payments/new.py" in docs2  # fetched on the next scan


def test_ref_selects_commit(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    first = repo.git("rev-list", "--max-parents=0", "HEAD")
    src = make(tmp_path, repo.path, ref=first)
    docs, _ = scan(src)
    assert "old/legacy.py" in docs and "core/legacy.py" not in docs
    assert src.version == first
    assert "GET" in docs["web/http_client.js"].read_text()


def test_ignores_and_globs(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    repo.write("app.log", "log line\n")
    repo.git("add", "-f", "app.log")  # tracked despite .gitignore
    repo.write("vendor/.gitignore", "*.min.js\n")
    repo.write("vendor/lib.min.js", "var a=1;\n")
    repo.write("vendor/keep.js", "var b=2;\n")
    repo.write(".sourcewiseignore", "notes.txt\n")
    repo.commit("more", "2024-07-01T00:00:00+00:00")
    docs, _ = scan(make(tmp_path, repo.path, exclude=["docs/**"]))
    assert "app.log" not in docs
    assert "vendor/lib.min.js" not in docs
    assert "vendor/keep.js" in docs
    assert "notes.txt" not in docs
    assert "docs/deploy.md" not in docs
    only_py, _ = scan(make(tmp_path, repo.path, include=["*.py"]))
    assert set(only_py) == {"payments/retry.py", "core/legacy.py"}


def test_bad_items_are_values(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    (repo.path / "outside").symlink_to("../../etc/passwd")
    (repo.path / "inside").symlink_to("payments/retry.py")
    repo.write("big.txt", "x" * 30000 + "\n")
    repo.write("latin1.txt", "caf\xe9\n".encode("latin-1"))
    repo.write("min.js", "var a=1;" * 2000)
    sub = GitRepo(tmp_path / "sub")
    sub.write("a.txt", "a\n")
    sub.commit("sub", "2024-01-01T00:00:00+00:00")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendor/sub")
    repo.commit("bad things", "2024-07-01T00:00:00+00:00")
    docs, fails = scan(make(tmp_path, repo.path, max_bytes=20000))
    assert fails["outside"].reason == "symlink-outside"
    assert fails["inside"].reason == "symlink"
    assert fails["big.txt"].reason == "too-large"
    assert fails["vendor/sub"].reason == "submodule"
    for path, reason in (("latin1.txt", "undecodable"), ("min.js", "minified")):
        with pytest.raises(ItemError) as info:
            docs[path].read_text()
        assert info.value.reason == reason


def test_a_blob_missing_from_the_object_store_is_a_per_file_failure(tmp_path: Path) -> None:
    """``git ls-tree -l`` prints ``BAD`` for it (seen in a fetched mirror); the rest indexes."""
    repo = make_sample_repo(tmp_path / "repo")
    sha = repo.git("rev-parse", "HEAD:notes.txt")
    (repo.path / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    assert "BAD" in repo.git("ls-tree", "-r", "-l", "HEAD")
    docs, fails = scan(make(tmp_path, repo.path))
    assert fails["notes.txt"].reason == "missing-object" and sha[:12] in fails["notes.txt"].message
    assert "notes.txt" not in docs and "payments/retry.py" in docs


def test_source_level_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        scan(make(tmp_path, tmp_path / "missing"))
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(SourceError, match="not a git repository"):
        scan(make(tmp_path, plain))
    empty = GitRepo(tmp_path / "empty")
    with pytest.raises(SourceError, match="no commits"):
        scan(make(tmp_path, empty.path))
    repo = make_sample_repo(tmp_path / "repo")
    with pytest.raises(SourceError, match="ref 'nope' not found.*main"):
        scan(make(tmp_path, repo.path, ref="nope"))
    with pytest.raises(SourceError, match="file:// URLs are not fetched"):
        scan(make(tmp_path, "file:///nonexistent/repo.git"))
    with pytest.raises(SourceError, match="cannot clone.*missing.git.*not found"):
        with GitHttpServer(tmp_path / "empty-root") as server:
            scan(make(tmp_path, f"http://127.0.0.1:{server.port}/missing.git", fetch_policy=LOOPBACK_POLICY))


def test_history_incremental_matches_full(tmp_path: Path) -> None:
    import git

    repo = make_sample_repo(tmp_path / "repo")
    gr = git.Repo(repo.path)
    first = update_history(gr, repo.head(), None)
    assert first.walked == 3
    repo.write("payments/retry.py", "RETRY_LIMIT = 6\n")
    new_head = repo.commit("bump", "2024-08-01T00:00:00+00:00", "Dan <dan@example.com>")
    incremental = update_history(gr, new_head, first)
    assert incremental.walked == 1
    full = update_history(gr, new_head, None)
    assert incremental.files == full.files
    assert full.files["payments/retry.py"].author == "Dan <dan@example.com>"
    same = update_history(gr, new_head, incremental)
    assert same.walked == 0 and same.files == full.files


def test_browse_url_templates() -> None:
    assert browse_url_template("git@github.com:acme/pay.git") == "https://github.com/acme/pay/blob/{commit}/{path}"
    assert browse_url_template("https://gitlab.com/acme/pay.git") == "https://gitlab.com/acme/pay/-/blob/{commit}/{path}"
    assert browse_url_template("/local/path") is None
