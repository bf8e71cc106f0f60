"""Dead letters: skill calls that failed their contract after the fixed retries, raw output kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gtm_pipeline.store import schema as t

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


class DeadLetters:
    """Recording, finding and resolving dead letters."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        *,
        prospect_id: str | None,
        skill: str,
        skill_version: str,
        group: str,
        input_hash: str,
        attempts: int,
        reason_kind: str,
        reason: str,
        raw_output: str | None,
    ) -> tuple[int, bool]:
        """Keep a failed skill call for the operator, once per identical input.

        A retried (resolved) dead letter that fails again is reopened with the new output:
        returns (id, True) then, as for a new one.
        """
        with self.store.writing() as c:
            found = c.execute(
                sa.select(t.dead_letters.c.id, t.dead_letters.c.resolved_at).where(
                    t.dead_letters.c.prospect_id == prospect_id,
                    t.dead_letters.c.skill == skill,
                    t.dead_letters.c.skill_version == skill_version,
                    t.dead_letters.c.input_hash == input_hash,
                )
            ).first()
            if found is not None and found.resolved_at is None:
                return int(found.id), False
            if found is not None:
                c.execute(
                    t.dead_letters.update()
                    .where(t.dead_letters.c.id == found.id)
                    .values(
                        resolved_at=None,
                        attempts=t.dead_letters.c.attempts + attempts,
                        reason_kind=reason_kind,
                        reason=reason,
                        raw_output=raw_output,
                    )
                )
                return int(found.id), True
            result = c.execute(
                t.dead_letters.insert().values(
                    prospect_id=prospect_id,
                    skill=skill,
                    skill_version=skill_version,
                    group_name=group,
                    input_hash=input_hash,
                    attempts=attempts,
                    reason_kind=reason_kind,
                    reason=reason,
                    raw_output=raw_output,
                    created_at=self.store.now(),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0]), True

    def find_open(
        self, *, prospect_id: str | None, skill: str, skill_version: str, input_hash: str
    ) -> dict[str, Any] | None:
        """An unresolved dead letter for exactly this call, if any."""
        query = sa.select(t.dead_letters).where(
            t.dead_letters.c.prospect_id.is_(None)
            if prospect_id is None
            else t.dead_letters.c.prospect_id == prospect_id,
            t.dead_letters.c.skill == skill,
            t.dead_letters.c.skill_version == skill_version,
            t.dead_letters.c.input_hash == input_hash,
            t.dead_letters.c.resolved_at.is_(None),
        )
        with self.store.reading() as c:
            row = c.execute(query).first()
        return dict(row._mapping) if row is not None else None

    def resolve(self, dead_letter_id: int, *, actor: str, action: str, reason: str) -> dict[str, Any]:
        """Close a dead letter (``retried`` or ``discarded``), journaled; returns the row."""
        now = self.store.now()
        with self.store.writing() as c:
            row = c.execute(sa.select(t.dead_letters).where(t.dead_letters.c.id == dead_letter_id)).first()
            if row is None:
                raise KeyError(f"no dead letter #{dead_letter_id}")
            if row.resolved_at is not None:
                raise ValueError(f"dead letter #{dead_letter_id} is already resolved")
            c.execute(
                t.dead_letters.update().where(t.dead_letters.c.id == dead_letter_id).values(resolved_at=now)
            )
            self.store.journal.append_in(
                c,
                subject=row.prospect_id or f"dead_letter:{dead_letter_id}",
                kind=f"dead_letter_{action}",
                actor=actor,
                payload={"dead_letter_id": dead_letter_id, "skill": row.skill, "reason": reason[:500]},
                now=now,
            )
            return dict(row._mapping)

    def open(self) -> list[dict[str, Any]]:
        query = (
            sa.select(
                t.dead_letters.c.id,
                t.dead_letters.c.prospect_id,
                t.dead_letters.c.skill,
                t.dead_letters.c.skill_version,
                t.dead_letters.c.reason_kind,
                t.dead_letters.c.reason,
                t.dead_letters.c.attempts,
            )
            .where(t.dead_letters.c.resolved_at.is_(None))
            .order_by(t.dead_letters.c.id)
        )
        with self.store.reading() as c:
            return [dict(row._mapping) for row in c.execute(query)]
