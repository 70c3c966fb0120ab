"""The member table: forgetting members, taking them back only when they beat
again, and reporting each change to a listener."""

from __future__ import annotations

import logging
import time

from ants.comm.membership import (
    DEAD,
    EARLY_CHANGES_KEPT,
    FORGOTTEN_KEPT_FACTOR,
    Member,
    MemberChange,
    MemberTable,
)

PEER = "b" * 16


def make_table() -> MemberTable:
    return MemberTable("a" * 16, "127.0.0.1:1", suspect_after=1.0, dead_after=2.0,
                       forget_after=5.0)


def entry(incarnation: int, heartbeat: int, left: bool = False) -> Member:
    return Member(PEER, "127.0.0.1:2", incarnation, heartbeat, left)


def silence(table: MemberTable, seconds: float) -> None:
    """Make the peer's pair look as if it last rose `seconds` ago."""
    member = table.get(PEER)
    assert member is not None
    member.last_rise = time.monotonic() - seconds


def test_silent_member_dead_then_forgotten():
    table = make_table()
    table.merge([entry(100, 7)])
    silence(table, 3.0)
    table.judge()
    assert table.get(PEER).judged == DEAD

    silence(table, 6.0)
    table.judge()
    assert table.get(PEER) is None
    assert [m.node_id for m in table.peers("alive", "suspect", "dead", "left")] == []


def test_stale_entry_keeps_member_forgotten():
    table = make_table()
    table.merge([entry(100, 7)])
    silence(table, 6.0)
    table.judge()

    for stale in (entry(100, 7), entry(100, 3), entry(99, 50)):
        table.merge([stale])
        assert table.get(PEER) is None


def test_higher_heartbeat_restores_member():
    table = make_table()
    table.merge([entry(100, 7)])
    silence(table, 6.0)
    table.judge()

    table.merge([entry(100, 8)])
    member = table.get(PEER)
    assert member is not None
    assert member.heartbeat == 8
    assert [m.node_id for m in table.peers("alive")] == [PEER]


def test_restart_restores_forgotten_member():
    table = make_table()
    table.merge([entry(100, 7)])
    silence(table, 6.0)
    table.judge()

    table.merge([entry(200, 1)])
    assert table.get(PEER).incarnation == 200
    assert [m.node_id for m in table.peers("alive")] == [PEER]


def test_forgotten_version_expires_later():
    table = make_table()
    table.merge([entry(100, 7)])
    silence(table, 6.0)
    table.judge()
    node_id = PEER
    version, forgotten_at = table._forgotten[node_id]
    table._forgotten[node_id] = (version, forgotten_at - 0.9 * FORGOTTEN_KEPT_FACTOR * 5.0)
    table.judge()
    assert node_id in table._forgotten

    table._forgotten[node_id] = (version, forgotten_at - 1.1 * FORGOTTEN_KEPT_FACTOR * 5.0)
    table.judge()
    assert node_id not in table._forgotten


def test_restart_while_alive_logged(caplog):
    table = make_table()
    table.merge([entry(100, 7)])
    with caplog.at_level(logging.INFO, logger="ants.comm.membership"):
        table.merge([entry(100, 8)])
        assert "restarted" not in caplog.text
        table.merge([entry(250, 1)])

    assert f"member {PEER} at 127.0.0.1:2 restarted (incarnation 250, was 100)" in caplog.text
    assert table.get(PEER).judged == "alive"


def test_listener_gets_every_change():
    table = make_table()
    changes: list[MemberChange] = []
    table.watch(changes.append)
    address = "127.0.0.1:2"

    table.merge([entry(100, 7)])
    silence(table, 1.5)
    table.judge()
    table.merge([entry(100, 8)])
    table.judge()
    silence(table, 3.0)
    table.judge()
    silence(table, 6.0)
    table.judge()
    table.merge([entry(100, 9)])
    table.merge([entry(300, 1)])
    table.merge([entry(300, 2, left=True)])
    table.judge()

    assert [change.text for change in changes] == [
        f"{PEER} at {address} joined as alive",
        f"{PEER} is now suspect (was alive)",
        f"{PEER} is now alive (was suspect)",
        f"{PEER} is now dead (was alive)",
        f"{PEER} forgotten after 6s silent",
        f"{PEER} at {address} is back after it was forgotten",
        f"{PEER} at {address} joined as alive",
        f"{PEER} at {address} restarted while alive",
        f"{PEER} is now left (was alive)",
    ]
    assert {change.node_id for change in changes} == {PEER}
    times = [change.time for change in changes]
    assert times == sorted(times)
    assert abs(times[-1] - time.time()) < 5.0


def test_listener_gets_changes_made_before_watch():
    table = make_table()
    table.merge([entry(100, 7)])
    silence(table, 3.0)
    table.judge()

    changes: list[MemberChange] = []
    table.watch(changes.append)
    assert [change.text for change in changes] == [
        f"{PEER} at 127.0.0.1:2 joined as alive",
        f"{PEER} is now dead (was alive)",
    ]
    table.merge([entry(100, 8)])
    table.judge()
    assert changes[-1].text == f"{PEER} is now alive (was dead)"
    assert len(changes) == 3


def test_unwatched_table_keeps_latest_changes():
    table = make_table()
    # Each round makes two changes: alive again (joined in the first), then dead.
    for heartbeat in range(EARLY_CHANGES_KEPT):
        table.merge([entry(100, heartbeat + 1)])
        table.judge()
        silence(table, 3.0)
        table.judge()

    changes: list[MemberChange] = []
    table.watch(changes.append)
    assert len(changes) == EARLY_CHANGES_KEPT
    assert changes[-1].text == f"{PEER} is now dead (was alive)"
    assert changes[0].text != f"{PEER} at 127.0.0.1:2 joined as alive"
