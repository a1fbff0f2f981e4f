"""Filter tokens in questions: parsing, merging, validation, glob semantics."""

from __future__ import annotations

import pytest

from assistant.errors import ConfigError
from assistant.retrieval.query import (
    KNOWN_LANGUAGES,
    QueryFilters,
    glob_prefilter,
    parse_query,
    path_glob_matches,
)


def test_parse_strips_filter_tokens_from_the_question() -> None:
    text, f = parse_query("where do we retry repo:payments failed payments? lang:py kind:code")
    assert text == "where do we retry failed payments?"
    assert f == QueryFilters(repos=("payments",), langs=("py",), kinds=("code",))


def test_parse_repeats_commas_quotes_and_case() -> None:
    text, f = parse_query('REPO:api,web repo:api Path:"docs/my notes/*" path:src/*.py deploy')
    assert text == "deploy"
    assert f.repos == ("api", "web")
    assert f.paths == ("docs/my notes/*", "src/*.py")


def test_parse_leaves_other_colons_alone() -> None:
    q = "why does http://x.io/a fail with note: timeout in RetryPolicy::delay? myrepo:x"
    text, f = parse_query(q)
    assert text == q
    assert f.is_empty()


def test_parse_empty_value_is_dropped() -> None:
    text, f = parse_query("repo: what is this")
    assert text == "what is this" and f.repos == ()


def test_merged_ors_values_of_the_same_key() -> None:
    a = QueryFilters(repos=("api",), kinds=("code",))
    b = QueryFilters(repos=("web", "api"), paths=("src/*",))
    assert a.merged(b) == QueryFilters(repos=("api", "web"), paths=("src/*",), kinds=("code",))
    assert QueryFilters().merged(QueryFilters()) == QueryFilters()


def test_normalized_canonicalises_aliases() -> None:
    f = QueryFilters(langs=("py", "TypeScript", "md"), kinds=("Docs", "doc")).normalized()
    assert f.langs == ("python", "typescript", "markdown")
    assert f.kinds == ("docs",)


def test_known_languages_cover_what_the_indexer_stores() -> None:
    from indexers.chunking import languages

    stored = set(languages._EXTENSIONS.values()) | set(languages._FILENAMES.values())
    assert stored <= KNOWN_LANGUAGES


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (QueryFilters(langs=("pyhton",)), r"unknown language 'pyhton' in lang: filter \(did you mean 'python'.*\?\); use"),
        (QueryFilters(kinds=("tests",)), r"unknown kind 'tests'.*kind:code, kind:docs or kind:wiki"),
        (QueryFilters(paths=("/",)), r"empty path: filter"),
    ],
)
def test_normalized_rejects_values_that_cannot_match(filters: QueryFilters, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        filters.normalized()


def test_check_repos_names_unknown_and_known() -> None:
    with pytest.raises(ConfigError, match=r"unknown repo 'nope' in repo: filter; known sources: api, web"):
        QueryFilters(repos=("api", "nope")).check_repos({"web", "api"})
    with pytest.raises(ConfigError, match="none that you can search"):
        QueryFilters(repos=("x",)).check_repos(set())
    QueryFilters(repos=("api",)).check_repos({"api"})


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("*.md", "docs/deploy.md", True),
        ("*.md", "docs/deploy.py", False),
        ("src/*.py", "src/a/b.py", True),  # * crosses directories
        ("src/**/*.py", "src/b.py", True),
        ("src/**/*.py", "lib/src/b.py", False),
        ("payments", "payments/retry.py", True),  # bare directory from the root
        ("payments/", "payments/retry.py", True),
        ("payments", "src/payments/retry.py", False),
        ("retry.py", "payments/retry.py", True),  # bare file name: a path suffix
        ("payments/retry.py", "payments/retry.py", True),
        ("retry.py", "payments/myretry.py", False),
        ("/docs/*", "docs/a.md", True),
        ("docs/[ab].md", "docs/a.md", True),
        ("docs/?.md", "docs/ab.md", False),
    ],
)
def test_path_glob_matches(glob: str, path: str, expected: bool) -> None:
    assert path_glob_matches(glob, path) is expected
    assert QueryFilters(paths=(glob,)).path_matches(path) is expected


def test_no_path_filter_matches_everything() -> None:
    assert QueryFilters().path_matches("anything/at/all")
    assert QueryFilters(paths=("*.md", "src/*")).path_matches("src/a.py")


@pytest.mark.parametrize(
    ("glob", "expected"),
    [
        ("src/api/*.py", ("dirs", "src/api")),
        ("src/**/retry.py", ("path_keys", "retry.py")),
        ("*.MD", ("ext", "md")),
        ("payments", ("dirs", "payments")),
        ("Retry.py", ("path_keys", "retry.py")),
        ("*", None),
        ("a*b/*", None),
        ("*.p?", None),
    ],
)
def test_glob_prefilter_is_a_necessary_condition(glob: str, expected: tuple | None) -> None:
    assert glob_prefilter(glob) == expected


def test_unknown_filter_values_suggest_near_misses_from_the_visible_names_only() -> None:
    import pytest

    from assistant.errors import ConfigError
    from assistant.retrieval.query import QueryFilters

    with pytest.raises(ConfigError, match=r"did you mean 'payments'\?"):
        QueryFilters(repos=("paymnts",)).check_repos({"payments", "web"})
    with pytest.raises(ConfigError) as err:  # 'secret-vault' is not visible: never suggested
        QueryFilters(repos=("secret-vaul",)).check_repos({"payments", "web"})
    assert "did you mean" not in str(err.value) and "vault" not in str(err.value).replace("secret-vaul", "")
    with pytest.raises(ConfigError, match=r"did you mean 'python'"):
        QueryFilters(langs=("pyhton",)).normalized()
    with pytest.raises(ConfigError, match=r"did you mean 'docs'"):
        QueryFilters(kinds=("dcos",)).normalized()
