"""The extractive generator: lead, key lines with real line numbers, citations, honesty."""

from __future__ import annotations

import re

from assistant.generation.citations import check_citations
from assistant.generation.extractive import ExtractiveGenerator, compose
from tests.unit.generation.passages import RETRY_CODE, passage, retry_passages


def test_code_question_gets_lead_fenced_key_lines_and_citations() -> None:
    text = compose("where do we retry failed payments?", retry_passages())
    lead = text.split("\n\n")[0]
    assert lead.startswith("The most relevant code is `PaymentRetrier.retry_failed_payment` in `payments/retry.py` [1]")
    block = re.search(r"`payments/retry.py` lines (\d+)–(\d+) \[1\]:\n```python\n(.*?)\n```", text, re.S)
    assert block, text
    first, last, code = int(block.group(1)), int(block.group(2)), block.group(3)
    assert code.startswith("def retry_failed_payment(self, payment):")
    assert "time.sleep(2 ** attempt)" in code
    # line numbers are the real ones in the file
    assert RETRY_CODE.splitlines()[first - 1].strip() == "def retry_failed_payment(self, payment):"
    assert last - first + 1 == len(code.splitlines())
    # the doc sentence that answers it is quoted with its own citation; the unrelated JS is not
    assert "retried by the retrier service, up to five times with exponential backoff [2]." in text
    assert "app.js" not in text and "[3]" not in text
    # not a dump: the class constructor and imports are left out
    assert "import time" not in text and "__init__" not in text
    check = check_citations(text, 3)
    assert check.supported and check.removed == 0 and check.used == (1, 2)


def test_identifier_lookup_names_the_definition_line() -> None:
    text = compose("what is RETRY_LIMIT set to?", retry_passages())
    assert text.startswith("`RETRY_LIMIT` is defined in `payments/retry.py` at line 3 [1].")
    # a constant is shown as a constant, not with the class that follows it
    assert "`payments/retry.py` line 3 [1]:\n```python\nRETRY_LIMIT = 5\n```" in text


def test_docs_question_quotes_sentences_and_the_command_block() -> None:
    text = compose("how do I deploy to prod?", retry_passages())
    assert text.startswith("From “Deploying payments” in `docs/deploy.md`: ")
    assert "```sh\nmake deploy ENV=prod\n```" in text
    assert "[2]" in text and "[1]" not in text


def test_nothing_relevant_is_said_plainly_without_citations() -> None:
    text = compose("how is the kubernetes helm chart versioned?", retry_passages())
    assert text.startswith("I found nothing in the indexed sources that answers “how is the kubernetes helm")
    assert "`payments/retry.py`" in text  # names what it looked at
    assert not check_citations(text, 3).supported
    empty = compose("how is the kubernetes helm chart versioned?", [])
    assert empty.startswith("I found nothing") and "closest" not in empty


def test_prose_without_terms_uses_retrieval_order() -> None:
    text = compose("how does it work?", retry_passages()[:1])
    assert "[1]" in text and "```python" in text


def test_stream_pieces_join_to_the_same_text() -> None:
    gen = ExtractiveGenerator()
    ps = retry_passages()
    pieces = list(gen.stream("where do we retry failed payments?", ps, []))
    assert len(pieces) > 1
    assert "".join(pieces) == gen.generate("where do we retry failed payments?", ps, []).text


def test_long_function_is_cut_to_the_matching_part() -> None:
    body = "\n".join(f"    step_{i}()" for i in range(40))
    code = f"def process(order):\n{body}\n    charge_card(order)\n    notify(order)\n"
    p = passage(1, "shop/orders.py", code, symbol="process", start_line=100)
    text = compose("where do we charge the card?", [p])
    block = re.search(r"lines (\d+)–(\d+) \[1\]:\n```python\n(.*?)\n```", text, re.S)
    assert block and "charge_card(order)" in block.group(3)
    assert len(block.group(3).splitlines()) <= 12
    assert int(block.group(1)) > 100  # a window inside the chunk, numbered in the file
