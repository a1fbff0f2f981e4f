"""Benchmark importers: SWE-bench Lite localization rows and SWE-QA questions to EvalCases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from eval.cases import EvalFormatError, Gold, load_set
from eval.importers import (
    cited_paths,
    git_paths,
    import_swebench,
    import_sweqa,
    read_sweqa_pins,
    repo_short_name,
)
from eval.sets import export_set


def _jsonl(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    return path


SWEBENCH = [
    {"instance_id": "pytest-dev__pytest-1", "repo": "pytest-dev/pytest", "base_commit": "abc123",
     "question": "  assertion rewrite crashes <on> numbers\n", "gold_files": ["src/_pytest/assertion/rewrite.py"]},
    {"instance_id": "sphinx-doc__sphinx-2", "repo": "sphinx-doc/sphinx", "base_commit": "def456",
     "question": "viewcode for epub", "gold_files": ["sphinx/ext/viewcode.py", "sphinx/builders/epub.py",
                                                      "sphinx/ext/viewcode.py"]},
]


def test_import_swebench(tmp_path: Path) -> None:
    cases = import_swebench(_jsonl(tmp_path, "loc.jsonl", SWEBENCH))
    assert [c.id for c in cases] == ["pytest-dev__pytest-1", "sphinx-doc__sphinx-2"]
    c = cases[0]
    assert c.question == "assertion rewrite crashes <on> numbers"
    assert c.gold == (Gold("src/_pytest/assertion/rewrite.py", "pytest"),)
    assert c.tags == ("pytest", "swebench") and c.origin == "benchmark"
    assert c.filters == {"repos": ("pytest",)}
    assert c.meta["base_commit"] == "abc123" and c.meta["repo"] == "pytest-dev/pytest"
    # duplicate gold files count once
    assert [g.path for g in cases[1].gold] == ["sphinx/ext/viewcode.py", "sphinx/builders/epub.py"]


def test_import_swebench_filters_and_names_sources(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, "loc.jsonl", SWEBENCH)
    assert [c.id for c in import_swebench(path, repos=["sphinx"])] == ["sphinx-doc__sphinx-2"]
    assert [c.id for c in import_swebench(path, repos={"pytest-dev/pytest"})] == ["pytest-dev__pytest-1"]
    assert import_swebench(path, repos=[]) == []
    (c, _) = import_swebench(path, source_name=lambda repo: repo.replace("/", "__"))
    assert c.gold[0].source == "pytest-dev__pytest" and c.filters == {"repos": ("pytest-dev__pytest",)}


def test_imported_cases_survive_export(tmp_path: Path) -> None:
    cases = import_swebench(_jsonl(tmp_path, "loc.jsonl", SWEBENCH))
    assert load_set(export_set(cases, tmp_path / "swebench.jsonl")).cases == tuple(cases)


@pytest.mark.parametrize("rows, message", [
    ([{"instance_id": "x", "repo": "a/b", "question": "q"}], r"loc.jsonl:1: missing field\(s\) \['gold_files'\]"),
    ([{"instance_id": "x", "repo": "a/b", "question": "q", "gold_files": "a.py"}], "gold_files"),
    (["not an object"], "expected a JSON object"),
])
def test_import_swebench_errors_name_the_line(tmp_path: Path, rows: list, message: str) -> None:
    with pytest.raises(EvalFormatError, match=message):
        import_swebench(_jsonl(tmp_path, "loc.jsonl", rows))


def test_import_swebench_bad_json_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "loc.jsonl"
    path.write_text(json.dumps(SWEBENCH[0]) + "\n{oops\n")
    with pytest.raises(EvalFormatError, match=r"loc.jsonl:2: not valid JSON"):
        import_swebench(path)
    with pytest.raises(EvalFormatError, match="no such benchmark file"):
        import_swebench(tmp_path / "missing.jsonl")


def test_cited_paths() -> None:
    answer = ("The `LeapSeconds.auto_open()` in iers.py (line 1159) and `src/_pytest/python.py:120`, "
              "see ./docs/conf.py. Also self.expires and os.path.join, https://github.com/a/b/blob/x.py, "
              ".github/workflows/ci.yml and iers.py again; setup.cfg.")
    assert cited_paths(answer) == ["iers.py", "src/_pytest/python.py", "docs/conf.py",
                                   ".github/workflows/ci.yml", "setup.cfg"]
    assert cited_paths("") == []


REPO_FILES = {"src/_pytest/python.py", "src/_pytest/fixtures.py", "astropy/utils/iers/iers.py", "tox.ini",
              "a/conftest.py", "b/conftest.py"}
SWEQA = [
    # 0: two existing paths, one moved path (dropped, reported), one dotted name (ignored)
    {"question": "How are fixtures resolved?",
     "answer": "In `src/_pytest/fixtures.py` and src/_pytest/python.py; formerly _pytest/old.py. See self.request."},
    # 1: only a path that does not exist -> skipped and reported
    {"question": "Where is X?", "answer": "In lib/x.py."},
    # 2: only a bare name: not a repository path; ignored unless resolved
    {"question": "Leap seconds?", "answer": "iers.py handles it; also conftest.py and tox.ini."},
]


def test_import_sweqa(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, "pytest.jsonl", SWEQA)
    cases, report = import_sweqa(path, repo="pytest-dev/pytest", path_exists=REPO_FILES.__contains__,
                                 source_name="pytest", commit="5989efe")
    assert [c.id for c in cases] == ["pytest-qa-0", "pytest-qa-2"]
    c = cases[0]
    assert c.gold == (Gold("src/_pytest/fixtures.py", "pytest"), Gold("src/_pytest/python.py", "pytest"))
    assert c.tags == ("pytest", "swe-qa") and c.origin == "benchmark" and c.filters == {"repos": ("pytest",)}
    assert c.meta["dropped_paths"] == ["_pytest/old.py"] and c.meta["base_commit"] == "5989efe"
    assert c.meta["reference_answer"].startswith("In `src/_pytest/fixtures.py`")
    assert cases[1].gold == (Gold("tox.ini", "pytest"),)  # the root file exists; iers.py/conftest.py do not
    assert report == [
        "pytest-qa-0: dropped cited path '_pytest/old.py' (not in pytest-dev/pytest at the pinned commit)",
        "pytest-qa-1: dropped cited path 'lib/x.py' (not in pytest-dev/pytest at the pinned commit)",
        "pytest-qa-1: skipped, no cited path exists in pytest-dev/pytest at the pinned commit",
    ]


def test_import_sweqa_resolves_suffixes_when_given_the_paths(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, "pytest.jsonl", SWEQA[1:] + [{"question": "q", "answer": "_pytest/python.py"}])
    cases, report = import_sweqa(path, repo="pytest-dev/pytest", path_exists=REPO_FILES.__contains__,
                                 source_name="pytest", paths=REPO_FILES)
    # iers.py -> the one path ending in /iers.py; conftest.py is ambiguous (two) and stays out
    assert [(c.id, [g.path for g in c.gold]) for c in cases] == [
        ("pytest-qa-1", ["astropy/utils/iers/iers.py", "tox.ini"]),
        ("pytest-qa-2", ["src/_pytest/python.py"]),
    ]
    assert report[-1] == "pytest-qa-0: skipped, no cited path exists in pytest-dev/pytest at the pinned commit"


def test_read_sweqa_pins(tmp_path: Path) -> None:
    path = tmp_path / "repo_commit.txt"
    path.write_text("https://github.com/pytest-dev/pytest 5989efe\n\nhttps://github.com/a/b.git abc\n")
    assert read_sweqa_pins(path) == {"pytest-dev/pytest": "5989efe", "a/b": "abc"}
    path.write_text("just-one-field\n")
    with pytest.raises(EvalFormatError, match="repo_commit.txt:1"):
        read_sweqa_pins(path)


def test_git_paths_feeds_path_exists(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("x = 1\n")
    (repo / "README.md").write_text("hi\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    paths = git_paths(repo, head)
    assert paths == {"pkg/mod.py", "README.md"}
    qa = _jsonl(tmp_path, "r.jsonl", [{"question": "q", "answer": "see pkg/mod.py and pkg/gone.py"}])
    cases, report = import_sweqa(qa, repo="o/r", path_exists=paths.__contains__, source_name="r")
    assert cases[0].gold == (Gold("pkg/mod.py", "r"),) and len(report) == 1
    with pytest.raises(EvalFormatError, match="cannot list files"):
        git_paths(repo, "0" * 40)


def test_repo_short_name() -> None:
    assert repo_short_name("pytest-dev/pytest") == "pytest"
    assert repo_short_name("pytest") == "pytest"
