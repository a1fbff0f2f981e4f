"""File history across merges: the commit named is the one that made the change."""

from __future__ import annotations

from indexers.staleness.history import GitReader, pick_hunk
from tests.fixtures.gitrepo import GitRepo


def test_file_log_names_the_commit_on_the_merged_branch_not_the_merge(tmp_path) -> None:
    import git

    repo = GitRepo(tmp_path / "r")
    body = "def old():\n    return 1\n" + "\n" * 8 + "def other():\n    return 2\n"
    repo.write("a.py", body)
    base = repo.commit("base", "2024-01-01T00:00:00+00:00")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("a.py", body.replace("def old", "def new"))
    renamed = repo.commit("rename on a branch", "2024-02-01T00:00:00+00:00")
    repo.git("checkout", "-q", "main")
    repo.write("a.py", body.replace("return 2", "return 3"))  # the file changes on both sides
    edited = repo.commit("edit on main", "2024-02-02T00:00:00+00:00")
    repo.git("merge", "-q", "--no-ff", "side", "-m", "Merge side",
             env={"GIT_AUTHOR_DATE": "2024-03-01T00:00:00+00:00", "GIT_COMMITTER_DATE": "2024-03-01T00:00:00+00:00"})
    reader = GitReader(git.Repo(repo.path))
    changes = reader.file_log(base, repo.head(), "a.py", 100)
    assert sorted(c.commit for c in changes) == sorted([renamed, edited])  # not the merge
    assert all(c.blob is not None for c in changes)
    assert "-def old():" in reader.hunk(renamed, "a.py", None, 1)


def test_pick_hunk_chooses_the_hunk_around_the_line() -> None:
    diff = "\n".join(["diff --git a/x b/x", "--- a/x", "+++ b/x", "@@ -1,2 +1,2 @@", "-a", "+b",
                      "@@ -40,3 +40,3 @@", " ctx", "-old", "+new"])
    assert pick_hunk(diff, 41).startswith("@@ -40,3") and pick_hunk(diff, 41).endswith("+new")
    assert pick_hunk(diff, None).startswith("@@ -1,2") and pick_hunk("", 3) == ""


def test_a_rename_lookup_on_a_partial_clone_is_no_rename() -> None:
    """A mirror missing a large blob makes ``git diff -M`` fail ("unable to read"); the history
    walk must treat that commit as no rename instead of failing the source's detection."""
    import git

    from indexers.staleness.history import GitReader

    class FakeGit:
        def rev_list(self, *args: str) -> str:
            return "c1 p1"

        def diff(self, *args: str) -> str:
            raise git.GitCommandError(["git", "diff"], 128, b"fatal: unable to read 3891b8c")

    reader = GitReader.__new__(GitReader)
    reader.repo = type("Repo", (), {"git": FakeGit()})()
    assert reader.renamed_to("c1", "docs/a.md") is None
