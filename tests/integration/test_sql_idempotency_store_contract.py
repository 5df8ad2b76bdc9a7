"""The IdempotencyStore contract over memory, SQLite and MySQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from pixyproxy.adapters.driven.memory import MemoryIdempotencyStore
from pixyproxy.adapters.driven.sql import SqlIdempotencyStore
from pixyproxy.domain.models import IdempotencyRecord
from pixyproxy.ports.idempotency_store import IdempotencyStore
from tests.support.mysql import CONTRACT_BACKENDS, contract_engine

T0 = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
LONG_AGO = T0 - timedelta(hours=1)


def record(key: str = "k", *, at: datetime = T0, fingerprint: str = "a" * 64) -> IdempotencyRecord:
    return IdempotencyRecord("alice", key, fingerprint, at, at + timedelta(hours=24))


@pytest.fixture(params=CONTRACT_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> IdempotencyStore:
    if request.param == "memory":
        return MemoryIdempotencyStore()
    return SqlIdempotencyStore(contract_engine(request, tmp_path))


def test_first_claim_wins_and_later_ones_see_it(store: IdempotencyStore) -> None:
    assert store.claim(record(), LONG_AGO) is None
    held = store.claim(record(at=T0 + timedelta(seconds=1), fingerprint="b" * 64), LONG_AGO)
    assert held == record()
    assert held is not None and held.created_at.microsecond == 123456 and not held.done


def test_complete_records_the_image(store: IdempotencyStore) -> None:
    store.claim(record(), LONG_AGO)
    guid = uuid4()
    store.complete("alice", "k", guid)
    found = store.find("alice", "k")
    assert found is not None and found.image_guid == guid and found.done


def test_keys_are_per_author_and_case_sensitive(store: IdempotencyStore) -> None:
    store.claim(record("Key"), LONG_AGO)
    assert store.claim(record("key"), LONG_AGO) is None
    other = IdempotencyRecord("bob", "Key", "c" * 64, T0, T0 + timedelta(hours=1))
    assert store.claim(other, LONG_AGO) is None


def test_release_frees_an_unfinished_claim_only(store: IdempotencyStore) -> None:
    store.claim(record("open"), LONG_AGO)
    store.release("alice", "open")
    assert store.find("alice", "open") is None
    store.claim(record("done"), LONG_AGO)
    store.complete("alice", "done", uuid4())
    store.release("alice", "done")
    assert store.find("alice", "done") is not None


def test_expired_and_stale_claims_are_taken_over(store: IdempotencyStore) -> None:
    store.claim(record("expired", at=T0 - timedelta(days=2)), LONG_AGO)
    store.complete("alice", "expired", uuid4())
    assert store.claim(record("expired"), LONG_AGO) is None
    assert store.find("alice", "expired") == record("expired")

    store.claim(record("stale", at=T0 - timedelta(hours=2)), LONG_AGO)
    assert store.claim(record("stale"), LONG_AGO) is None
    assert store.find("alice", "stale") == record("stale")

    store.claim(record("young", at=T0 - timedelta(minutes=2)), LONG_AGO)
    held = store.claim(record("young"), LONG_AGO)
    assert held is not None and held.created_at == T0 - timedelta(minutes=2)


def test_purge_counts_then_deletes_only_expired_records(store: IdempotencyStore) -> None:
    store.claim(record("expired", at=T0 - timedelta(days=2)), LONG_AGO)
    store.complete("alice", "expired", uuid4())
    store.claim(record("live", at=T0 - timedelta(hours=1)), LONG_AGO)

    assert store.purge_expired(T0, apply=False) == 1
    assert store.find("alice", "expired") is not None
    assert store.purge_expired(T0, apply=True) == 1
    assert store.find("alice", "expired") is None
    assert store.find("alice", "live") == record("live", at=T0 - timedelta(hours=1))
    assert store.purge_expired(T0, apply=True) == 0


def race_for(store: IdempotencyStore, key: str, contenders: int = 8) -> list[int]:
    """Let `contenders` threads claim `key` at once; return those whose claim won."""
    winners: list[int] = []
    barrier = threading.Barrier(contenders)

    def claim(n: int) -> None:
        barrier.wait()
        if store.claim(record(key, at=T0 + timedelta(microseconds=n)), LONG_AGO) is None:
            winners.append(n)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return winners


def test_racing_claims_have_exactly_one_winner(store: IdempotencyStore) -> None:
    assert len(race_for(store, "race")) == 1


def test_racing_takeovers_of_a_stale_claim_have_one_winner(store: IdempotencyStore) -> None:
    store.claim(record("stale", at=T0 - timedelta(hours=3)), LONG_AGO)
    assert len(race_for(store, "stale")) == 1
