# Titan's Model Context Protocol server (`titan mcp`, docs/mcp.md): the Titan SDK's calls as MCP tools and
# resources, for LLM agents, acting with one credential whose role the broker enforces.
__version__ = "0.1.0"
