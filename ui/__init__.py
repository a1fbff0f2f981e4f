"""Chat UI (later issue)."""
