"""Loading plugins: a missing path, a shared object that is not a plugin, an init that
refuses its arguments, a path relative to tlsgate.yaml, an empty list. The hooks the plugins
register are tested in test_hooks.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import Gateway, GatewayStartError, scaled
from hook_lines import assert_still_serving, hook_lines, tags, wait_lines
from tlsclient import client_context, inspect



def _gw(tlsgate_bin, pki, tmp_path, plugins) -> Gateway:
    return Gateway(tlsgate_bin, tmp_path / "plugin-check", pki, plugins=plugins)


def _check(tlsgate_bin, gw: Gateway, cwd: str | None = None) -> subprocess.CompletedProcess:
    gw.write_files()
    return subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"], cwd=cwd,
                          capture_output=True, text=True, timeout=scaled(30))


def _start_fails(gw: Gateway) -> str:
    """Starts gw, expecting tlsgate to refuse: returns its stderr."""
    with pytest.raises(GatewayStartError):
        gw.start()
    rc = gw.stop()
    assert rc > 0, f"tlsgate exit code {rc} (expected an error exit):\n{gw.stderr_text()}"
    return gw.stderr_text()


def test_plugin_path_missing(tlsgate_bin, pki, tmp_path):
    """A plugin path that does not exist: --check and startup fail (non-zero) with a
    message naming the path."""
    missing = tmp_path / "no-such-plugin.so"
    gw = _gw(tlsgate_bin, pki, tmp_path, [{"path": missing, "args": []}])
    p = _check(tlsgate_bin, gw)
    assert p.returncode != 0, p.stdout + p.stderr
    assert str(missing) in p.stderr, p.stderr
    assert "configuration OK" not in p.stdout + p.stderr
    err = _start_fails(gw)
    assert str(missing) in err, err


def test_plugin_without_init_symbol(tlsgate_bin, pki, tmp_path):
    """A shared object without tlsgate_plugin_init (libz): a clear error naming the path
    and the missing symbol; tlsgate does not start."""
    libz = "/usr/lib/x86_64-linux-gnu/libz.so.1"
    if not Path(libz).exists():
        pytest.skip(f"{libz} not present")
    gw = _gw(tlsgate_bin, pki, tmp_path, [{"path": libz}])
    err = _start_fails(gw)
    assert libz in err, err
    assert "tlsgate_plugin_init" in err, err


@pytest.mark.parametrize("args", [["--bogus", "1"], ["--hook", "cert", "--mode", "sometimes"],
                                  ["--hook", "nowhere"], ["--hook", "cert", "--ms", "x"],
                                  ["--name", "A"]],
                         ids=["unknown-arg", "bad-mode", "bad-point", "bad-ms", "no-hook"])
def test_plugin_init_refuses_bad_args(tlsgate_bin, pki, tmp_path, hook_test_so, args):
    """hook_test's init returns non-zero for a bad argument: tlsgate refuses to start and
    its message names the plugin (next to hook_test's own explanation)."""
    gw = _gw(tlsgate_bin, pki, tmp_path, [{"path": hook_test_so, "args": args}])
    err = _start_fails(gw)
    tlsgate_lines = [l for l in err.splitlines() if not l.startswith("hook_test")]
    assert any("hook_test.so" in l for l in tlsgate_lines), err
    assert "hook_test (" in err, f"hook_test's own message missing:\n{err}"


def test_plugin_relative_path(gateway, pki, ht, tlsgate_bin, hook_test_so, tmp_path):
    """A relative plugin path resolves against tlsgate.yaml's folder, not the working
    directory: --check from / accepts it, and a gateway loads it."""
    d = tmp_path / "rel"
    gw = Gateway(tlsgate_bin, d, pki,
                 plugins=[{"path": os.path.relpath(hook_test_so, d), "args": ["--hook", "cert"]}])
    p = _check(tlsgate_bin, gw, cwd="/")
    assert p.returncode == 0, p.stdout + p.stderr
    # The factory's first gateway lives in tmp_path/gw1.
    gw2 = gateway(plugins=[ht("R", "cert", path=os.path.relpath(hook_test_so, tmp_path / "gw1"))])
    assert gw2.dir == tmp_path / "gw1"
    r = inspect(gw2.port, client_context(pki.ca), "a.test", timeout=scaled(10))
    assert r.status == 200
    lines = wait_lines(gw2, lambda ls: ls, settle=0.1)
    assert tags(lines) == ["R:cert"]


def test_no_plugins_is_fine(gateway, pki):
    """An empty `plugins:` list is valid and changes nothing."""
    gw = gateway(plugins=[])
    assert_still_serving(gw, pki)
    assert hook_lines(gw) == []
