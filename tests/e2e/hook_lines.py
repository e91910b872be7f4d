"""Reading what the hook_test plugin prints (plugins/hook_test/hook_test.c): one line per
hook invocation,
    hook_test[NAME]: POINT id=ID sni=SNI count=N ja4=JA4
and `hook_test[NAME]: POINT id=ID reenable from thread` before a delayed re-enable, on
tlsgate's stderr. Used by test_hooks.py and test_plugin_loading.py."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from conftest import Gateway, scaled
from tlsclient import client_context, inspect

LINE_RE = re.compile(
    r"^hook_test\[(?P<name>[^\]]+)\]: (?P<point>\w+) id=(?P<id>\d+)"
    r"(?: sni=(?P<sni>\S+) count=(?P<count>\d+) ja4=(?P<ja4>\S+)"
    r"| (?P<thread>reenable from thread))$")


@dataclass(frozen=True)
class HookLine:
    name: str
    point: str
    id: int
    sni: str | None
    count: int | None
    thread: bool  # the "reenable from thread" line
    ja4: str | None = None  # "-" before the ClientHello; None on a "from thread" line

    @property
    def tag(self) -> str:
        """"A:cert", or "A:cert/thread" for a delayed re-enable."""
        return f"{self.name}:{self.point}" + ("/thread" if self.thread else "")


def hook_lines(gw: Gateway) -> list[HookLine]:
    out = []
    for line in list(gw.lines):
        m = LINE_RE.match(line)
        if m:
            out.append(HookLine(m["name"], m["point"], int(m["id"]), m["sni"],
                                int(m["count"]) if m["count"] else None, bool(m["thread"]),
                                m["ja4"]))
    return out


def by_id(lines: list[HookLine]) -> dict[int, list[HookLine]]:
    """Lines grouped per connection, connections in order of their first line."""
    out: dict[int, list[HookLine]] = {}
    for l in lines:
        out.setdefault(l.id, []).append(l)
    return out


def wait_lines(gw: Gateway, predicate, timeout: float = 5.0,
               settle: float = 0.0) -> list[HookLine]:
    """Polls the hook lines until predicate(lines) holds (returns them either way). With
    `settle`, waits that long more and reads again: for 'exactly once' assertions."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        lines = hook_lines(gw)
        if predicate(lines) or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if settle:
        time.sleep(scaled(settle))
        lines = hook_lines(gw)
    return lines


def closes(lines: list[HookLine], conn_id: int | None = None) -> list[HookLine]:
    return [l for l in lines if l.point == "vconn_close" and not l.thread
            and (conn_id is None or l.id == conn_id)]


def tags(lines: list[HookLine]) -> list[str]:
    return [l.tag for l in lines]


def assert_still_serving(gw: Gateway, pki) -> None:
    r = inspect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10))
    assert r.status == 200 and r.json["sni"] == "a.test"
