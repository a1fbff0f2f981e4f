"""Hand-made passages shared by the generation tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assistant.models import Passage

NOW = datetime.now(UTC).replace(microsecond=0)  # ages are relative to the real clock the Answerer uses

RETRY_CODE = '''import time

RETRY_LIMIT = 5


class PaymentRetrier:
    """Retries failed payments with exponential backoff."""

    def __init__(self, gateway):
        self.gateway = gateway

    def retry_failed_payment(self, payment):
        for attempt in range(RETRY_LIMIT):
            try:
                return self.gateway.charge(payment)
            except GatewayError:
                time.sleep(2 ** attempt)
        raise PaymentFailed(payment.id)
'''

DEPLOY_DOC = '''# Deploying payments

Deploys go through the release pipeline. Failed payments are retried by the retrier
service, up to five times with exponential backoff.

To deploy by hand run:

```sh
make deploy ENV=prod
```

Ask #payments-oncall before deploying on Fridays.
'''


def passage(
    n: int, path: str, text: str, *, kind: str = "code", language: str | None = "python",
    symbol: str | None = None, title: str | None = None, age_days: float = 10, status: str = "active",
    stale_reason: str | None = None, start_line: int = 1, source: str = "payments",
) -> Passage:
    lines = text.count("\n") + 1
    return Passage(
        id=f"p{n}", doc_id=f"{source}:{path}", source=source, path=path, kind=kind,
        start_line=start_line, end_line=start_line + lines - 1, text=text, score=1.0 / n,
        updated_at=NOW - timedelta(days=age_days), commit="0123456789abcdef0123", language=language,
        symbol=symbol, title=title, status=status, stale_reason=stale_reason,
    )


def retry_passages() -> list[Passage]:
    return [
        passage(1, "payments/retry.py", RETRY_CODE, symbol="PaymentRetrier", start_line=1),
        passage(2, "docs/deploy.md", DEPLOY_DOC, kind="docs", language=None, title="Deploying payments",
                age_days=800),
        passage(3, "web/static/app.js", "function renderHeader() {\n  return '<h1>Shop</h1>';\n}\n",
                language="javascript", symbol="renderHeader"),
    ]
