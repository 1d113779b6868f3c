"""Standard formats benchmark: the per-finding cost of OCSF and ASFF, in memory.

Builds N issue documents in the auditor's shape (`secmonkey.common.documents.Issue`) and
times, for each: the OCSF Detection Finding (built and validated by py-ocsf-models, then
serialised as the export streams it), the OCSF Compliance Finding, and the ASFF finding
the Security Hub export sends. No database and no AWS: this is the CPU floor of
`GET /api/v1/export/ocsf` and of a `BatchImportFindings` batch.

Run: `uv run --frozen python bench/standards/run.py --issues 20000`.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from secmonkey.api.queries.ocsf import finding
from secmonkey.collector.securityhub.asff import to_asff
from secmonkey.common.documents import Issue

TAGS = ["CIS AWS Foundations 5.2", "PCI DSS 4.0 1.3.1", "NIST 800-53 rev 5 SC-7", "SOC 2 CC6.6"]


def issues(n: int) -> list[Issue]:
    at = datetime(2026, 6, 1, tzinfo=UTC)
    statuses = ["open", "fixed", "justified", "deleted"]
    return [
        Issue(
            id=f"{i:032x}",
            key=f"aws:111111111111:eu-west-1:sg-{i:017x}",
            account_id="111111111111",
            region="eu-west-1",
            group_id=f"sg-{i:017x}",
            group_name=f"group-{i}",
            vpc_id="vpc-1",
            rule_id="internet-admin-port",
            rule_text="ingress tcp/22 from 0.0.0.0/0",
            severity="high",
            severity_rank=3,
            message="ingress tcp/22 from 0.0.0.0/0: administrative port 22 open to the internet",
            compliance=TAGS,
            status=statuses[i % 4],
            opened_at=at,
            last_seen=at + timedelta(hours=1),
            fixed_at=at + timedelta(hours=2) if i % 4 == 1 else None,
        )  # fmt: skip
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--issues", type=int, default=20_000)
    args = parser.parse_args()
    docs = issues(args.issues)
    rates: dict[str, float] = {}
    for kind in ("detection", "compliance"):
        start = time.perf_counter()
        size = 0
        for issue in docs:
            size += len(
                finding(kind, issue, "Admin port", TAGS, "prod").model_dump_json(exclude_none=True)
            )  # type: ignore[arg-type]
        took = time.perf_counter() - start
        print(
            f"ocsf {kind}: {args.issues / took:,.0f} findings/s, {size / args.issues:,.0f} B each"
        )
    raw = [d.to_mongo() for d in docs]
    now = datetime.now(UTC)
    start = time.perf_counter()
    for doc in raw:
        to_asff(doc, region="eu-west-1", title="Admin port", tags=TAGS, now=now)
    took = time.perf_counter() - start
    print(f"asff: {args.issues / took:,.0f} findings/s")
    print(
        f"RESULT ocsf_detection_findings_per_s={rates['detection']:.0f} "
        f"asff_findings_per_s={args.issues / took:.0f}"
    )


if __name__ == "__main__":
    main()
