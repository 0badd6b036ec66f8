"""Agents: a tool-using loop over the OpenAI API, MCP client and servers, the supervisor and
the agent services. Agents speak only HTTP to the gateway or a model server."""
