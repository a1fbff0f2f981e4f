"""The MCP server: Sourcewise's tools for IDE assistants and CLI agents (``sourcewise mcp``)."""
