"""Thin HTTP routes of the gateway; each turns a request into one handler or service call."""

from inferstack.gateway.routes import keys, models, openai, ops, spend, teams, usage, users

__all__ = ["keys", "models", "openai", "ops", "spend", "teams", "usage", "users"]
