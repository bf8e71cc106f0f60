"""Screenshots of the console's main pages for the README, from sample data only.

Runs ``gtm demo`` on a throwaway GTM_HOME (drafts waiting for review, a dead letter), then
``gtm rehearse`` into a second throwaway home (sends, replies, bounces and their escalations,
over simulated days), serves each with ``gtm serve`` on loopback, and drives headless Chromium
(Playwright with ``$GTM_CHROMIUM``, as the browser tests do) to write one PNG per page into
``docs/screenshots/``. The pages showing review work come from the demo's home, the pages
showing mail from the rehearsal's. Both homes are deleted afterwards; the sample companies and
people are synthetic (``.example`` domains), so the images hold no real personal data.

    python scripts/screenshots.py            # or scripts/screenshots.sh
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 860}
MAX_HEIGHT = 1200  # a long page is cut here: the README shows the top of each page
GTM = str(Path(sys.executable).with_name("gtm"))


def _chromium() -> str:
    found = os.environ.get("GTM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit("set GTM_CHROMIUM to a Chromium binary (Debian's chromium works)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gtm(home: Path, env: dict[str, str], *args: str) -> None:
    print("$ gtm", *args, flush=True)
    subprocess.run([GTM, *args], env={**env, "GTM_HOME": str(home)}, cwd=home.parent, check=True)


@contextmanager
def _served(home: Path, env: dict[str, str]) -> Iterator[str]:
    """``gtm serve`` on a free loopback port, until the block ends (then stopped by its own pid)."""
    port = _free_port()
    process = subprocess.Popen(
        [GTM, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**env, "GTM_HOME": str(home)},
        cwd=home.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"gtm serve exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("gtm serve did not start within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _shot(page: Page, name: str) -> None:
    height = min(MAX_HEIGHT, int(page.evaluate("document.documentElement.scrollHeight")))
    path = OUT / f"{name}.png"
    page.screenshot(
        path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
    )
    print(f"  {path.relative_to(ROOT)}  {path.stat().st_size // 1024} KiB", flush=True)


def _logged_in(browser: Browser, base: str, password: str) -> Page:
    page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
    page.on("dialog", lambda dialog: dialog.accept())  # the erasure's "cannot be undone" question
    page.goto(f"{base}/login")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Prospects by state")
    return page


def _review_pages(browser: Browser, base: str, password: str) -> None:
    """The demo's home: the login, the review queue, the skills, a dead letter."""
    page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
    page.goto(f"{base}/login")
    _shot(page, "login")
    page.close()
    page = _logged_in(browser, base, password)
    for path, name in (("/reviews", "reviews"), ("/skills", "skills"), ("/dead-letters", "dead-letters")):
        page.goto(f"{base}{path}")
        if name == "dead-letters" and page.locator("details.raw-output").count():
            page.locator("details.raw-output summary").first.click()  # show the model's raw output
        _shot(page, name)
    page.close()


def _mail_pages(browser: Browser, base: str, password: str, addresses: list[str]) -> None:
    """The rehearsal's home: the board, a prospect who replied, the charts, escalations, rights."""
    page = _logged_in(browser, base, password)
    _shot(page, "board")
    page.goto(f"{base}/?state=replied")
    link = page.locator("tbody a[href^='/prospects/']").first
    if not link.count():
        page.goto(f"{base}/")
        link = page.locator("tbody a[href^='/prospects/']").first
    link.click()
    _shot(page, "prospect")
    page.goto(f"{base}/charts")
    _shot(page, "charts")
    page.goto(f"{base}/escalations")
    _shot(page, "escalations")
    page.goto(f"{base}/rights")
    for kind, address in zip(("erasure", "access", "correction"), addresses, strict=False):
        page.select_option("#record-request select[name=kind]", kind)
        page.fill("#record-request input[name=email]", address)
        page.click("#record-request button[type=submit]")
        expect(page.locator("#flash.ok")).to_contain_text("recorded")
    erase = page.locator("tbody tr", has_text="erasure").locator("form[action$='/erase'] button")
    if erase.count():
        erase.first.click()
        expect(page.locator("#flash.ok")).to_contain_text("erased")
    page.goto(f"{base}/rights")
    _shot(page, "rights")
    page.close()


def _sample_addresses(home: Path, env: dict[str, str]) -> list[str]:
    """Synthetic addresses of the rehearsal's prospects (the requests the rights page shows)."""
    code = (
        "from gtm_pipeline.config import load_settings\n"
        "from gtm_pipeline.store import Store\n"
        "s = Store.open(load_settings().paths.database_url)\n"
        "print('\\n'.join(p.contact_email for p in s.prospects.find() if p.contact_email))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "GTM_HOME": str(home)},
        cwd=home.parent,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [a for a in found if a.endswith(".example")][:3]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    env = {
        **os.environ,
        "GTM_OPERATOR_PASSWORD": password,
        "GTM_OPERATOR": "ana",
        "PYTHONWARNINGS": "ignore",
    }
    for name in ("GTM_WORKSPACE", "GTM_DATABASE_URL", "GTM_SKILLS_DIR"):
        env.pop(name, None)  # sample data only: never an operator's own workspace or store
    scratch = Path(tempfile.mkdtemp(prefix="gtm-screenshots-"))
    try:
        demo, rehearsal = scratch / "demo", scratch / "rehearsal"
        _gtm(demo, env, "demo")
        _gtm(demo, env, "rehearse", "--home", str(rehearsal))
        addresses = _sample_addresses(rehearsal, env)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"], headless=True)
            try:
                with _served(demo, env) as base:
                    _review_pages(browser, base, password)
                with _served(rehearsal, env) as base:
                    _mail_pages(browser, base, password, addresses)
            finally:
                browser.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
