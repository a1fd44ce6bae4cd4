"""``.ci/docker.sh``: a ``docker_up`` that fails after it started dockerd must not leave that daemon running.

dockerd and docker are stand-ins here (a real engine is CI's business): the fake dockerd writes its pid file as
the real one does and waits; the fake docker answers ``version`` and fails ``build``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from simulator.processes import process_alive

REPO = Path(__file__).resolve().parents[2]

FAKE_DOCKERD = """#!/bin/sh
while [ $# -gt 0 ]; do
    if [ "$1" = --pidfile ]; then echo $$ >"$2"; fi
    shift
done
exec sleep 60
"""

FAKE_DOCKER = """#!/bin/sh
case "$1" in
    version) exit 0 ;;
    *) echo "fake docker: $1 fails" >&2; exit 1 ;;
esac
"""


def test_a_failed_docker_up_stops_the_dockerd_it_started(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("dockerd", FAKE_DOCKERD), ("docker", FAKE_DOCKER), ("docker-compose", FAKE_DOCKER)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    state = tmp_path / "docker"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "TESTCONTAINERS_", "TC_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}", VMOTION_DOCKER_DIR=str(state))
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail; source .ci/docker.sh; docker_up"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    pid = int((state / "dockerd.pid").read_text())
    try:
        assert done.returncode != 0, done.stderr
        assert "docker build of vmotion-vcsim:latest failed" in done.stderr
        assert not process_alive(pid), "docker_up failed and left the dockerd it started running"
    finally:
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)
