"""What each discovery API answers, in its own JSON shape, from the twin's world.

One function per API, ``(world, params, body, fault, path) -> (status, payload)``; the server in
:mod:`gtm_pipeline.twins.discovery` routes a request to one of them after its faults that need no
answer (429, 503, timeout) and its key check; ``empty`` is applied here (a well-formed answer with
no results), ``malformed`` by the server (the answer cut in half).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import uuid
from typing import Any

from gtm_pipeline.twins.discovery_world import API_CHANNELS, Article, World


def _when(day: dt.date | None, fmt: str) -> str | None:
    if day is None:
        return None
    at = dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC)
    return at.strftime(fmt)


def _date_arg(value: str | None) -> dt.date | None:
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return dt.date.fromisoformat(value[:10])
    with contextlib.suppress(ValueError):
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def exa_answer(
    world: World, params: dict[str, str], body: dict[str, Any], fault: str | None, path: str
) -> tuple[int, Any]:
    query = str(body["query"])
    channels = {"news"} if body.get("category") == "news" else API_CHANNELS["exa"]
    found = (
        []
        if fault == "empty"
        else world.search(
            channels,
            query,
            _date_arg(body.get("startPublishedDate")),
            _date_arg(body.get("endPublishedDate")),
            int(body.get("numResults") or 10),
        )
    )
    contents = body.get("contents") or {}
    text_option = contents.get("text")
    max_chars = text_option.get("maxCharacters", 10_000) if isinstance(text_option, dict) else 10_000
    results = []
    for article in found:
        result: dict[str, Any] = {
            "id": article.url,
            "url": article.url,
            "title": article.title,
            "publishedDate": _when(article.reported, "%Y-%m-%dT%H:%M:%S.000Z"),
            "author": None,
        }
        if text_option:
            result["text"] = article.text[:max_chars]
        if contents.get("highlights"):
            result["highlights"] = [article.quote]
            result["highlightScores"] = [0.42]
        results.append(result)
    return 200, {
        "requestId": _digest(query)[:32],
        "resolvedSearchType": "neural",
        "results": results,
        "searchTime": 42.0,
        "costDollars": {"total": 0.007, "search": {"neural": 0.007}},
    }


def tavily_answer(
    world: World, params: dict[str, str], body: dict[str, Any], fault: str | None, path: str
) -> tuple[int, Any]:
    query = str(body["query"])
    news = body.get("topic") == "news"
    found = (
        []
        if fault == "empty"
        else world.search(
            API_CHANNELS["tavily"],
            query,
            _date_arg(body.get("start_date")),
            _date_arg(body.get("end_date")),
            int(body.get("max_results") or 5),
        )
    )
    results = []
    for rank, article in enumerate(found):
        result: dict[str, Any] = {
            "url": article.url,
            "title": article.title,
            "content": article.quote,
            "score": round(0.9 - rank * 0.01, 4),
            "raw_content": None,
        }
        if news:  # the news topic dates its results; general search does not
            result["published_date"] = _when(article.reported, "%a, %d %b %Y %H:%M:%S GMT")
        results.append(result)
    return 200, {
        "query": query,
        "follow_up_questions": None,
        "answer": None,
        "images": [],
        "results": results,
        "response_time": 0.42,
        "request_id": str(uuid.UUID(_digest(query)[:32])),
    }


def gdelt_answer(
    world: World, params: dict[str, str], body: Any, fault: str | None, path: str
) -> tuple[int, Any]:
    limit = min(int(params.get("maxrecords") or 75), 250)
    found = (
        []
        if fault == "empty"
        else world.search(
            API_CHANNELS["gdelt"],
            params["query"],
            _date_arg(params.get("startdatetime")),
            _date_arg(params.get("enddatetime")),
            limit,
        )
    )
    if not found:
        return 200, {}  # GDELT's answer when nothing matched
    return 200, {
        "articles": [
            {
                "url": a.url,
                "url_mobile": "",
                "title": a.title,
                "seendate": _when(a.reported, "%Y%m%dT%H%M%SZ") or "",
                "socialimage": "",
                "domain": a.host,
                "language": "English",
                "sourcecountry": "United States",
            }
            for a in found
        ]
    }


def hn_answer(
    world: World, params: dict[str, str], body: Any, fault: str | None, path: str
) -> tuple[int, Any]:
    since = until = None
    for condition in params.get("numericFilters", "").split(","):
        match = re.fullmatch(r"\s*created_at_i\s*(>=|>|<=|<)\s*(\d+)\s*", condition)
        if not match:
            continue
        op, seconds = match.group(1), int(match.group(2))
        day = dt.datetime.fromtimestamp(seconds, tz=dt.UTC).date()
        if op in (">", ">="):
            since = day
        else:
            until = day - dt.timedelta(days=1) if op == "<" and seconds % 86400 == 0 else day
    limit = int(params.get("hitsPerPage") or 20)
    found = (
        [] if fault == "empty" else world.search(API_CHANNELS["hn"], params.get("query", ""), since, until)
    )
    hits = []
    for article in found[:limit]:
        object_id = str(int(_digest(article.url)[:7], 16))
        at = dt.datetime.combine(article.reported or dt.date(2000, 1, 1), dt.time(12), tzinfo=dt.UTC)
        own_text = article.host == "news.ycombinator.com"
        hits.append(
            {
                "_tags": ["story", "author_twin", f"story_{object_id}"],
                "author": "twin",
                "children": [],
                "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "created_at_i": int(at.timestamp()),
                "num_comments": 3,
                "objectID": object_id,
                "points": 12,
                "story_id": int(object_id),
                "story_text": article.text if own_text else None,
                "title": article.snippet or article.title,
                "updated_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "url": None if own_text else article.url,
            }
        )
    return 200, {
        "exhaustive": {"nbHits": True, "typo": True},
        "exhaustiveNbHits": True,
        "hits": hits,
        "hitsPerPage": limit,
        "nbHits": len(found),
        "nbPages": max(1, -(-len(found) // max(1, limit))),
        "page": 0,
        "params": "&".join(f"{k}={v}" for k, v in params.items()),
        "processingTimeMS": 1,
        "query": params.get("query", ""),
    }


def edgar_answer(
    world: World, params: dict[str, str], body: Any, fault: str | None, path: str
) -> tuple[int, Any]:
    forms = {f.strip().upper() for f in params.get("forms", "").split(",") if f.strip()}
    found = [] if fault == "empty" else world.search(
        API_CHANNELS["edgar"], params.get("q", "").replace('"', " "),
        _date_arg(params.get("startdt")), _date_arg(params.get("enddt")),
    )  # fmt: skip
    found = [a for a in found if not forms or (a.form or "").upper() in forms][:100]
    hits = []
    for article in found:
        filing = article.filing()
        if filing is None:
            continue
        cik, adsh, name = filing
        form = article.form or "8-K"
        hits.append(
            {
                "_index": "edgar_file",
                "_id": f"{adsh}:{name}",
                "_score": 1.0,
                "_source": {
                    "ciks": [cik.zfill(10)],
                    "period_ending": (article.reported or dt.date(2000, 1, 1)).isoformat(),
                    "file_num": ["001-40000"],
                    "display_names": [f"{article.company_name}  (CIK {cik.zfill(10)})"],
                    "xsl": "xsl_D" if form == "D" else None,
                    "sequence": 1,
                    "root_forms": [form],
                    "file_date": (article.reported or dt.date(2000, 1, 1)).isoformat(),
                    "biz_states": ["CA"],
                    "sics": ["8000"],
                    "form": form,
                    "adsh": adsh,
                    "film_num": ["25000000"],
                    "biz_locations": ["San Francisco, CA"],
                    "file_type": form,
                    "file_description": form,
                    "inc_states": ["DE"],
                    "items": list(article.items),
                },
            }
        )
    return 200, {
        "took": 3,
        "timed_out": False,
        "_shards": {"total": 50, "successful": 50, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": 1.0, "hits": hits},
        "aggregations": {},
        "query": {"q": params.get("q", "")},
    }


def _board(world: World, ats: str, path: str, fault: str | None) -> list[Article] | None:
    token = [p for p in path.split("/") if p][2]
    jobs = world.jobs(ats, token)
    return [] if fault == "empty" and jobs is not None else jobs


def greenhouse_answer(
    world: World, params: dict[str, str], body: Any, fault: str | None, path: str
) -> tuple[int, Any]:
    jobs = _board(world, "greenhouse", path, fault)
    if jobs is None:
        return 404, {"status": 404, "error": "Job not found"}
    postings = []
    for article in jobs:
        board = article.board() or ("", "", "0")
        day = article.reported
        postings.append(
            {
                "absolute_url": article.url,
                "data_compliance": [{"type": "gdpr", "requires_consent": False}],
                "internal_job_id": int(board[2]) + 1,
                "location": {"name": "Remote"},
                "metadata": None,
                "id": int(board[2]),
                "updated_at": _when(day, "%Y-%m-%dT%H:%M:%S-04:00"),
                "requisition_id": f"REQ-{board[2]}",
                "title": article.title,
                "company_name": article.company_name,
                "first_published": _when(day, "%Y-%m-%dT%H:%M:%S-04:00"),
                "language": "en",
            }
        )
    return 200, {"jobs": postings, "meta": {"total": len(postings)}}


def lever_answer(
    world: World, params: dict[str, str], body: Any, fault: str | None, path: str
) -> tuple[int, Any]:
    jobs = _board(world, "lever", path, fault)
    if jobs is None:
        return 404, {"ok": False, "error": "Document not found"}
    postings = []
    for article in jobs:
        board = article.board() or ("", "", "")
        at = dt.datetime.combine(article.reported or dt.date(2000, 1, 1), dt.time(12), tzinfo=dt.UTC)
        postings.append(
            {
                "additionalPlain": "",
                "categories": {"commitment": "Full-time", "location": "Remote", "team": "Compliance"},
                "createdAt": int(at.timestamp() * 1000),
                "descriptionPlain": article.text,
                "id": board[2],
                "lists": [],
                "text": article.title,
                "country": "US",
                "workplaceType": "remote",
                "hostedUrl": article.url,
                "applyUrl": f"{article.url}/apply",
            }
        )
    return 200, postings


def ashby_answer(
    world: World, params: dict[str, str], body: Any, fault: str | None, path: str
) -> tuple[int, Any]:
    jobs = _board(world, "ashby", path, fault)
    if jobs is None:
        return 404, {"success": False, "errors": ["Job board not found"]}
    postings = [
        {
            "id": (article.board() or ("", "", ""))[2],
            "title": article.title,
            "department": "Compliance",
            "team": "Compliance",
            "employmentType": "FullTime",
            "location": "Remote",
            "publishedAt": _when(article.reported, "%Y-%m-%dT%H:%M:%S.000+00:00"),
            "isListed": True,
            "isRemote": True,
            "jobUrl": article.url,
            "applyUrl": f"{article.url}/application",
            "descriptionPlain": article.text,
        }
        for article in jobs
    ]
    return 200, {"apiVersion": "1", "jobs": postings}


ANSWERS = {
    "exa": exa_answer,
    "tavily": tavily_answer,
    "gdelt": gdelt_answer,
    "hn": hn_answer,
    "edgar": edgar_answer,
    "greenhouse": greenhouse_answer,
    "lever": lever_answer,
    "ashby": ashby_answer,
}
