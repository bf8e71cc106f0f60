"""Per-hypothesis assets: the hypothesis file itself, and discovery over it.

One pair of assets per hypothesis file, so the asset graph shows which hypothesis found which
prospects. Discovery registers the prospect partitions it finds; adding a key that exists is a
no-op, so re-running discovery adds nothing.
"""

import dagster as dg

from gtm_pipeline.defs.location import hypotheses, skill_catalog
from gtm_pipeline.defs.partitions import register_partitions
from gtm_pipeline.defs.pools import pool_for
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.pipeline.discover import SKILL as DISCOVER_SKILL
from gtm_pipeline.pipeline.discover import discover

DISCOVERY_GROUP = "discovery"


def asset_name(slug: str) -> str:
    return slug.replace("-", "_")


def hypothesis_key(slug: str) -> dg.AssetKey:
    return dg.AssetKey(["hypothesis", asset_name(slug)])


def discovery_key(slug: str) -> dg.AssetKey:
    return dg.AssetKey(["discovery", asset_name(slug)])


def build_hypothesis_assets(hypothesis: Hypothesis) -> list[dg.AssetsDefinition]:
    """The hypothesis asset and its discovery asset."""
    slug = hypothesis.slug
    discover_skill = skill_catalog().skill(DISCOVER_SKILL)

    @dg.asset(
        key=hypothesis_key(slug),
        group_name=DISCOVERY_GROUP,
        code_version=f"{hypothesis.version}+{hypothesis.content_hash[:8]}",
        description=hypothesis.title,
        kinds={"markdown"},
    )
    def hypothesis_asset(context: dg.AssetExecutionContext, gtm: GtmResource) -> dg.MaterializeResult:
        current = gtm.services.hypotheses[slug]
        changed = gtm.services.store.prospects.upsert_hypothesis(
            slug, current.title, current.version, current.content_hash
        )
        return dg.MaterializeResult(
            metadata={
                "slug": slug,
                "version": current.version,
                "content_hash": current.content_hash,
                "signals": ", ".join(s.type for s in current.signals),
                "rubric_criteria": len(current.rubric),
                "qualify_threshold": current.qualify_threshold,
                "changed": changed,
            },
            data_version=dg.DataVersion(current.content_hash),
        )

    @dg.asset(
        key=discovery_key(slug),
        deps=[hypothesis_key(slug)],
        group_name=DISCOVERY_GROUP,
        code_version=discover_skill.code_version,
        pool=pool_for(DISCOVER_SKILL),
        description=f"Prospects showing a recent behavioural signal for: {hypothesis.title}",
        kinds={"sqlite"},
    )
    def discovery_asset(context: dg.AssetExecutionContext, gtm: GtmResource) -> dg.MaterializeResult:
        services = gtm.services
        report = discover(services, services.hypotheses[slug], run_id=context.run.run_id)
        new_partitions = register_partitions(context.instance, report.prospect_ids)
        context.log.info(
            f"{slug}: {report.candidates} candidates, {len(report.registered)} new prospects, "
            f"{new_partitions} new partitions"
        )
        return dg.MaterializeResult(
            metadata={
                "hypothesis": slug,
                "skill": discover_skill.name,
                "skill_version": discover_skill.version,
                "group": discover_skill.group.spec.name,
                **{
                    key: dg.MetadataValue.json(value) if isinstance(value, dict) else value
                    for key, value in report.metadata().items()
                },
                "new_partitions": new_partitions,
                "registered_ids": dg.MetadataValue.json(report.registered),
                "journal_ids": dg.MetadataValue.json(report.journal_ids),
            }
        )

    return [hypothesis_asset, discovery_asset]


hypothesis_assets: list[dg.AssetsDefinition] = [
    asset for hypothesis in hypotheses().values() for asset in build_hypothesis_assets(hypothesis)
]
discovery_keys: list[dg.AssetKey] = [discovery_key(slug) for slug in hypotheses()]
