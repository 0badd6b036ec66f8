"""The model server: OpenAI-compatible HTTP in front of one engine."""
