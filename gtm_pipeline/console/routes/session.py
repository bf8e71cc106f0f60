"""Login and logout."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gtm_pipeline.console.security import COOKIE, MAX_AGE_S
from gtm_pipeline.console.web import TEMPLATES, console, poster

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, "login.html", {"enabled": console(request).auth.enabled, "error": None}
    )


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, password: str = Form("")) -> Response:
    current = console(request)
    auth = current.auth
    wait = auth.locked_for()
    if wait > 0:
        message = f"Too many wrong passwords; try again in {int(wait) + 1} s."
        return TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {"enabled": auth.enabled, "error": message},
            status_code=429,
            headers={"retry-after": str(int(wait) + 1)},
        )
    if not auth.check_password(password):
        return TEMPLATES.TemplateResponse(
            request, "login.html", {"enabled": auth.enabled, "error": "Wrong password."}, status_code=401
        )
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


@router.post("/logout", dependencies=[Depends(poster)])
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
