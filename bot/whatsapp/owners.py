"""Which process owns a stored message: names for processes, and whether one died."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from pathlib import Path

log = logging.getLogger(__name__)

def node_id() -> str:
    """This machine's boot and PID namespace: where a process id names one process.

    Two containers may share a host name and both run as pid 1, but not a PID
    namespace; a reboot reuses pids, but not a boot id. Without /proc (not Linux), the
    host name stands in."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return f"host:{socket.gethostname()}"


def new_owner() -> str:
    """A name for this process as the owner of rows: node, pid, and a random token (a
    restarted process that got the same pid is not its predecessor)."""
    return f"{node_id()}/{os.getpid()}/{secrets.token_hex(4)}"


def owner_is_dead(owner: str, me: str) -> bool:
    """True when `owner` is certainly a process that no longer runs: one of this node
    whose pid is gone, or an earlier process with this process's pid. Anything else
    (another machine, a pid still in use) is left to its lease."""
    node, _, rest = owner.rpartition("/")
    node, _, pid_text = node.rpartition("/")
    my_node, _, my_rest = me.rpartition("/")
    my_node, _, _ = my_node.rpartition("/")
    if not node or node != my_node or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return rest != my_rest
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by another user
        return False
    return False
