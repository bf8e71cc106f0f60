"""Every skill's eval set through the real ``gtm eval`` command: on the offline provider, then on the
local twins of the OpenAI-compatible (bulk) and Anthropic (polish) APIs over HTTP, as a live
deployment would call them. Prints each table; exits 1 when any eval misses its group's bar (a
regression the test command should stop on). Runs in a scratch ``GTM_HOME``: nothing lands in
``./data``.

    python bench/evals.py                 # every skill, offline and on the twins
    python bench/evals.py --skill classify-reply --offline-only
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from gtm_pipeline.config import STARTER
from gtm_pipeline.twins.llm import AnthropicTwin, OpenAITwin
from gtm_pipeline.twins.server import TwinSettings


def starter_skills() -> list[str]:
    """Every bundled skill that has an eval set (all of them should)."""
    return sorted({p.parent.parent.name for p in STARTER.glob("skills/*/*/evals/*.jsonl")})


def run(skill: str, provider: str | None, env: dict[str, str]) -> int:
    """``gtm eval SKILL [--provider P]`` as a separate process; its table goes to our stdout."""
    command = [sys.executable, "-m", "gtm_pipeline.cli", "eval", skill]
    if provider is not None:
        command += ["--provider", provider]
    title = f"== gtm eval {skill}" + (f" --provider {provider}" if provider else "")
    print(title, flush=True)
    done = subprocess.run(command, env=env, check=False, stderr=subprocess.DEVNULL)
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skill", action="append", help="only this skill (repeatable)")
    parser.add_argument("--offline-only", action="store_true", help="skip the twins")
    args = parser.parse_args(argv)
    skills = args.skill or starter_skills()
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gtm-evals-") as home:
        env = {**os.environ, "GTM_HOME": str(Path(home) / "home")}
        for skill in skills:
            if run(skill, "offline", env) != 0:
                failed.append(f"{skill} (offline)")
        if not args.offline_only:
            bulk_key = "-".join(["nvapi", "twin", secrets.token_hex(8)])
            polish_key = "-".join(["sk", "ant", "twin", secrets.token_hex(8)])
            with (
                OpenAITwin(TwinSettings(expected_key=bulk_key)) as bulk,
                AnthropicTwin(TwinSettings(expected_key=polish_key)) as polish,
            ):
                live = {
                    **env,
                    "GTM_BULK_API_KEY": bulk_key,
                    "GTM_BULK_BASE_URL": bulk.url + "/v1",
                    "ANTHROPIC_API_KEY": polish_key,
                    "GTM_POLISH_BASE_URL": polish.url,
                }
                for skill in skills:  # the group's own chain: bulk or polish, as deployed
                    if run(skill, None, live) != 0:
                        failed.append(f"{skill} (twins)")
    print(f"== evals: {len(skills)} skill(s); failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
