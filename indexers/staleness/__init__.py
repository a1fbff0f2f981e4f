"""Staleness: what code defines (symbol tables), what docs claim exists (references),
and, on top of both, resolution and findings.

``symbols`` and ``references`` are pure functions of one file's text (or its parsed
tree); the pipeline stores their output through ``assistant.catalog.symbols``.
"""
