"""Evaluation harness (later issue)."""
