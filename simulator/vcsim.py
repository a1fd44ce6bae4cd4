"""Where tests get a vCenter simulator: an existing URL, the container through testcontainers, or the binary.

The simulator is ``vcsim/`` of this repository: govmomi's vcsim patched to store the vSphere 8 notification
settings, advertising API 8.0.1.0, with ``VmOpNotificationToApp.Timeout`` on every host (protocol.md 8).

``provide()`` picks the first of these that works and says why the others did not:

1. an existing endpoint from ``--vcsim-url`` or ``VCSIM_URL`` (``https://user:pass@127.0.0.1:PORT/sdk``);
2. the ``vmotion-vcsim`` image run through testcontainers, when a Docker engine answers (the image is built
   from ``vcsim/build``'s binary when missing or out of date);
3. the native binary (``VCSIM_BINARY``, else ``vcsim/build``) as a child process on a free port.

When none works it raises :class:`VcsimUnavailable` with every reason; the pytest plugin turns that into a skip
(a failure under ``VMOTION_REQUIRE_VCSIM=1`` or ``CI=true``). Everything it starts it stops: the process by its pid, the
container by its id. Only 127.0.0.0/8 is ever contacted.

Only the standard library is imported at module level; testcontainers is imported when a container is needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import selectors
import shlex
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from simulator.processes import process_alive, stop_process

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "IMAGE",
    "VcsimEndpoint",
    "VcsimError",
    "VcsimUnavailable",
    "build_binary",
    "docker_engine",
    "endpoint_from_url",
    "ensure_image",
    "provide",
    "start_container",
    "start_native",
]

DEFAULT_USERNAME = "user"
DEFAULT_PASSWORD = "pass"
IMAGE = "vmotion-vcsim:latest"
# The image's label that records which binary it holds, so a rebuilt binary gets a rebuilt image.
BINARY_LABEL = "org.vmotion.vcsim.binary-sha256"
# Containers carry this label and their owner's pid, so a run can remove what a crashed run left behind.
OWNER_LABEL = "org.vmotion.vcsim.owner-pid"
REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO_ROOT / "vcsim" / "build"
DOCKERFILE = REPO_ROOT / "vcsim" / "Dockerfile"
# Generous: the first `vcsim/build` compiles for ~30 s; starting the simulator takes well under a second.
BUILD_TIMEOUT_S = 300.0
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class VcsimUnavailable(Exception):
    """No simulator can be provided here; the message says why (a skip, unless one is required)."""


class VcsimError(Exception):
    """A simulator that should have worked did not (a failure, never a skip)."""


@dataclass(frozen=True)
class VcsimEndpoint:
    """How to reach one simulator. ``how`` is ``"url"``, ``"container"`` or ``"native"``."""

    host: str
    port: int
    username: str
    password: str
    how: str

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/sdk"

    def env(self) -> Dict[str, str]:
        """The variables the helper reads; the simulator's certificate is self-signed, hence no validation."""
        return {
            "VMWARE_HOST": self.host,
            "VMWARE_PORT": str(self.port),
            "VMWARE_USER": self.username,
            "VMWARE_PASSWORD": self.password,
            "VMWARE_VALIDATE_CERTS": "false",
        }


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise VcsimError(f"vcsim URL host {host!r} is not a loopback address; tests talk to 127.0.0.0/8 only")


def endpoint_from_url(url: str, how: str = "url") -> VcsimEndpoint:
    """Parse ``https://[user:pass@]HOST[:PORT][/sdk]``; a missing user or password means vcsim's default."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise VcsimError(f"vcsim URL must look like https://user:pass@127.0.0.1:8989/sdk, got {url!r}")
    _require_loopback(parts.hostname)
    try:
        port = parts.port or 443
    except ValueError as e:
        raise VcsimError(f"vcsim URL has a bad port: {url!r}") from e
    return VcsimEndpoint(
        host=parts.hostname,
        port=port,
        username=urllib.parse.unquote(parts.username) if parts.username else DEFAULT_USERNAME,
        password=urllib.parse.unquote(parts.password) if parts.password else DEFAULT_PASSWORD,
        how=how,
    )


def parse_env_lines(text: str) -> Dict[str, str]:
    """Read the ``export NAME=VALUE`` lines the simulator prints once it serves."""
    found: Dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line) if line.startswith("export ") else []
        for word in words[1:]:
            name, sep, value = word.partition("=")
            if sep:
                found[name] = value
    return found


def _endpoint_from_env(env: Dict[str, str], how: str) -> VcsimEndpoint:
    host = env["VMWARE_HOST"]
    _require_loopback(host)
    return VcsimEndpoint(host, int(env["VMWARE_PORT"]), env["VMWARE_USER"], env["VMWARE_PASSWORD"], how)


def build_binary() -> Path:
    """The native binary: ``VCSIM_BINARY`` if set, else what ``vcsim/build`` builds (or reuses)."""
    given = os.environ.get("VCSIM_BINARY")
    if given:
        path = Path(given)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise VcsimError(f"VCSIM_BINARY={given} is not an executable file")
        return path
    if not BUILD_SCRIPT.is_file():
        raise VcsimUnavailable(f"{BUILD_SCRIPT} not found (not a source checkout) and VCSIM_BINARY unset")
    if shutil.which("go") is None:
        raise VcsimUnavailable("no vcsim binary: Go is not installed (Debian: golang-go) and VCSIM_BINARY unset")
    done = subprocess.run(
        [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, stdin=subprocess.DEVNULL
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise VcsimUnavailable(f"vcsim/build failed (exit {done.returncode}): {tail[0]}")
    return Path(lines[-1])


def _credentials_args(username: str, password: str) -> List[str]:
    return ["-username", username, "-password", password]


@contextlib.contextmanager
def start_native(
    binary: Optional[Path] = None,
    args: Sequence[str] = (),
    username: str = DEFAULT_USERNAME,
    password: str = DEFAULT_PASSWORD,
) -> Iterator[VcsimEndpoint]:
    """Run the binary on a free loopback port for the ``with`` block; ``args`` adds simulator flags."""
    path = binary or build_binary()
    argv = [str(path), "-l", "127.0.0.1:0", "-stdinexit", *_credentials_args(username, password), *args]
    with tempfile.TemporaryFile() as errors:
        # stdin stays open: when this process dies, the pipe closes and -stdinexit ends the simulator too.
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
        try:
            env = _read_env(proc, errors)
            yield _endpoint_from_env(env, "native")
        finally:
            _stop_process(proc)


def _read_env(proc: subprocess.Popen[bytes], errors: Any) -> Dict[str, str]:
    """Wait until the child printed its connection variables (it prints them once, when it serves)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            env = parse_env_lines(buf.decode(errors="replace"))
            if "VMWARE_PORT" in env and buf.endswith(b"\n") and "VMWARE_VALIDATE_CERTS" in env:
                return env
            left = deadline - time.monotonic()
            if left <= 0:
                raise VcsimError(f"vcsim did not report its port within {START_TIMEOUT_S:.0f} s")
            if sel.select(left):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    proc.wait(STOP_TIMEOUT_S)
                    errors.seek(0)
                    why = errors.read().decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
                    raise VcsimError(f"vcsim exited with status {proc.returncode}: {why[0]}")
                buf += chunk


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    stop_process(proc, timeout=STOP_TIMEOUT_S)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


def _testcontainers_env() -> None:
    # The reaper image cannot be pulled here, and this machine looks like a container itself (issue 4, fact 5).
    # Set before testcontainers is imported: it reads its configuration at import time.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    os.environ.setdefault("TC_HOST", "127.0.0.1")


def docker_engine() -> Any:
    """A docker client (through testcontainers) for an engine that answers, else VcsimUnavailable."""
    sock = "/var/run/docker.sock"
    if not os.environ.get("DOCKER_HOST") and not os.path.exists(sock):
        raise VcsimUnavailable(f"no Docker engine: DOCKER_HOST unset and {sock} absent")
    _testcontainers_env()
    try:
        from testcontainers.core.docker_client import DockerClient
    except ImportError as e:
        raise VcsimUnavailable(f"testcontainers is not installed ({e})") from e
    try:
        client = DockerClient(timeout=10).client
        client.ping()
    except Exception as e:  # docker raises many kinds; any of them means "no engine here"
        raise VcsimUnavailable(f"no Docker engine answers: {e}") from e
    return client


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ensure_image(client: Any, binary: Optional[Path] = None) -> str:
    """Make sure ``IMAGE`` holds the current binary; build it ``FROM scratch`` when missing or stale."""
    try:
        path = binary or build_binary()
    except VcsimUnavailable as e:
        # Without Go an image built elsewhere (docker load) is still fine.
        if _image_label(client) is not None:
            return IMAGE
        raise VcsimUnavailable(f"image {IMAGE} missing and cannot be built: {e}") from e
    digest = _sha256(path)
    if _image_label(client) == digest:
        return IMAGE
    with tempfile.TemporaryDirectory(prefix="vcsim-image-") as ctx:
        shutil.copy2(path, Path(ctx) / "vcsim")
        shutil.copy2(DOCKERFILE, Path(ctx) / "Dockerfile")
        try:
            client.images.build(path=ctx, tag=IMAGE, labels={BINARY_LABEL: digest}, rm=True, network_mode="none")
        except Exception as e:
            raise VcsimError(f"docker build of {IMAGE} failed: {e}") from e
    return IMAGE


def _image_label(client: Any) -> Optional[str]:
    try:
        image = client.images.get(IMAGE)
    except Exception:  # docker.errors.ImageNotFound, without importing docker here
        return None
    labels = image.labels or {}
    return str(labels.get(BINARY_LABEL, ""))


def _remove_orphans(client: Any) -> None:
    """Remove vcsim containers whose owner process is gone (the reaper is disabled, so nobody else will)."""
    for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
        owner = int(container.labels.get(OWNER_LABEL, "0") or 0)
        if owner and not process_alive(owner):
            with contextlib.suppress(Exception):
                container.remove(force=True)


@contextlib.contextmanager
def start_container(
    args: Sequence[str] = (),
    username: str = DEFAULT_USERNAME,
    password: str = DEFAULT_PASSWORD,
) -> Iterator[VcsimEndpoint]:
    """Run the image through testcontainers (host network, loopback, free port) for the ``with`` block."""
    client = docker_engine()
    image = ensure_image(client)
    _remove_orphans(client)
    from testcontainers.core.container import DockerContainer

    command = ["-l", "127.0.0.1:0", *_credentials_args(username, password), *args]
    container = (
        DockerContainer(image)
        .with_command(command)
        .with_kwargs(network_mode="host", labels={OWNER_LABEL: str(os.getpid())})
    )
    container.start()
    try:
        env = _container_env(container)
        yield _endpoint_from_env(env, "container")
    finally:
        container.stop()


def _container_env(container: Any) -> Dict[str, str]:
    """Read the port from the container's log: with port 0 only the simulator knows it."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        out, err = container.get_logs()
        env = parse_env_lines(out.decode(errors="replace"))
        if "VMWARE_VALIDATE_CERTS" in env:
            return env
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        if wrapped.status in ("exited", "dead"):
            why = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise VcsimError(f"vcsim container exited: {why[0]}")
        if time.monotonic() > deadline:
            raise VcsimError(f"vcsim container did not report its port within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)  # polling the log of a starting container, not waiting out a timeout


@contextlib.contextmanager
def provide(url: Optional[str] = None) -> Iterator[VcsimEndpoint]:
    """The first simulator that works: ``url`` (or ``VCSIM_URL``), then the container, then the binary."""
    url = url or os.environ.get("VCSIM_URL") or None
    if url:
        yield endpoint_from_url(url)
        return
    reasons: List[str] = []
    with contextlib.ExitStack() as stack:
        try:
            endpoint = stack.enter_context(start_container())
        except VcsimUnavailable as e:
            reasons.append(f"container: {e}")
            try:
                endpoint = stack.enter_context(start_native())
            except VcsimUnavailable as e2:
                reasons.append(f"native: {e2}")
                raise VcsimUnavailable("no vCenter simulator: " + "; ".join(reasons)) from e2
        yield endpoint
