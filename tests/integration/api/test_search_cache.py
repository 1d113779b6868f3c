"""The search reader keeps what it read under the marks the index writer sets: a search
answers from what it kept only while nothing it covers has changed, and sees every change
the writer files (a new rule, a removed one, a new account-region, a new range) at once.
Real server, the auditor's own `IndexWriter`; commands counted by a PyMongo listener."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import pytest
import pytest_asyncio

from secmonkey.api.pagination import decode_cursor
from secmonkey.api.queries.search import _KeyCursor, _result, search_json, search_rules
from secmonkey.api.schemas.search import SearchResult
from secmonkey.common import storage
from secmonkey.common.canonical import CanonicalGroup, Rule
from secmonkey.common.cidr import parse_network
from secmonkey.common.messages import utcnow
from secmonkey.common.search_index import marks
from secmonkey.common.search_index.cache import cache_of
from secmonkey.common.search_index.format import POSTINGS, posting_id, range_id
from secmonkey.common.search_index.reader import match_fields, search_postings
from secmonkey.common.search_index.writer import IndexWriter
from secmonkey.common.storage import Database, Document, Store
from tests.integration.finds import Finds

pytestmark = pytest.mark.integration

ACCOUNT, OTHER = "111111111111", "222222222222"


def rule(source: str, port: int = 22) -> Rule:
    kind = "cidr6" if ":" in source else "cidr4"
    return Rule(
        direction="ingress",
        protocol="tcp",
        from_port=port,
        to_port=port,
        source_kind=kind,
        source=source,
    )


@dataclass
class Change:
    kind: str
    key: str
    seq: int
    config: CanonicalGroup
    observed_at: datetime
    account_id: str
    region: str
    previous: Document | None


class Estate:
    """Groups filed through the auditor's `IndexWriter`, revision by revision."""

    def __init__(self, store: Store) -> None:
        self.writer = IndexWriter(store)
        self.current: dict[str, tuple[int, CanonicalGroup]] = {}

    async def put(self, account: str, group_id: str, *rules: Rule, kind: str = "") -> Change:
        key = f"aws:{account}:eu-west-1:{group_id}"
        seq, before = self.current.get(key, (0, None))
        config = CanonicalGroup(
            group_id=group_id,
            name=f"n-{group_id}",
            vpc_id="vpc-1",
            owner_id=account,
            rules=list(rules),
        ).normalised()
        previous = {"state": "active", "config": before.model_dump()} if before else None
        change = Change(
            kind or ("changed" if before else "created"),
            key,
            seq + 1,
            config,
            utcnow(),
            account,
            "eu-west-1",
            previous,
        )
        await self.writer.file([change], lambda _: "acct")
        self.current[key] = (seq + 1, config)
        return change


@pytest_asyncio.fixture
async def reader_db(db: Database, mongo_url: str) -> AsyncIterator[tuple[Database, Finds]]:
    """The same database through a client of its own (the API's process), its finds
    counted."""
    commands = Finds()
    client = storage.connect(mongo_url, event_listeners=[commands])
    await storage.detect(client)
    yield client[db.name], commands
    await client.close()


async def found(db: Database, ip: str) -> set[tuple[str, str]]:
    hits, _ = await search_postings(db, parse_network(ip), "contains", None, None, None, None, 1000)
    return {(match_fields(*h)["group_id"], match_fields(*h)["rule"]["source"]) for h in hits}


async def test_a_repeated_search_reads_only_the_marks_and_sees_each_change_at_once(
    db: Database, reader_db: tuple[Database, Finds]
) -> None:
    estate = Estate(Store(db))
    reader, commands = reader_db
    await estate.put(ACCOUNT, "sg-a", rule("10.0.0.0/8"), rule("0.0.0.0/0", 443))
    assert await found(reader, "10.1.2.3") == {("sg-a", "10.0.0.0/8"), ("sg-a", "0.0.0.0/0")}

    commands.finds.clear()
    assert await found(reader, "10.1.2.3") == {("sg-a", "10.0.0.0/8"), ("sg-a", "0.0.0.0/0")}
    assert commands.finds == [marks.MARKS]  # the directory's and the place's, in one read

    # A rule removed from a kept posting, one added under a kept range: seen at once.
    await estate.put(ACCOUNT, "sg-a", rule("10.0.0.0/8"), rule("10.0.0.0/8", 3389))
    assert await found(reader, "10.1.2.3") == {("sg-a", "10.0.0.0/8")}
    hits, _ = await search_postings(
        reader, parse_network("10.1.2.3"), "contains", None, None, None, None, 10
    )
    assert [match_fields(*h)["rule"]["from_port"] for h in hits] == [22, 3389]

    # A new account-region under a kept range (the directory changes), and a new range.
    await estate.put(OTHER, "sg-b", rule("10.0.0.0/8"), rule("10.1.0.0/16"))
    assert await found(reader, "10.1.2.3") == {
        ("sg-a", "10.0.0.0/8"),
        ("sg-b", "10.0.0.0/8"),
        ("sg-b", "10.1.0.0/16"),
    }
    # A group deleted.
    await estate.put(OTHER, "sg-b", kind="deleted")
    assert await found(reader, "10.1.2.3") == {("sg-a", "10.0.0.0/8")}
    # A new range (and prefix length) in the first place, whose postings of every
    # candidate range were read and kept (absent ones as empty) while guessing it first.
    await estate.put(ACCOUNT, "sg-a", rule("10.0.0.0/8"), rule("10.1.2.0/24"))
    assert await found(reader, "10.1.2.3") == {("sg-a", "10.0.0.0/8"), ("sg-a", "10.1.2.0/24")}
    commands.finds.clear()
    assert await found(reader, "10.1.2.3") == {("sg-a", "10.0.0.0/8"), ("sg-a", "10.1.2.0/24")}
    # the directory's mark with the first place's, then the other place's (still walked:
    # a directory only ever grows), nothing else
    assert commands.finds == [marks.MARKS] * 2


async def test_the_writer_sets_the_marks_after_each_filing_replays_included(
    db: Database,
) -> None:
    estate = Estate(Store(db))
    change = await estate.put(ACCOUNT, "sg-a", rule("10.0.0.0/8"))
    place = f"aws:{ACCOUNT}:eu-west-1"
    first = await marks.token(db, place), await marks.token(db, marks.DIRECTORY)
    assert None not in first
    # The same revision filed again (a redelivered message): nothing to edit, but the
    # marks are set anew, so a reader cannot keep what a crashed writer left unmarked.
    await estate.writer.file([change], lambda _: "acct")
    assert await marks.token(db, place) != first[0]
    # A change within known ranges leaves the directory's mark as it was.
    directory = await marks.token(db, marks.DIRECTORY)
    await estate.put(ACCOUNT, "sg-a", rule("10.0.0.0/8", 23))
    assert await marks.token(db, marks.DIRECTORY) == directory


async def test_without_marks_nothing_is_kept(
    db: Database, reader_db: tuple[Database, Finds]
) -> None:
    """Postings written without marks (an older writer): every search reads them."""
    estate = Estate(Store(db))
    reader, commands = reader_db
    await estate.put(ACCOUNT, "sg-a", rule("10.0.0.0/8"))
    await db[marks.MARKS].delete_many({})
    assert await found(reader, "10.1.2.3") == {("sg-a", "10.0.0.0/8")}
    doc_id = posting_id(
        range_id("ingress", parse_network("10.0.0.0/8")), f"aws:{ACCOUNT}:eu-west-1"
    )
    await db[POSTINGS].update_one({"_id": doc_id}, {"$set": {"e": ""}})
    assert await found(reader, "10.1.2.3") == set()
    commands.finds.clear()
    await found(reader, "10.1.2.3")
    assert POSTINGS in commands.finds


async def test_what_is_kept_stays_within_its_bound(
    db: Database, reader_db: tuple[Database, Finds]
) -> None:
    estate = Estate(Store(db))
    reader, _ = reader_db
    for n in range(6):
        await estate.put(f"{n:012d}", f"sg-{n}", *(rule("10.0.0.0/8", p) for p in range(1, 11)))
    cache = cache_of(reader.client, reader.name)
    cache.max_size = 25
    hits, _ = await search_postings(
        reader, parse_network("10.1.2.3"), "contains", None, None, None, None, 1000
    )
    assert len(hits) == 60
    assert cache.size <= 25 or len(cache.entries) == 1
    assert sum(k.size for k in cache.entries.values()) == cache.size


async def test_the_rest_answer_written_from_kept_json_is_the_models_answer(
    db: Database, reader_db: tuple[Database, Finds]
) -> None:
    """`search_json` writes each match from JSON kept per hit; the page must be exactly
    what the `SearchResult` model says, names (none, non-ASCII, quotes) and cursors too."""
    estate = Estate(Store(db))
    reader, _ = reader_db
    await db.accounts.insert_many([{"_id": ACCOUNT, "name": 'Produção "blue" ✓'}, {"_id": OTHER}])
    for n in range(5):
        await estate.put(ACCOUNT, f"sg-{n}", rule("10.0.0.0/8", n + 1), rule("0.0.0.0/0", 443))
        await estate.put(OTHER, f"sg-x{n}", rule("10.1.0.0/16", n + 1))
    capabilities = await storage.detect(reader.client)
    cursor: str | None = None
    pages = 0
    while True:
        body = await search_json(
            reader,
            capabilities,
            parse_network("10.1.2.3"),
            "contains",
            searched="10.1.2.3",
            cursor=cursor,
            limit=3,
        )
        position = decode_cursor(cursor, _KeyCursor)
        page = await search_rules(
            reader,
            capabilities,
            parse_network("10.1.2.3"),
            "contains",
            after_key=position.k if position else None,
            limit=3,
        )
        expected = _result("10.1.2.3", "contains", page)
        assert json.loads(body) == json.loads(expected.model_dump_json())
        assert SearchResult.model_validate_json(body) == expected
        pages += 1
        cursor = expected.next_cursor
        if cursor is None:
            break
    assert pages == 7  # 5 groups x 2 rules, then 5 x 1, three rules a page at group ends
    names = {r["account_name"] for r in json.loads(body)["results"]}
    assert names == {None}
