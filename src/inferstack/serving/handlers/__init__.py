"""Plain handler classes: each turns one validated OpenAI request into a response."""
