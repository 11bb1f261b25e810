"""podman for the container tests (the system tier's systemd containers, the image tests of
the integration tier), through scripts/container (runc, cgroupfs, lowered ulimits).

When podman cannot run here (`scripts/container check` says why), a tier is SKIPPED, loudly
and with the reason, in its tests and again at the end of the session's output; with
CI=true it FAILS instead: CI must run it."""

import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTAINER = os.path.join(ROOT, "scripts", "container")
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_check = {}


def check_reason():
    """None when podman can run containers here, else why not (checked once)."""
    if "reason" not in _check:
        try:
            p = subprocess.run([CONTAINER, "check"], capture_output=True, text=True, timeout=120)
            ok = p.returncode == 0
            reason = p.stdout.strip() or p.stderr.strip() or "scripts/container check failed"
        except (OSError, subprocess.TimeoutExpired) as e:
            ok, reason = False, f"scripts/container check: {e}"
        _check["reason"] = None if ok else reason
    return _check["reason"]


class _SkipBanner:
    """A plugin registered when a tier is skipped: repeats the reason at the very end."""

    def __init__(self, tier, reason, consequence):
        self.tier, self.reason, self.consequence = tier, reason, consequence

    def pytest_terminal_summary(self, terminalreporter):
        w = terminalreporter.write_line
        w("")
        w("=" * 78, red=True, bold=True)
        w(f"{self.tier} SKIPPED: {self.reason}", red=True, bold=True)
        w(f"({self.consequence}; with CI=true this fails)", red=True, bold=True)
        w("=" * 78, red=True, bold=True)


def container_ok_fixture(tier, consequence):
    """A session fixture `container_ok`: True when podman runs here; else the tests using
    it are skipped with the reason (failed with CI=true) and the reason is repeated at the
    end of the run. tier: "SYSTEM TIER"; consequence: what was not tested."""

    @pytest.fixture(scope="session", name="container_ok")
    def container_ok(request):
        reason = check_reason()
        if reason:
            if CI:
                pytest.fail(f"{tier} CANNOT RUN and CI=true: {reason}", pytrace=False)
            pm = request.config.pluginmanager
            name = f"container-skip-{tier}"
            if not pm.has_plugin(name):
                pm.register(_SkipBanner(tier, reason, consequence), name)
            pytest.skip(f"{tier} SKIPPED: {reason}")
        return True

    return container_ok


def podman(*args, check=True, timeout=300, input=None):
    """podman ARGS with the project's settings; raises with its stderr when check and it
    fails."""
    p = subprocess.run([CONTAINER, "podman", *args], capture_output=True, text=True,
                       timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: exit {p.returncode}\n{p.stderr[-3000:]}")
    return p
