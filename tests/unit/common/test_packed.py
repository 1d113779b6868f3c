"""Rules stored packed: what the collector writes is what the API and the auditor read."""

from __future__ import annotations

from datetime import UTC, datetime

from bson.binary import Binary

from secmonkey.common import storage
from secmonkey.common.rule_usage import PACKED_RULES, UsageSummary

AT = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)


def rule(text: str) -> dict[str, object]:
    return {
        "rule": text,
        "as_of": AT,
        "last_used": AT,
        "hits": 7,
        "status": "used",
        "hll": Binary(bytes(range(8))),
        "networks": [{"source": "198.51.100.0/24", "hits": 7}],
        "days": [{"day": "2026-12-05", "hits": 7}],
        "top_sources": [{"source": "198.51.100.7", "hits": 7}],
    }


def test_a_packed_list_comes_back_equal_with_aware_datetimes_and_bytes() -> None:
    items = [rule("ingress tcp/443 from 0.0.0.0/0"), rule("ingress tcp/22 from 10.0.0.0/8")]
    back = storage.unpack(storage.pack(items))
    assert [i["rule"] for i in back] == [i["rule"] for i in items]
    assert back[0]["as_of"] == AT and back[0]["as_of"].tzinfo is not None
    assert bytes(back[0]["hll"]) == bytes(range(8))
    assert back[1]["networks"] == [{"source": "198.51.100.0/24", "hits": 7}]


def test_a_summary_reads_the_same_packed_or_as_an_array() -> None:
    base = {"_id": "aws:1:eu-west-1:sg-1", "account_id": "1", "region": "eu-west-1", "as_of": AT}
    rules = [rule("ingress tcp/443 from 0.0.0.0/0")]
    packed = UsageSummary.model_validate({**base, PACKED_RULES: storage.pack(rules)})
    plain = UsageSummary.model_validate({**base, "rules": rules})
    assert packed == plain
    (only,) = packed.rules
    assert (only.status, only.hits, only.last_used) == ("used", 7, AT)
