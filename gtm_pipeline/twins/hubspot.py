"""A digital twin of HubSpot's CRM v3 objects API: what :mod:`gtm_pipeline.crm.hubspot` calls.

Speaks what HubSpot documents and the official SDK sends, for ``companies``, ``contacts``,
``notes`` and ``deals``: ``POST /crm/v3/objects/{type}`` (create, with ``associations``),
``POST .../{type}/search`` (``filterGroups`` of ``EQ`` filters), ``GET .../{type}`` (a page, with
``properties``, ``associations`` and the ``after`` cursor), ``GET``/``PATCH``/``DELETE
.../{type}/{id}`` (read, update, archive). A request without ``Authorization: Bearer <token>`` is
refused with 401; an unknown id is 404; errors carry HubSpot's JSON error body.

Scripted faults (``twin.settings.script(...)``): ``rate_limit`` (429 with ``Retry-After``, as
HubSpot's burst limit answers), ``server_error`` (500), ``unavailable`` (503), both before anything
is written; ``accept_then_fail`` (the request is carried out, then a 500) and ``timeout`` (carried
out, but the answer comes after ``timeout_sleep_s``, past the client's timeout): a create whose
object exists though its caller never learnt the id.

Search lag (``HubSpotTwin(search_lag_s=N)``, or set ``twin.search_lag_s`` while it runs): HubSpot's
search is eventually consistent, an object created a moment ago is not found by ``/search`` yet
(its read and list endpoints see it at once). The twin answers a search with only the objects
created at least ``search_lag_s`` seconds before, on its injected clock (a test's manual clock moves
it), so code that takes an empty search right after a create as proof of absence is caught.

Properties are checked as HubSpot checks them: a create or a search filter naming a property the
portal does not define is refused with 400 (``PROPERTY_DOESNT_EXIST``), and ``POST
/crm/v3/properties/{type}`` defines one (409 when it exists). ``gtm_push_id``, the custom property
the pipeline tags what it creates with (see :mod:`gtm_pipeline.crm.hubspot`), is defined on
companies, contacts and notes from the start, as in a portal the pipeline has pushed to before;
``HubSpotTwin(tag_defined=False)`` is a portal that has never seen it.

Inspection for tests and the rehearsal: :meth:`HubSpotTwin.domains`, :meth:`emails`,
:meth:`notes`, and :meth:`add_deal` / :meth:`set_stage` to act as the sales team does.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Self

from gtm_pipeline.domain.clock import Clock, SystemClock
from gtm_pipeline.twins.server import TwinRequest, TwinServer, TwinSettings

TYPES = ("companies", "contacts", "notes", "deals")
_OWN = ("hs_object_id", "createdate", "hs_lastmodifieddate")
# The properties the twin's portal defines (HubSpot's own that the pipeline uses, and the custom tag).
PROPERTIES: dict[str, frozenset[str]] = {
    "companies": frozenset(("domain", "name", "gtm_push_id", *_OWN)),
    "contacts": frozenset(("email", "firstname", "lastname", "jobtitle", "gtm_push_id", *_OWN)),
    "notes": frozenset(("hs_note_body", "hs_timestamp", "gtm_push_id", *_OWN)),
    "deals": frozenset(("dealname", "dealstage", "amount", "closedate", *_OWN)),
}
_JSON = {"content-type": "application/json;charset=utf-8"}
_PREFIX = "/crm/v3/objects"
Answer = tuple[int, dict[str, str], bytes]


def _answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
    return status, {**_JSON, **(headers or {})}, b"" if body is None else json.dumps(body).encode()


def _error(status: int, message: str, category: str, headers: dict[str, str] | None = None) -> Answer:
    return _answer(status, {"status": "error", "message": message, "category": category}, headers)


@dataclass
class HubSpotTwin:
    """Start with ``with HubSpotTwin() as hubspot:`` and give the sink ``hubspot.url`` and ``token``."""

    token: str = "pat-twin-0000-0000"
    settings: TwinSettings = field(default_factory=TwinSettings)
    clock: Clock = field(default_factory=SystemClock)
    tag_defined: bool = True  # False: the portal does not define ``gtm_push_id`` yet
    search_lag_s: float = 0.0  # seconds (on ``clock``) before a new object is found by search

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 1000
        self.objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in TYPES}
        # When each object was created, on the twin's clock: what the search lag is counted from.
        self._created: dict[str, dt.datetime] = {}
        self.archived: dict[str, set[str]] = {kind: set() for kind in TYPES}
        self.defined: dict[str, set[str]] = {
            kind: {n for n in names if self.tag_defined or n != "gtm_push_id"}
            for kind, names in PROPERTIES.items()
        }
        routes = {}
        for kind in TYPES:
            base = f"{_PREFIX}/{kind}"
            routes[("POST", base)] = self._route(kind, self._create)
            routes[("GET", base)] = self._route(kind, self._page)
            routes[("POST", f"{base}/search")] = self._route(kind, self._search)
            routes[("GET", f"{base}/*")] = self._route(kind, self._read)
            routes[("PATCH", f"{base}/*")] = self._route(kind, self._update)
            routes[("DELETE", f"{base}/*")] = self._route(kind, self._archive)
            routes[("POST", f"/crm/v3/properties/{kind}")] = self._route(kind, self._define)
        self.server = TwinServer(routes, self.settings)

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> Self:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    # ------------------------------------------------------------ inspection

    def live(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(o) for o in self.objects[kind].values()]

    def domains(self) -> set[str]:
        """The companies the CRM holds, by domain (what the rehearsal asserts)."""
        return {str(o["properties"].get("domain")) for o in self.live("companies")}

    def emails(self) -> set[str]:
        return {str(o["properties"].get("email")) for o in self.live("contacts")}

    def notes(self) -> list[str]:
        return [str(o["properties"].get("hs_note_body", "")) for o in self.live("notes")]

    def company_id(self, domain: str) -> str:
        found = [o["id"] for o in self.live("companies") if o["properties"].get("domain") == domain]
        if not found:
            raise KeyError(f"no company {domain}")
        return str(found[0])

    def add_deal(
        self,
        domain: str,
        *,
        stage: str = "appointmentscheduled",
        name: str = "Deal",
        contact_email: str | None = None,
    ) -> str:
        """A deal the sales team opened for a company (and, if named, one of its contacts), as a
        person would in HubSpot's UI."""
        company = self.company_id(domain)
        contacts = [o["id"] for o in self.live("contacts") if o["properties"].get("email") == contact_email]
        with self._lock:
            made = self._new("deals", {"dealname": name, "dealstage": stage})
            made["associations"] = {"companies": [company], **({"contacts": contacts} if contacts else {})}
        return str(made["id"])

    def set_stage(self, deal_id: str, stage: str) -> None:
        with self._lock:
            self.objects["deals"][deal_id]["properties"]["dealstage"] = stage
            self.objects["deals"][deal_id]["updatedAt"] = self._stamp()

    # ------------------------------------------------------------ API

    def _stamp(self) -> str:
        return self.clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _new(self, kind: str, properties: dict[str, Any]) -> dict[str, Any]:
        self._next += 1
        stamp, object_id = self._stamp(), str(self._next)
        made: dict[str, Any] = {
            "id": object_id,
            "properties": {k: str(v) for k, v in properties.items()},
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
            "associations": {},
        }
        self.objects[kind][object_id] = made
        self._created[object_id] = self.clock.now()
        return made

    def _indexed(self, object_id: str) -> bool:
        """Whether search finds the object yet (created at least ``search_lag_s`` ago)."""
        if self.search_lag_s <= 0:
            return True
        return self.clock.now() - self._created[object_id] >= dt.timedelta(seconds=self.search_lag_s)

    def _route(self, kind: str, handler: Any) -> Any:
        def serve(request: TwinRequest) -> Answer:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
            if request.fault == "rate_limit":
                wait = str(max(1, round(request.retry_after_s)))
                return _error(
                    429, "You have reached your secondly limit.", "RATE_LIMITS", {"retry-after": wait}
                )
            if request.fault == "server_error":
                return _error(500, "internal error", "INTERNAL_ERROR")
            if request.fault in ("unavailable", "overloaded"):
                return _error(503, "service unavailable", "SERVICE_UNAVAILABLE")
            try:
                body = json.loads(request.body) if request.body else {}
            except ValueError:
                return _error(400, "Invalid input JSON", "VALIDATION_ERROR")
            with self._lock:
                answer: Answer = handler(kind, request, body)
            # Carried out, the answer lost: the caller cannot tell whether anything was written.
            if request.fault == "accept_then_fail":
                return _error(500, "internal error", "INTERNAL_ERROR")
            if request.fault == "timeout":
                return _error(504, "gateway timeout", "GATEWAY_TIMEOUT")
            return answer

        return serve

    @staticmethod
    def _public(obj: dict[str, Any], properties: list[str] | None, associations: list[str]) -> dict[str, Any]:
        shown = {k: v for k, v in obj.items() if k != "associations"}
        if properties:
            shown["properties"] = {k: obj["properties"].get(k) for k in properties}
        linked = {
            other: {"results": [{"id": i, "type": f"to_{other}"} for i in obj["associations"].get(other, [])]}
            for other in associations
            if obj["associations"].get(other)
        }
        if linked:
            shown["associations"] = linked
        return shown

    def _define(self, kind: str, request: TwinRequest, body: dict[str, Any]) -> Answer:
        """Define a custom property (the properties API), as an integration does on first use."""
        name = str(body.get("name") or "")
        if not name or not body.get("type") or not body.get("fieldType") or not body.get("groupName"):
            return _error(400, "name, label, type, fieldType and groupName are required", "VALIDATION_ERROR")
        if name in self.defined[kind]:
            return _error(409, f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        self.defined[kind].add(name)
        return _answer(201, {**body, "createdAt": self._stamp(), "hidden": False})

    def _undefined(self, kind: str, names: list[str]) -> Answer | None:
        """HubSpot's refusal of a property the portal does not define, or None."""
        unknown = sorted({n for n in names if n not in self.defined[kind]})
        if not unknown:
            return None
        problems = [
            {
                "isValid": False,
                "message": f'Property "{n}" does not exist',
                "error": "PROPERTY_DOESNT_EXIST",
                "name": n,
            }
            for n in unknown
        ]
        return _error(400, f"Property values were not valid: {json.dumps(problems)}", "VALIDATION_ERROR")

    def _create(self, kind: str, request: TwinRequest, body: dict[str, Any]) -> Answer:
        properties = body.get("properties")
        if not isinstance(properties, dict):
            return _error(400, "properties are required", "VALIDATION_ERROR")
        refused = self._undefined(kind, list(properties))
        if refused is not None:
            return refused
        links: dict[str, list[str]] = {}
        for association in body.get("associations") or []:
            target = str(association.get("to", {}).get("id", ""))
            other = next((k for k in TYPES if target in self.objects[k]), None)
            if other is None:
                return _error(400, f"association target {target} does not exist", "VALIDATION_ERROR")
            links.setdefault(other, []).append(target)
            self.objects[other][target]["associations"].setdefault(kind, [])
        made = self._new(kind, properties)
        made["associations"] = links
        for other, ids in links.items():
            for target in ids:
                self.objects[other][target]["associations"][kind].append(made["id"])
        return _answer(201, self._public(made, None, []))

    def _search(self, kind: str, request: TwinRequest, body: dict[str, Any]) -> Answer:
        groups = body.get("filterGroups") or []
        named = [str(f.get("propertyName")) for g in groups for f in g.get("filters") or []]
        refused = self._undefined(kind, named)
        if refused is not None:
            return refused
        found = []
        for obj in self.objects[kind].values():
            if not self._indexed(obj["id"]):
                continue  # created too recently for HubSpot's search index
            for group in groups or [{"filters": []}]:
                filters = group.get("filters") or []
                if all(
                    f.get("operator") == "EQ"
                    and str(obj["properties"].get(f.get("propertyName"), "")).lower()
                    == str(f.get("value")).lower()
                    for f in filters
                ):
                    found.append(obj)
                    break
        limit = int(body.get("limit") or 10)
        shown = [self._public(o, body.get("properties") or None, []) for o in found[:limit]]
        return _answer(200, {"total": len(found), "results": shown})

    def _page(self, kind: str, request: TwinRequest, body: dict[str, Any]) -> Answer:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
        limit = int(query.get("limit", ["10"])[0])
        after = int(query.get("after", ["0"])[0] or 0)
        properties = [p for value in query.get("properties", []) for p in value.split(",")]
        associations = [a for value in query.get("associations", []) for a in value.split(",")]
        ordered = sorted(self.objects[kind].values(), key=lambda o: int(o["id"]))
        chunk = ordered[after : after + limit]
        result: dict[str, Any] = {"results": [self._public(o, properties, associations) for o in chunk]}
        if after + limit < len(ordered):
            result["paging"] = {"next": {"after": str(after + limit), "link": "?after"}}
        return _answer(200, result)

    def _object_id(self, request: TwinRequest) -> str:
        return urllib.parse.urlsplit(request.path).path.rsplit("/", 1)[1]

    def _read(self, kind: str, request: TwinRequest, body: dict[str, Any]) -> Answer:
        obj = self.objects[kind].get(self._object_id(request))
        if obj is None:
            return _error(404, "resource not found", "OBJECT_NOT_FOUND")
        return _answer(200, self._public(obj, None, []))

    def _update(self, kind: str, request: TwinRequest, body: dict[str, Any]) -> Answer:
        obj = self.objects[kind].get(self._object_id(request))
        if obj is None:
            return _error(404, "resource not found", "OBJECT_NOT_FOUND")
        obj["properties"].update({k: str(v) for k, v in (body.get("properties") or {}).items()})
        obj["updatedAt"] = self._stamp()
        return _answer(200, self._public(obj, None, []))

    def _archive(self, kind: str, request: TwinRequest, body: dict[str, Any]) -> Answer:
        object_id = self._object_id(request)
        obj = self.objects[kind].pop(object_id, None)
        if obj is None:
            if object_id in self.archived[kind]:
                return _answer(204)  # HubSpot answers a repeated archive with 204 too
            return _error(404, "resource not found", "OBJECT_NOT_FOUND")
        self.archived[kind].add(object_id)
        for other, ids in obj["associations"].items():
            for target in ids:
                linked = self.objects[other].get(target, {}).get("associations", {}).get(kind, [])
                if object_id in linked:
                    linked.remove(object_id)
        return _answer(204)
