"""A real `python -m llama_cpp.server` on the default model, for the remote-backend tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A real `python -m llama_cpp.server` process on the default model."""

    def __init__(self, model: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
             "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "2",
             "--interrupt_requests", "False"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("llama_cpp.server exited") from None
                time.sleep(0.2)
        raise RuntimeError("llama_cpp.server did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(30)
