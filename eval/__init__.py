"""Evaluation: eval-case format (cases.py), metrics as pure functions (metrics.py), the
runner and its store, the regression gate, reports, benchmark importers."""
