"""Engines: the small async interface serving talks to, and its implementations."""
