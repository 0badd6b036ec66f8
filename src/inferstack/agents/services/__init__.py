"""The agent services: the weather function-calling API and the agent REST API."""
