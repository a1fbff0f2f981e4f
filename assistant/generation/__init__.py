"""Generation: turning retrieved passages into cited answer text (extractive, openai, llamacpp)."""
