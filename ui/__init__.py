"""The browser side: the Chainlit chat (chat.py, data_layer.py), sign-in (auth.py,
identity.py), the owner and admin pages (pages/) and the one server that serves them
with the API (server.py)."""
