"""Local digital twins of the APIs the pipeline talks to (Anthropic, OpenAI-compatible, later Resend).

The official SDKs are pointed at them by base URL, so tests and rehearsals exercise the
real client code over real HTTP, with latency, rate limits and injected faults.
"""
