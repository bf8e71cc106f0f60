"""The operator console: server-rendered (FastAPI + Jinja + htmx), behind a login, CSRF-protected."""
