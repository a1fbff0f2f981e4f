from assistant.embedding.sparse import SparseEncoder, path_terms, split_identifier, term_id, terms


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
