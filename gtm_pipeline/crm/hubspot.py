"""HubSpot through its official SDK (``hubspot-api-client``): CRM v3 objects.

* **Where**: every API client of the SDK is built from the keyword arguments given to
  ``HubSpot(...)``, each set on that client's ``Configuration`` (the SDK's ``DiscoveryBase``), so
  ``HubSpot(access_token=..., host=...)`` points every call at ``host``: HubSpot itself, or the twin
  (:mod:`gtm_pipeline.twins.hubspot`) on loopback.
* **429**: HubSpot answers a burst with 429 and ``Retry-After``. The SDK hands ``retry`` to urllib3,
  so a ``Retry`` that lists 429 and respects ``Retry-After`` waits exactly as asked, for every method
  (a 429 was refused before anything was written, so repeating a POST is safe). Nothing else is
  repeated inside a call: a 5xx or a read timeout on a create may have written, so it fails the call,
  the push is recorded as failed and the next pass repeats it, matching by domain and email first.
* **Matching**: a company by ``domain``, a contact by ``email`` (search, then create): the team's
  CRM may already hold them, and a repeated push must not duplicate them. A matched contact is
  left as it is (nothing written on it): it is the team's record, not ours.
* **Tagging**: every company, contact and note a push creates carries ``gtm_push_id`` (the push's
  opaque key, :func:`~gtm_pipeline.crm.sink.push_key`). A create whose answer was lost is found by
  that property (the search API): a retry that matches it by domain or address knows it created
  it, and an erasure deletes it by the tag. It is a custom property (single-line text on companies,
  contacts and notes): a portal that does not define it refuses the create (400,
  ``PROPERTY_DOESNT_EXIST``), so the sink defines it with the properties API (the token needs the
  ``crm.schemas.*.write`` scopes) and repeats the create once; a refused definition fails the push
  with HubSpot's status, as any failure; a search on an undefined tag finds nothing.
* Associations are made in the create call itself (HubSpot-defined type ids), one request each.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import urllib3
from hubspot import HubSpot
from hubspot.crm.companies.exceptions import ApiException as CompaniesError
from hubspot.crm.contacts.exceptions import ApiException as ContactsError
from hubspot.crm.deals.exceptions import ApiException as DealsError
from hubspot.crm.objects.notes.exceptions import ApiException as NotesError
from hubspot.crm.properties.exceptions import ApiException as PropertiesError
from urllib3.util.retry import Retry

from gtm_pipeline.crm.sink import CrmError, DealStage, Upserted
from gtm_pipeline.domain.clock import Clock

# HubSpot-defined association type ids (v4 "associationTypeId", category HUBSPOT_DEFINED).
CONTACT_TO_COMPANY = 279
NOTE_TO_CONTACT = 202
NOTE_TO_COMPANY = 190
_API_ERRORS = (CompaniesError, ContactsError, DealsError, NotesError, PropertiesError)
_PAGE = 100
TAG = "gtm_push_id"  # the custom property holding a push's key on what it created
# Where the tag is filed in HubSpot's settings, per object (its "... information" group).
_TAG_GROUP = {
    "companies": "companyinformation",
    "contacts": "contactinformation",
    "notes": "note_information",
}


def _association(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _by(prop: str, value: str, *, limit: int = 1) -> dict[str, Any]:
    return {
        "filterGroups": [{"filters": [{"propertyName": prop, "operator": "EQ", "value": value}]}],
        "properties": [prop, TAG],
        "limit": limit,
    }


def _tagged(properties: dict[str, Any], key: str | None) -> dict[str, Any]:
    return {**properties, TAG: key} if key else properties


def _linked(associations: dict[str, Any], kind: str) -> tuple[str, ...]:
    found = associations.get(kind)
    return tuple(str(a.id) for a in (found.results or [])) if found is not None else ()


class _UndefinedTag(CrmError):
    """HubSpot refused :data:`TAG`: the portal does not define it (yet). Nothing was written."""


def _failure(exc: Exception, what: str, *, writes: bool = False) -> CrmError:
    """The status and reason only: an SDK error's text includes the response body and headers.
    ``writes``: the call creates; with no answer or a 5xx the object may exist all the same."""
    if isinstance(exc, _API_ERRORS):
        status = int(exc.status or 0)
        body = str(exc.body or "")
        if status == 400 and "PROPERTY_DOESNT_EXIST" in body and TAG in body:
            return _UndefinedTag(f"HubSpot {what}: HTTP 400 {TAG} is not defined", status=400)
        return CrmError(
            f"HubSpot {what}: HTTP {status} {exc.reason or ''}".strip(),
            status=status,
            maybe_written=writes and (status == 0 or status >= 500),
        )
    return CrmError(f"HubSpot {what}: no answer ({type(exc).__name__})", maybe_written=writes)


class HubSpotSink:
    """:class:`~gtm_pipeline.crm.sink.CrmSink` over the official SDK."""

    name = "hubspot"

    def __init__(
        self,
        *,
        token: str,
        api_url: str,
        clock: Clock,
        rate_limit_retries: int = 4,
        timeout_s: float = 15.0,
    ) -> None:
        retry = Retry(
            total=rate_limit_retries,
            connect=rate_limit_retries,  # nothing was sent: safe to repeat
            read=0,  # a read timeout on a POST may have written: the next pass matches first
            other=0,
            status=rate_limit_retries,
            status_forcelist=(429,),
            allowed_methods=None,  # every method: a 429 wrote nothing
            respect_retry_after_header=True,
            raise_on_status=False,  # the last 429 comes back as the SDK's ApiException
        )
        self.client = HubSpot(access_token=token, host=api_url, retry=retry)
        self.clock = clock
        self.timeout_s = timeout_s

    def _call(self, what: str, fn: Any, *args: Any, writes: bool = False, **kwargs: Any) -> Any:
        try:
            return fn(*args, _request_timeout=self.timeout_s, **kwargs)
        except (*_API_ERRORS, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure(exc, what, writes=writes) from None

    def _search(self, api: Any, what: str, prop: str, value: str, *, limit: int = 1) -> list[Any]:
        found = self._call(
            f"{what} search",
            api.search_api.do_search,
            public_object_search_request=_by(prop, value, limit=limit),
        )
        return list(found.results or [])

    def _upsert(self, api: Any, what: str, prop: str, value: str, key: str | None) -> Upserted | None:
        """The object matched by ``prop``; ``created`` when it carries this push's key (an earlier
        attempt created it and its answer was lost). None: nothing matched, create it."""
        found = self._search(api, what, prop, value)
        if not found:
            return None
        tag = (found[0].properties or {}).get(TAG)
        return Upserted(str(found[0].id), created=bool(key) and tag == key)

    def upsert_company(self, *, domain: str, name: str, key: str | None = None) -> Upserted:
        api = self.client.crm.companies
        existing = self._upsert(api, "company", "domain", domain, key)
        if existing is not None:
            return existing
        made = self._create("companies", {"properties": _tagged({"domain": domain, "name": name}, key)})
        return Upserted(str(made.id), created=True)

    def upsert_contact(
        self, *, email: str, name: str | None, role: str | None, company_id: str, key: str | None = None
    ) -> Upserted:
        api = self.client.crm.contacts
        existing = self._upsert(api, "contact", "email", email, key)
        if existing is not None:
            return existing
        first, _, last = (name or "").partition(" ")
        properties = {"email": email, "firstname": first, "lastname": last, "jobtitle": role or ""}
        made = self._create(
            "contacts",
            {
                "properties": _tagged({k: v for k, v in properties.items() if v}, key),
                "associations": [_association(company_id, CONTACT_TO_COMPANY)],
            },
        )
        return Upserted(str(made.id), created=True)

    def _api(self, kind: str) -> Any:
        apis = {
            "companies": self.client.crm.companies,
            "contacts": self.client.crm.contacts,
            "notes": self.client.crm.objects.notes,
        }
        return apis[kind]

    def _create(self, kind: str, body: dict[str, Any]) -> Any:
        """Create, tagged; a portal that has never seen the tag gets it defined, and the create is
        repeated once (the refusal wrote nothing)."""
        what, create = f"{kind} create", self._api(kind).basic_api.create
        try:
            return self._call(what, create, writes=True, simple_public_object_input_for_create=body)
        except _UndefinedTag:
            self._define_tag(kind)
        return self._call(what, create, writes=True, simple_public_object_input_for_create=body)

    def _define_tag(self, kind: str) -> None:
        definition = {
            "name": TAG,
            "label": "GTM push id",
            "description": "Set by the outbound pipeline on what it created (opaque; used to erase it).",
            "type": "string",
            "fieldType": "text",
            "groupName": _TAG_GROUP[kind],
        }
        try:
            self._call(
                f"{kind} {TAG} property define",
                self.client.crm.properties.core_api.create,
                object_type=kind,
                property_create=definition,
            )
        except CrmError as exc:
            if exc.status != 409:  # 409: another pass defined it meanwhile
                raise

    def find_tagged(self, kind: str, key: str) -> list[str]:
        """Every ``kind`` object carrying this push's key (a lost create, or one repeated)."""
        try:
            found = self._search(self._api(kind), kind, TAG, key, limit=_PAGE)
        except _UndefinedTag:
            return []  # the portal does not define the tag: nothing can carry it
        return [str(o.id) for o in found]

    def add_note(self, body: str, *, company_id: str, contact_id: str, key: str | None = None) -> str:
        at = self.clock.now().astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        made = self._create(
            "notes",
            {
                "properties": _tagged({"hs_note_body": body, "hs_timestamp": at}, key),
                "associations": [
                    _association(contact_id, NOTE_TO_CONTACT),
                    _association(company_id, NOTE_TO_COMPANY),
                ],
            },
        )
        return str(made.id)

    def _archive(self, what: str, fn: Any, object_id: str) -> bool:
        try:
            fn(object_id, _request_timeout=self.timeout_s)
        except _API_ERRORS as exc:
            if exc.status == 404:
                return False  # already gone: what erasure wants
            raise _failure(exc, f"{what} delete") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _failure(exc, f"{what} delete") from None
        return True

    def delete_contact(self, contact_id: str) -> bool:
        return self._archive("contact", self.client.crm.contacts.basic_api.archive, contact_id)

    def delete_company(self, company_id: str) -> bool:
        return self._archive("company", self.client.crm.companies.basic_api.archive, company_id)

    def delete_note(self, note_id: str) -> bool:
        return self._archive("note", self.client.crm.objects.notes.basic_api.archive, note_id)

    def deal_stages(self) -> list[DealStage]:
        """Every deal, page by page, with its stage and associated companies and contacts."""
        api, after, stages = self.client.crm.deals.basic_api, None, []
        while True:
            kwargs: dict[str, Any] = {
                "limit": _PAGE,
                "properties": ["dealstage"],
                "associations": ["companies", "contacts"],
            }
            if after is not None:
                kwargs["after"] = after
            page = self._call("deals list", api.get_page, **kwargs)
            for deal in page.results or []:
                linked = deal.associations or {}
                stage = str((deal.properties or {}).get("dealstage") or "")
                stages.append(
                    DealStage(str(deal.id), stage, _linked(linked, "companies"), _linked(linked, "contacts"))
                )
            nxt = page.paging.next if page.paging is not None else None
            if nxt is None or not nxt.after:
                return stages
            after = nxt.after
