"""pixyproxy on MySQL when the database goes away: at start, and in the middle of traffic.

The database sits behind a `TcpProxy` the test cuts and restores; the service is never
restarted, so every recovery seen here is the service's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.api_client import (
    Call,
    Hammer,
    assert_problem,
    assert_security_headers,
    bearer,
)
from tests.support.mysql import url_with_address
from tests.support.service import ServiceProcess, free_port
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.mysql]

# Small, so that a request meeting a dead database fails fast; the client allows more.
OUTAGE_ENV = {
    "PIXYPROXY_DB_CONNECT_TIMEOUT_S": "1",
    "PIXYPROXY_DB_POOL_TIMEOUT_S": "2",
    "PIXYPROXY_DB_QUERY_TIMEOUT_S": "1",
}
CLIENT_TIMEOUT_S = 8.0
UNKNOWN_GUID = "00000000-0000-0000-0000-000000000000"
CONTENT = "GET /image/{guid}/content"
CONTENT_TTL_S = 1.0
# A stalled database holds each request for its timeouts (a pooled connection's ping, then a
# new connection's handshake: about 2 s here, more on a busy machine), so every worker of the
# hammer may be held that long from the moment of the loss: the outage must outlast that for
# requests started during it to also end during it.
OUTAGE_S = {"cut": 3.0, "stall": 6.0}


def _database_is_unavailable(service: ServiceProcess, key: str) -> None:
    """Liveness holds, readiness and every endpoint that needs the database say 503."""
    with httpx.Client(base_url=service.base_url, timeout=CLIENT_TIMEOUT_S) as http:
        assert http.get("/healthz").status_code == 200
        ready = assert_problem(http.get("/readyz"), 503)
        assert "database" in ready["failing"] and "database" in ready["detail"]
        for response in (
            http.get("/image"),
            http.get(f"/image/{UNKNOWN_GUID}"),
            http.get(f"/image/{UNKNOWN_GUID}/content"),
            # The key cannot be checked without the database: unavailable, not unauthorized.
            http.post("/image", json={"prompt": "in the dark"}, headers=bearer(key)),
        ):
            assert_problem(response, 503)
            assert_security_headers(response)


def test_a_service_started_without_its_database_serves_503s_then_recovers(
    tmp_path: Path, make_mysql_database: Callable[[], str], mysql_proxy: TcpProxy
) -> None:
    database_url = make_mysql_database()  # empty: the service must create the schema itself
    mysql_proxy.cut()
    env = {
        **OUTAGE_ENV,
        "PIXYPROXY_DATABASE_URL": url_with_address(database_url, "127.0.0.1", mysql_proxy.port),
    }
    with ServiceProcess(tmp_path, env) as service:
        service.start()
        assert "database unavailable at start" in service.log()
        _database_is_unavailable(service, key="pxp_0123456789ab_not-a-key-that-exists")

        mysql_proxy.restore()
        # The schema is retried every 2 s in the background.
        service.wait_ready(timeout_s=10)
        key = service.create_key("patient")
        with httpx.Client(base_url=service.base_url, timeout=CLIENT_TIMEOUT_S) as http:
            made = http.post("/image", json={"prompt": "first light"}, headers=bearer(key))
            assert made.status_code == 201, made.text
            guid = made.json()["guid"]
            assert http.get(f"/image/{guid}").status_code == 200
            assert http.get(f"/image/{guid}/content").status_code == 200
            assert [i["guid"] for i in http.get("/image").json()] == [guid]


def test_a_service_whose_database_refuses_connections_starts_not_ready(tmp_path: Path) -> None:
    env = {
        **OUTAGE_ENV,
        "PIXYPROXY_DATABASE_URL": f"mysql+pymysql://pixyproxy@127.0.0.1:{free_port()}/pixyproxy",
    }
    with ServiceProcess(tmp_path, env) as service:
        service.start()
        _database_is_unavailable(service, key="pxp_0123456789ab_not-a-key-that-exists")


def _mixed_traffic(key: str, guids: list[str]) -> Call:
    def call(http: httpx.Client, n: int) -> tuple[str, httpx.Response]:
        guid = guids[n % len(guids)]
        if n % 4 == 0:
            made = http.post("/image", json={"prompt": f"burst {n}"}, headers=bearer(key))
            return "POST /image", made
        if n % 4 == 1:
            return "GET /image", http.get("/image", params={"limit": 10})
        if n % 4 == 2:
            return "GET /image/{guid}", http.get(f"/image/{guid}")
        return CONTENT, http.get(f"/image/{guid}/content")

    return call


@pytest.mark.parametrize("failure", ["cut", "stall"])
def test_a_database_lost_mid_traffic_gives_503s_never_hangs_and_heals_itself(
    failure: str, tmp_path: Path, make_mysql_database: Callable[[], str], mysql_proxy: TcpProxy
) -> None:
    """`cut`: connections drop and new ones are refused. `stall`: the network swallows every
    byte, so only the service's own timeouts can end what is waiting on the database."""
    database_url = make_mysql_database()
    env = {
        **OUTAGE_ENV,
        "PIXYPROXY_DATABASE_URL": url_with_address(database_url, "127.0.0.1", mysql_proxy.port),
        "PIXYPROXY_CONTENT_CACHE_TTL_S": str(CONTENT_TTL_S),
    }
    with ServiceProcess(tmp_path, env) as service:
        key = service.create_key("hammer")
        service.start()
        with httpx.Client(base_url=service.base_url, timeout=CLIENT_TIMEOUT_S) as http:
            seeded = [
                http.post("/image", json={"prompt": f"seed {n}"}, headers=bearer(key))
                for n in range(3)
            ]
        guids = [response.json()["guid"] for response in seeded]
        traffic = _mixed_traffic(key, guids)
        with Hammer(service.base_url, traffic, workers=8, timeout_s=CLIENT_TIMEOUT_S) as hammer:
            time.sleep(1.0)
            mysql_proxy.cut() if failure == "cut" else mysql_proxy.stall()
            # A proxy thread already forwarding may pass one more chunk; after this, nothing.
            time.sleep(0.2)
            lost_at = time.monotonic()
            time.sleep(OUTAGE_S[failure])
            restored_at = time.monotonic()
            mysql_proxy.restore()
            time.sleep(3.0)
        outcomes = hammer.stop()

    # Every request got an answer in time (a transport error here is a client timeout).
    assert [o for o in outcomes if o.status is None] == []
    assert {o.status for o in outcomes} == {200, 201, 503}
    assert all(o.content_type == "application/problem+json" for o in outcomes if o.status == 503)
    during = [o for o in outcomes if lost_at < o.started and o.finished < restored_at]
    assert during and all(o.status == 503 for o in during if o.label != CONTENT)
    # Content facts read before the loss are kept for the TTL and need no database till then.
    assert all(o.status in (200, 503) for o in during if o.label == CONTENT)
    # (A stalled database holds requests for seconds, so then few or none fit in here.)
    late = [o for o in during if o.label == CONTENT and o.started > lost_at + CONTENT_TTL_S]
    assert all(o.status == 503 for o in late)
    in_flight = [o for o in outcomes if o.started < lost_at < o.finished]
    assert in_flight and all(o.status in (200, 201, 503) for o in in_flight)
    # The same process, never restarted, serves again once the database is back.
    healed = [o for o in outcomes if o.started > restored_at + 1.0]
    assert healed and all(o.status in (200, 201) for o in healed)
