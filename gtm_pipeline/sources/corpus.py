"""The sample corpus connector: a bundled snapshot of synthetic company web pages and lists.

It stands in for the web and for imported lists on the embedded default, with the same
shape a live fetcher will have: candidates to discover, and documents per company domain,
each with a stable source id, URL, kind, publication date and retrieval time. Retrieval is
deterministic (sorted, hashed), so re-running a fetch never changes what was fetched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gtm_pipeline.domain.frontmatter import split_front_matter
from gtm_pipeline.domain.ids import content_hash, normalize_domain
from gtm_pipeline.domain.sources import SourceDoc

SOURCE_KINDS = ("about", "news", "post", "careers", "press", "blog", "list")


class CorpusError(ValueError):
    """A corpus file that does not have the expected shape."""


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    role: str
    email: str
    timezone: str | None = None  # IANA name; sends wait for the recipient's business hours

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (KeyError, ValueError) as exc:  # a typo must not silently shift send windows
                raise ValueError(f"unknown timezone {value!r}") from exc
        return value


class CompanyFile(BaseModel):
    """``<company>/company.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    domain: str
    contact: Contact | None = None
    note: str = ""


class DocFront(BaseModel):
    """Front matter of a corpus document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern="^(" + "|".join(SOURCE_KINDS) + ")$")
    title: str
    path: str = Field(pattern=r"^/")
    published: dt.date | None = None


@dataclass(frozen=True)
class Candidate:
    """A company the discovery source offers, as spelled by that source."""

    folder: str
    name: str
    raw_domain: str
    domain: str
    contact: Contact | None


class SampleCorpus:
    """Reads ``data/samples/corpus``: ``manifest.yaml`` plus one folder per company."""

    def __init__(self, root: Path) -> None:
        if not (root / "manifest.yaml").is_file():
            raise CorpusError(f"{root}: no manifest.yaml (is GTM_CORPUS_DIR right?)")
        manifest = yaml.safe_load((root / "manifest.yaml").read_text(encoding="utf-8")) or {}
        snapshot = manifest.get("snapshot_at")
        if not isinstance(snapshot, dt.datetime):
            raise CorpusError(f"{root / 'manifest.yaml'}: snapshot_at must be a timestamp")
        self.root = root
        self.snapshot_at = snapshot if snapshot.tzinfo else snapshot.replace(tzinfo=dt.UTC)
        self._candidates = [
            self._candidate(p) for p in sorted(root.iterdir()) if (p / "company.yaml").is_file()
        ]

    @property
    def as_of(self) -> dt.date:
        """The day the snapshot was taken: recency is judged against it."""
        return self.snapshot_at.date()

    def candidates(self) -> list[Candidate]:
        return list(self._candidates)

    def _candidate(self, folder: Path) -> Candidate:
        path = folder / "company.yaml"
        try:
            company = CompanyFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except Exception as exc:
            raise CorpusError(f"{path}: {exc}") from exc
        return Candidate(
            folder=folder.name,
            name=company.name,
            raw_domain=company.domain,
            domain=normalize_domain(company.domain),
            contact=company.contact,
        )

    def _docs(self, candidate: Candidate) -> list[SourceDoc]:
        docs = []
        for path in sorted((self.root / candidate.folder).glob("*.md")):
            try:
                data, body = split_front_matter(path.read_text(encoding="utf-8"))
                front = DocFront.model_validate(data)
            except Exception as exc:
                raise CorpusError(f"{path}: {exc}") from exc
            docs.append(
                SourceDoc(
                    source_id=f"{candidate.folder}/{path.stem}",
                    url=f"https://{candidate.domain}{front.path}",
                    kind=front.kind,
                    title=front.title,
                    text=body,
                    published_on=front.published,
                    retrieved_at=self.snapshot_at,
                    content_hash=content_hash(body),
                )
            )
        return docs

    def discovery_documents(self, candidate: Candidate) -> list[SourceDoc]:
        """What a signal search returns for a candidate: its dated posts and news."""
        return [doc for doc in self._docs(candidate) if doc.published_on is not None]

    def fetch(self, domain: str) -> list[SourceDoc]:
        """Every document of every candidate at ``domain`` (any spelling), deduplicated."""
        wanted = normalize_domain(domain)
        seen: set[str] = set()
        docs: list[SourceDoc] = []
        for candidate in self._candidates:
            if candidate.domain != wanted:
                continue
            for doc in self._docs(candidate):
                if doc.content_hash not in seen:
                    seen.add(doc.content_hash)
                    docs.append(doc)
        return sorted(docs, key=lambda d: d.source_id)
