"""Real inputs: ``gtm fetch`` (what the fetcher would keep from a URL) and ``gtm import`` (a list)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import clock, settings


@app.command()
def fetch(
    url: Annotated[str, typer.Argument(help="The page to fetch, under every rule a connector obeys.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Fetch one URL as the pipeline would (robots, politeness, limits, SSRF guard) and print what
    would be stored, or the refusal and its reason. Stores nothing: no document, no HTTP cache."""
    from gtm_pipeline.sources.extract import page_content
    from gtm_pipeline.sources.fetcher import FetchRefused
    from gtm_pipeline.sources.web import build_fetcher

    now = clock().now()
    with build_fetcher(settings(), clock(), cache=False) as fetcher:
        try:
            page = fetcher.get(url)
        except FetchRefused as refused:
            _emit(
                refused.as_dict(),
                as_json,
                f"refused: {refused.reason} ({refused.detail}) at {refused.at_url}",
            )
            raise typer.Exit(1) from None
    content = page_content(page, today=now.date())
    record: dict[str, Any] = {
        **page.provenance(),
        "published_on": content.published_on.isoformat() if content.published_on else None,
        "date_source": content.date_source,
        "title": content.title,
        "text": content.text,
        "feeds": list(content.feeds),
        "links": len(content.links),
    }
    summary = "\n".join(
        [
            f"{page.status} {page.final_url}"
            + (f" (after {len(page.redirects)} redirect(s))" if page.redirects else ""),
            f"robots: {page.robots}; {page.content_type} {page.charset}; sha256 {page.content_hash[:16]}",
            f"title: {content.title or '-'}",
            f"published: {record['published_on'] or 'unknown'} ({content.date_source})",
            f"text: {len(content.text)} characters; {len(content.links)} links; "
            f"feeds: {', '.join(content.feeds) or '-'}",
            "",
            content.text[:600] + ("…" if len(content.text) > 600 else ""),
        ]
    )
    _emit(record, as_json, summary)


def _emit(record: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(record, indent=2, ensure_ascii=False) if as_json else text)
