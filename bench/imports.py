"""Benchmark: ``gtm import`` of an Apollo People export with 100,000 rows.

Writes a synthetic export (Apollo's real header set; a company every 4 rows, so rows merge by
domain; a share of free-mail, guessed, role and malformed addresses), then times reading and
planning and the one-transaction write into a fresh SQLite store, and reports peak memory
(``ru_maxrss``). Goal: <= 30 s and < 500 MB. Prints figures; asserts nothing.

    python bench/imports.py --rows 100000
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

HEADERS = [
    "First Name", "Last Name", "Title", "Company", "Company Name for Emails", "Email", "Email Status",
    "Email Confidence", "Seniority", "Departments", "Work Direct Phone", "Mobile Phone", "Industry",
    "Person Linkedin Url", "Company Linkedin Url", "City", "State", "Country", "Website", "Annual Revenue",
    "Technologies",
]  # fmt: skip


def write_export(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for i in range(rows):
            company = i // 4
            domain = f"company-{company}.example"
            local = "info" if i % 50 == 0 else f"person.{i}"
            email = f"{local}@{domain}"
            status = "Verified"
            if i % 37 == 0:
                email = f"person{i}@gmail.com"
            elif i % 41 == 0:
                status = "Guessed"
            elif i % 97 == 0:
                email = "not an address"
            website = "" if i % 37 == 0 else f"https://www.{domain}/"
            writer.writerow([
                f"First{i}", f"Last{i}", "Head of Compliance", f"Company {company}", f"Company {company}",
                email, status, "", "Director", "Compliance", "", "", "Hospital & Health Care",
                f"http://www.linkedin.com/in/person-{i}", "", "Pune", "", "India", website, "", "Okta",
            ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    from gtm_pipeline.config import STARTER
    from gtm_pipeline.domain.clock import FixedClock
    from gtm_pipeline.domain.hypothesis import Hypothesis
    from gtm_pipeline.pipeline.hypotheses import load_hypotheses
    from gtm_pipeline.pipeline.importing import apply_plan, read_plan
    from gtm_pipeline.store import Store

    hypothesis: Hypothesis = next(iter(load_hypotheses(STARTER / "hypotheses").values()))
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "apollo-people.csv"
        write_export(export, args.rows)
        size_mb = export.stat().st_size / 1e6
        store = Store.open(
            f"sqlite:///{tmp}/gtm.sqlite", clock=FixedClock(dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
        )
        started = time.perf_counter()
        plan = read_plan(export, [])
        planned = time.perf_counter()
        report = apply_plan(store, plan, hypothesis, {}, actor="operator:bench")
        done = time.perf_counter()
        again = apply_plan(store, read_plan(export, []), hypothesis, {}, actor="operator:bench")
        repeated = time.perf_counter()
        store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"import benchmark: {args.rows} Apollo rows ({size_mb:.1f} MB)")
    print(f"  read + plan        {planned - started:6.1f} s")
    print(f"  write (1 txn)      {done - planned:6.1f} s")
    print(f"  total              {done - started:6.1f} s   (goal <= 30 s)")
    print(f"  peak memory        {peak_mb:6.0f} MB  (goal < 500 MB)")
    print(
        f"  imported {len(report.imported)} companies, merged {len(report.merged)} rows, "
        f"skipped {len(report.skipped)}, {report.contacts_added} contacts, "
        f"{len(report.warnings)} notes"
    )
    print(
        f"  the same file again: {repeated - done:.1f} s, {len(again.imported)} imported, "
        f"{again.contacts_added} contacts added"
    )


if __name__ == "__main__":
    main()
