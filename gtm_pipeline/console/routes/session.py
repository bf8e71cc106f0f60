"""Login, logout, and logout everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gtm_pipeline.console.security import COOKIE, MAX_AGE_S
from gtm_pipeline.console.web import TEMPLATES, Posted, console, poster

router = APIRouter()


def client_of(request: Request) -> str:
    """Who is trying a password: the connecting address (a forwarded-for header is anyone's to
    write, so it is not believed; behind a proxy every client shares the proxy's throttle)."""
    return request.client.host if request.client else "unknown"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _login_page(request, None)


def _login_page(
    request: Request, error: str | None, status_code: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """The login form (its own small page: no navigation before a session exists)."""
    return TEMPLATES.TemplateResponse(
        request,
        "login.html",
        {"enabled": console(request).auth.enabled, "error": error, "session_hours": MAX_AGE_S // 3600},
        status_code=status_code,
        headers=headers,
    )


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, password: str = Form("")) -> Response:
    current = console(request)
    auth, client = current.auth, client_of(request)
    # One transaction admits, counts and decides the try, so parallel tries cannot pass the limit.
    attempt = auth.attempt(password, client)
    if attempt.wait > 0:
        message = f"Too many wrong passwords; try again in {int(attempt.wait) + 1} s."
        return _login_page(request, message, 429, {"retry-after": str(int(attempt.wait) + 1)})
    if not attempt.ok:
        return _login_page(request, "Wrong password.", 401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        auth.issue(),
        max_age=MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=current.services.settings.console.secure_cookie,
    )
    return response


def _logged_out() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, posted: Annotated[Posted, Depends(poster)]) -> Response:
    """End this session in the store: the cookie, even if copied, no longer opens anything."""
    console(request).auth.end(posted.session)
    return _logged_out()


@router.post("/logout/everywhere")
async def logout_everywhere(request: Request, posted: Annotated[Posted, Depends(poster)]) -> Response:
    """End every open session of the console (a lost laptop, a shared screen), this one included."""
    console(request).auth.end_everywhere()
    return _logged_out()
