"""The figures of one eval, whether they clear the group's bar, and the journal record.

Quality: accuracy (cases meeting every expectation), per-label precision and recall for
judging skills, contract and evidence pass rates over the skill's calls, policy violations
(what could never be sent: links outside the allowlist, hidden instructions followed, a
missing notice, a stop request missed or invented). Cost: tokens from the scratch store's
ledger (every call, retries included), priced at list prices; the cache-read share is the
part of the prompt tokens read from the provider's cache. Latency: p50 / p95 of the cases
that called the skill. The record is journaled under ``skill:<name>`` with the skill's
version, code version (text hash) and model, so a new version starts unproven.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from gtm_pipeline.evals.run import EvalRun
from gtm_pipeline.skills.catalog import GroupSpec
from gtm_pipeline.store import Store

EVAL_KIND = "skill_eval"
MAX_FAILURES_KEPT = 50


def pct(value: float | None) -> str:
    """A rate as a percentage, rounded down: 242 of 243 is 99.5 %, never a rounded-up 100 %."""
    if value is None:
        return "-"
    tenths = math.floor(round(value * 1000, 6)) / 10
    return f"{tenths:.0f}%" if tenths == int(tenths) else f"{tenths:.1f}%"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (no interpolation: a p95 is a latency some case really had)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 1)


def label_scores(pairs: list[tuple[str, str]]) -> dict[str, dict[str, float | int | None]]:
    """Precision, recall and support per label from (expected, got) pairs."""
    labels = sorted({e for e, _ in pairs} | {g for _, g in pairs})
    scores: dict[str, dict[str, float | int | None]] = {}
    for label in labels:
        tp = sum(1 for e, g in pairs if e == label and g == label)
        predicted = sum(1 for _, g in pairs if g == label)
        support = sum(1 for e, _ in pairs if e == label)
        scores[label] = {"precision": _rate(tp, predicted), "recall": _rate(tp, support), "support": support}
    return scores


def summarize(run: EvalRun) -> dict[str, Any]:
    """Every figure of the eval as plain JSON (what ``--json`` prints and the journal keeps)."""
    skill, cases = run.skill, run.cases
    called = [c for c in cases if c.skill_called]
    pairs = [(c.judgment.expected, c.judgment.got) for c in cases if c.judgment.expected is not None]
    tokens = Counter[str]()
    calls, cost = 0, 0.0
    models = set()
    for row in run.spend:
        calls += int(row["calls"])
        cost += float(row["cost_usd"])
        models.add(f"{row['provider']}/{row['model']}")
        for key in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
            tokens[key.removesuffix("_tokens")] += int(row[key])
    prompt = tokens["input"] + tokens["cache_read"] + tokens["cache_write"]
    latencies = [c.latency_ms for c in called if c.latency_ms is not None]
    langs = Counter(c.lang for c in cases)
    return {
        "skill": skill.name,
        "version": skill.version,
        "code_version": skill.code_version,
        "group": skill.group.spec.name,
        "set_hash": run.eval_set.set_hash,
        "provider_override": run.provider_override,
        "models": sorted(models),
        "cases": len(cases),
        "languages": dict(sorted(langs.items())),
        "passed_cases": sum(1 for c in cases if c.passed),
        "accuracy": _rate(sum(1 for c in cases if c.passed), len(cases)),
        "labels": label_scores([(str(e), str(g)) for e, g in pairs]) if pairs else {},
        "skill_calls": len(called),
        "decided_by_rules": len(cases) - len(called),
        "contract_rate": _rate(sum(1 for c in called if c.contract_ok), len(called)),
        "evidence_rate": _rate(sum(1 for c in called if c.evidence_ok), len(called)),
        "dead_letters": sum(1 for c in called if c.failure),
        "fallbacks": sum(1 for c in called if c.fallback),
        "policy_violations": sum(len(c.judgment.violations) for c in cases),
        "stop_errors": sum(1 for c in cases if "stop-class error" in c.judgment.violations),
        "provider_calls": calls,
        "tokens": dict(tokens),
        "cost_usd": round(cost, 6),
        "cache_read_share": _rate(tokens["cache_read"], prompt),
        "latency_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95)},
        "failures": [
            {
                "id": c.case_id,
                "lang": c.lang,
                "problems": [
                    *c.judgment.problems[:5],
                    *([f"dead letter: {c.failure}"] if c.failure and c.passed else []),
                ],
            }
            for c in cases
            if not c.passed or c.failure
        ][:MAX_FAILURES_KEPT],
    }


def bar_problems(summary: dict[str, Any], group: GroupSpec) -> list[str]:
    """Where ``summary`` falls short of ``group``'s eval bar, in words (empty: it passes)."""
    problems = []

    def below(name: str, value: float | None, floor: float) -> None:
        if value is None:
            return
        if value < floor:
            problems.append(f"{name} {pct(value)} < {pct(floor)}")

    below("accuracy", summary["accuracy"], group.eval_min_accuracy)
    below("contract rate", summary["contract_rate"], group.eval_min_contract_rate)
    below("evidence rate", summary["evidence_rate"], group.eval_min_evidence_rate)
    if summary["policy_violations"] > group.eval_max_policy_violations:
        problems.append(
            f"{summary['policy_violations']} policy violation(s) > {group.eval_max_policy_violations}"
        )
    return problems


def verdict(run: EvalRun) -> dict[str, Any]:
    """The summary with the group's bar applied."""
    summary = summarize(run)
    group = run.skill.group.spec
    problems = bar_problems(summary, group)
    summary["bar"] = {
        "min_accuracy": group.eval_min_accuracy,
        "min_contract_rate": group.eval_min_contract_rate,
        "min_evidence_rate": group.eval_min_evidence_rate,
        "max_policy_violations": group.eval_max_policy_violations,
    }
    summary["passed"] = not problems
    summary["bar_problems"] = problems
    return summary


def journal_eval(store: Store, summary: dict[str, Any], *, actor: str) -> str:
    """Record the eval under ``skill:<name>``: its figures, cost included (eval calls run on a scratch
    store, so they never count against a pipeline group's daily spend cap)."""
    return store.journal.append(
        subject=f"skill:{summary['skill']}", kind=EVAL_KIND, actor=actor, payload=summary
    )


def latest_eval(store: Store, skill: str) -> dict[str, Any] | None:
    """The newest eval recorded for ``skill`` (any version), as journaled."""
    for entry in reversed(store.journal.entries(f"skill:{skill}")):
        if entry.kind == EVAL_KIND:
            return dict(entry.payload) | {"entry_id": entry.entry_id, "at": entry.created_at.isoformat()}
    return None


def table(summary: dict[str, Any]) -> str:
    """The eval as the terminal shows it."""
    lines = [
        f"gtm eval {summary['skill']}@{summary['version']} ({summary['group']}) "
        f"on {', '.join(summary['models']) or 'no provider call'}: {summary['cases']} case(s) "
        f"in {', '.join(f'{k} {v}' for k, v in summary['languages'].items())}",
        f"  accuracy           {pct(summary['accuracy'])} ({summary['passed_cases']} of {summary['cases']} "
        "cases meet every expectation)",
    ]
    if summary["labels"]:
        lines.append(f"  {'label':<22} {'precision':>9} {'recall':>7} {'support':>8}")
        for label, s in summary["labels"].items():
            lines.append(f"  {label:<22} {pct(s['precision']):>9} {pct(s['recall']):>7} {s['support']:>8}")
    tokens = summary["tokens"]
    latency = summary["latency_ms"]
    lines += [
        f"  skill calls        {summary['skill_calls']} ({summary['decided_by_rules']} decided by rules), "
        f"{summary['dead_letters']} dead letter(s), {summary['fallbacks']} fallback(s)",
        f"  contract rate      {pct(summary['contract_rate'])}",
        f"  evidence rate      {pct(summary['evidence_rate'])}",
        f"  policy violations  {summary['policy_violations']}"
        + (f" (stop-class errors {summary['stop_errors']})" if summary["stop_errors"] else ""),
        f"  tokens             in {tokens.get('input', 0)}, out {tokens.get('output', 0)}, "
        f"cache read {tokens.get('cache_read', 0)}, cache write {tokens.get('cache_write', 0)} "
        f"({summary['provider_calls']} call(s))",
        f"  cost (list prices) ${summary['cost_usd']:.4f}",
        f"  cache-read share   {pct(summary['cache_read_share'])}",
        f"  latency            p50 {latency['p50'] if latency['p50'] is not None else '-'} ms, "
        f"p95 {latency['p95'] if latency['p95'] is not None else '-'} ms",
    ]
    if "passed" in summary:
        lines.append(
            "  verdict            "
            + (
                "PASS (meets the group's eval bar)"
                if summary["passed"]
                else "FAIL: " + "; ".join(summary["bar_problems"])
            )
        )
    for failure in summary["failures"][:15]:
        lines.append(f"  - {failure['id']} [{failure['lang']}]: {'; '.join(failure['problems'])[:200]}")
    return "\n".join(lines)
