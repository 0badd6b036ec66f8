"""inferstack: cost-effective, scalable LLM inference and agentic AI."""

__version__ = "0.1.0"
