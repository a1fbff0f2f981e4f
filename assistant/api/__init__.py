"""HTTP API: ``/api/ask``, ``/api/search`` and an OpenAI-compatible ``/v1``.

Build the app with ``assistant.api.app.create_app(container)``.
"""
