"""Retrieval: hybrid queries over the vector store."""
