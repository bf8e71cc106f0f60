"""The console's routes, one router per area, mounted by ``gtm_pipeline.app`` beside the receiver:

session    login, logout
board      prospects by state, a prospect's timeline, the charts
reviews    the review queue: approve, edit then approve, reject
incidents  dead letters (retry, discard) and escalations (acknowledge)
rights     data principals' requests: record, erase, export, complete
skills     graduation evidence, promote and demote
hypotheses each hypothesis' funnel to the money; which signals lead to meetings
"""

from __future__ import annotations

from fastapi import FastAPI

from gtm_pipeline.console.routes import board, hypotheses, incidents, reviews, rights, session, skills
from gtm_pipeline.console.security import ConsoleAuth
from gtm_pipeline.console.web import Console
from gtm_pipeline.pipeline.services import Services


def mount(app: FastAPI, services: Services, auth: ConsoleAuth) -> None:
    """Add the console to ``app``, bound to one set of services and one login."""
    app.state.console = Console(services, auth)
    for area in (session, board, reviews, incidents, rights, skills, hypotheses):
        app.include_router(area.router)
