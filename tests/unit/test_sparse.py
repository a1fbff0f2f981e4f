from assistant.embedding.sparse import SparseEncoder, path_terms, phrases, split_identifier, term_id, terms


def test_identifiers_split_and_kept_whole() -> None:
    t = terms("client = HttpClient.send(request); RETRY_LIMIT")
    assert "httpclient.send" in t
    assert {"httpclient", "http", "client", "send", "retry_limit", "retry", "limit"} <= set(t)


def test_split_identifier_cases() -> None:
    assert split_identifier("parseHTTPResponse") == ["parse", "http", "response"]
    assert split_identifier("retry_failed_payment") == ["retry", "failed", "payment"]
    assert split_identifier("X509Cert") == ["x", "509", "cert"]


def test_path_terms() -> None:
    assert {"payments/retry_policy.py", "retry_policy.py", "payments", "retry", "policy"} <= set(
        path_terms("payments/retry_policy.py")
    )


def test_term_ids_stable_and_32_bit() -> None:
    assert term_id("retry") == term_id("retry")
    assert 0 <= term_id("anything") < 2**32


def test_document_weights_saturate_and_query_is_binary() -> None:
    enc = SparseEncoder()
    doc = enc.encode_document("retry retry retry retry payment")
    weights = dict(zip(doc.indices, doc.values))
    assert weights[term_id("retry")] > weights[term_id("payment")]
    assert weights[term_id("retry")] < 4 * weights[term_id("payment")]  # saturated, not linear
    q = enc.encode_query("where do we retry payments/retry.py")
    assert set(q.values) == {1.0}
    assert term_id("payments/retry.py") in q.indices
    assert term_id("where") not in q.indices  # stopword
    assert list(q.indices) == sorted(q.indices)


def test_phrases_pair_adjacent_words_without_stopwords() -> None:
    assert phrases("Right contains more items, first extra item") == [
        "right contains", "contains more", "more items", "items first", "first extra", "extra item"]
    assert "collect only" in phrases("pytest --collect-only")
    assert phrases("is not allowed") == []  # stopwords and single words pair with nothing
    assert phrases("a b") == []


def weights(v: object) -> dict[int, float]:
    return dict(zip(v.indices, v.values, strict=True))  # type: ignore[attr-defined]


def test_a_pasted_message_ranks_the_line_that_prints_it() -> None:
    """Two chunks share every word of the message; only the one with the words in order
    matches its pairs, so it scores higher (IDF aside, query weight per pair)."""
    enc = SparseEncoder()
    prints = weights(enc.encode_document('raise ValueError("first extra item in right side")'))
    scattered = weights(enc.encode_document("item = right.first(); extra = side(item)"))
    q = weights(enc.encode_query("first extra item"))

    def score(doc: dict[int, float]) -> float:
        return sum(w * doc.get(i, 0.0) for i, w in q.items())

    assert score(prints) > score(scattered)
    assert term_id("first extra") in q
    assert term_id("first extra") not in weights(enc.encode_query("first extra item", phrase_weight=0))
    assert weights(enc.encode_query("first extra item", phrase_weight=0.5))[term_id("first extra")] == 0.5
