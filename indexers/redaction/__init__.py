"""No secret is indexed: path rules skip credential files, text rules redact the rest.

``Redactor`` is what the pipeline uses; the rule modules are ``paths`` (files skipped
whole), ``secret_rules`` (our token formats and whole private-key blocks),
``detect_secrets_scan`` (Yelp's detect-secrets plugins, in-process), ``assignments``
(``password = "..."``) and ``pii`` (personal data, per source, off by default).
"""

from indexers.redaction.redactor import RULES_VERSION, Redaction, Redactor
from indexers.redaction.spans import Hit

__all__ = ["RULES_VERSION", "Hit", "Redaction", "Redactor"]
