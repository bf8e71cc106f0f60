"""LLM providers behind one interface: the offline provider now, OpenAI-compatible and Anthropic next."""
