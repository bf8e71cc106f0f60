"""Skills as files (``skills/<group>/<skill>/SKILL.md``) and the runner that enforces the contract."""
