"""Two slapd providers in multi-provider replication, for the fault tests (SPEC §8).

Each node is a ``SlapdServer`` (same API: ``url``, ``root_dn``, ``search``, …)
with its own ``olcServerID``, the ``syncprov`` overlay, ``olcMultiProvider``,
``entryCSN``/``entryUUID`` indexed, ppolicy, and an ``olcSyncrepl`` to the
other node (``refreshAndPersist``, ``retry="1 +"``). Only node 1 is loaded
(``slapadd -S 1``, so every entry has a valid CSN); node 2 starts empty and
refreshes the whole tree from node 1, so no entry ever exists twice with two
``entryUUID``s. Each node is stopped, killed (SIGKILL), paused (SIGSTOP) and
restarted by its own pid; everything listens on loopback only.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence

from connector.core.model import Layout
from connector.core.tree import base_entries, tree_entries
from connector.core.units import Units
from connector.testing.slapd import SlapdServer, _tool, ldif

PEER_TIMEOUT = 1  # seconds: a dead peer is retried every second ("1 +")


class ReplicaNode(SlapdServer):
    """One provider of the pair; ``peer`` is set before it starts."""

    def __init__(self, server_id: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.server_id = server_id
        self.peer: ReplicaNode | None = None
        self.seed = server_id == 1

    def _config_ldif(self) -> str:
        assert self.peer is not None
        config = super()._config_ldif()
        config = config.replace("olcLogLevel: none\n",
                                f"olcLogLevel: none\nolcServerID: {self.server_id}\n", 1)
        config = config.replace("olcModuleLoad: {1}ppolicy\n",
                                "olcModuleLoad: {1}ppolicy\nolcModuleLoad: {2}syncprov\n", 1)
        sync = (f'olcSyncrepl: {{0}}rid={self.peer.server_id:03d} provider={self.peer.url} '
                f'bindmethod=simple binddn="{self.root_dn}" credentials={self.root_password} '
                f'searchbase="{self.layout.base_dn}" type=refreshAndPersist retry="1 +" '
                f"timeout={PEER_TIMEOUT} network-timeout={PEER_TIMEOUT}\n"
                "olcMultiProvider: TRUE\n")
        config = config.replace("olcDbIndex: entryUUID eq\n",
                                "olcDbIndex: entryUUID eq\nolcDbIndex: entryCSN eq\n" + sync, 1)
        return config + """
dn: olcOverlay={1}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {1}syncprov
olcSpCheckpoint: 100 1
"""

    def start(self) -> None:
        fresh = not self.initialised
        (self.dir / "slapd.d").mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(exist_ok=True)
        if fresh:
            (self.dir / "config.ldif").write_text(self._config_ldif(), encoding="utf-8")
            self._run([_tool("slapadd"), "-n0", "-F", str(self.dir / "slapd.d"),
                       "-l", str(self.dir / "config.ldif")])
            if self.seed:
                entries = base_entries(self.layout)
                if self.units is not None:
                    entries += tree_entries(self.layout, self.units)
                (self.dir / "base.ldif").write_text(ldif(entries), encoding="utf-8")
                self._run([_tool("slapadd"), "-q", "-S", str(self.server_id), "-n1", "-F",
                           str(self.dir / "slapd.d"), "-l", str(self.dir / "base.ldif")])
        self._launch()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush beyond what mdb has committed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, slapd never answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


class ReplicatedPair:
    """Two providers replicating each other; ``urls`` is what the connector is given."""

    def __init__(self, layout: Layout | None = None, units: Units | None = None) -> None:
        self.node1 = ReplicaNode(1, layout=layout, units=units)
        self.node2 = ReplicaNode(2, layout=layout, units=units,
                                 root_password=self.node1.root_password)
        self.node1.peer, self.node2.peer = self.node2, self.node1
        self.layout = self.node1.layout
        self.root_dn = self.node1.root_dn
        self.root_password = self.node1.root_password
        self.url = f"{self.node1.url},{self.node2.url}"

    @property
    def nodes(self) -> Sequence[ReplicaNode]:
        return (self.node1, self.node2)

    def start(self) -> None:
        self.node1.start()
        self.node2.start()
        self.wait_in_step()

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.thaw()
            node.stop()

    def __enter__(self) -> ReplicatedPair:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def dump(self, node: ReplicaNode, base: str | None = None) -> str:
        """The tree under ``base`` as node sees it: user attributes, the lock attribute and
        entryUUID (so that an entry added twice on two nodes would show)."""
        return node.search(base or self.layout.base_dn, "(objectClass=*)",
                           ["*", "pwdAccountLockedTime", "entryUUID"])

    def wait_in_step(self, timeout: float = 30, base: str | None = None) -> float:
        """Until both nodes hold the same tree; returns how long it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            first = self.dump(self.node1, base)
            if "dn: " in first and first == self.dump(self.node2, base):
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"the providers did not converge within {timeout} s")
