"""Indexing side: sources yield documents, chunkers cut them, the pipeline writes."""
