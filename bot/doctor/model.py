"""The model file: a readable GGUF, its checksum, and whether it fits in memory."""

from __future__ import annotations

import os
from typing import Any

from bot.config import DEFAULT_MODEL_PATH, Settings
from bot.doctor.results import Check, Status
from bot.doctor.runtime import LlamaBuild, _gib
from bot.engine.catalogue import largest_fitting
from bot.engine.gguf import DEFAULT_SHA256, GGUFInfo, ModelFileError, read_gguf, sha256_of
from bot.engine.hub import total_ram_bytes


def _memory() -> tuple[int, int] | None:
    """(available, total) bytes of RAM, or None where they cannot be read."""
    try:
        fields = {}
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                key, _, rest = line.partition(":")
                fields[key] = int(rest.split()[0]) * 1024
        return fields["MemAvailable"], fields["MemTotal"]
    except (OSError, KeyError, ValueError, IndexError):
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_AVPHYS_PAGES") * page, os.sysconf("SC_PHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        return None


def _largest(value: Any) -> int:
    """A GGUF count that may be per layer (a list) or one number."""
    if isinstance(value, list):
        return max((int(v) for v in value), default=0)
    return int(value)


def kv_cache_bytes(info: GGUFInfo, settings: Settings) -> int | None:
    """The KV cache the batched engine allocates: N_CTX tokens for each of N_PARALLEL
    sequences, keys and values in f16 for every layer. None when the file does not say
    enough to estimate it."""
    meta, arch = info.metadata, info.architecture
    try:
        layers = int(meta[f"{arch}.block_count"])
        width = int(meta[f"{arch}.embedding_length"])
        heads = _largest(meta[f"{arch}.attention.head_count"])
        kv_heads = _largest(meta.get(f"{arch}.attention.head_count_kv", heads))
        key = int(meta.get(f"{arch}.attention.key_length", width // heads))
        value = int(meta.get(f"{arch}.attention.value_length", width // heads))
    except (KeyError, ValueError, TypeError, ZeroDivisionError):
        return None
    per_token = layers * kv_heads * (key + value) * 2
    return per_token * settings.n_ctx * settings.n_parallel


def check_model(settings: Settings, build: LlamaBuild | None = None) -> Check:
    """The model file: a readable GGUF, its size against the RAM, its checksum when it
    is the default model, its trained context against N_CTX."""
    if settings.llm_backend != "local":
        return Check("model", Status.SKIP, "LLM_BACKEND=openai: the servers hold the model")
    path = settings.model_path
    default = path.resolve() == DEFAULT_MODEL_PATH.resolve()
    fix = ("run `causette model fetch`" if default else
           "point MODEL_PATH at a GGUF model file, or unset it to use the default model")
    try:
        info = read_gguf(path)
    except ModelFileError as exc:
        return Check("model", Status.FAIL, str(exc), fix=fix, setting="MODEL_PATH")
    except OSError as exc:  # unreadable: permissions, I/O error
        return Check("model", Status.FAIL, f"cannot read {path} ({exc})", fix=fix,
                     setting="MODEL_PATH")
    described = (f"{path.name}: {info.architecture}, {info.parameters / 1e6:.0f} M parameters, "
                 f"{info.file_type}, {info.size_bytes / 2**20:.1f} MiB")
    if default:
        if sha256_of(path) != DEFAULT_SHA256:
            return Check("model", Status.FAIL,
                         f"{described}; its SHA-256 is not the default model's (a partial "
                         "or altered download)", fix="run `causette model fetch --force`",
                         setting="MODEL_PATH")
        described += ", checksum ok"
    if info.context_length and settings.n_ctx > info.context_length:
        return Check("model", Status.WARN,
                     f"{described}; N_CTX={settings.n_ctx} is past the "
                     f"{info.context_length} tokens it was trained on: answers degrade",
                     fix=f"set N_CTX to {info.context_length} or less", setting="N_CTX")
    kv = kv_cache_bytes(info, settings)
    need = info.size_bytes + (kv or 0) + settings.kv_save_mb * 2**20
    parts = (f"~{_gib(need)} of RAM (model + {_gib(kv)} KV for N_CTX x N_PARALLEL + "
             f"KV_SAVE_MB)" if kv is not None else f"~{_gib(need)} of RAM (model + KV_SAVE_MB)")
    memory = _memory()
    on_gpu = settings.n_gpu_layers != 0 and build is not None and build.gpu_offload
    if memory is None:
        return Check("model", Status.OK, f"{described}; needs {parts}; free RAM unknown")
    available, total = memory
    shrink = ("lower N_CTX, N_PARALLEL or KV_SAVE_MB, or use a smaller model (MODEL_PATH)")
    if need > total and not on_gpu:
        return Check("model", Status.FAIL,
                     f"{described}; needs {parts}, more than this machine's {_gib(total)}",
                     fix=shrink, setting="MODEL_PATH")
    if need > available:
        return Check("model", Status.WARN,
                     f"{described}; needs {parts}, only {_gib(available)} free now"
                     + (" (layers on the GPU need less)" if on_gpu else ""),
                     fix=f"free some memory, or {shrink}", setting="MODEL_PATH")
    return Check("model", Status.OK, f"{described}; needs {parts}, {_gib(available)} free")


def check_model_advice(settings: Settings, ram_bytes: int | None = None) -> Check:
    """The largest recommended chat model (`bot.engine.catalogue`) this machine's RAM
    runs, and how to pull it; a hint, never a failure."""
    if settings.llm_backend != "local":
        return Check("model advice", Status.SKIP, "LLM_BACKEND=openai: the servers hold "
                     "the model")
    ram = ram_bytes if ram_bytes is not None else total_ram_bytes()
    if ram is None:
        return Check("model advice", Status.SKIP, "this machine's RAM is unknown")
    best = largest_fitting(ram)
    if best is None:
        return Check("model advice", Status.OK, f"{ram / 2**30:.1f} GiB of RAM: the "
                     "bundled default model is the one that fits")
    try:
        current = settings.model_path.stat().st_size
    except OSError:
        current = 0
    if current >= best.size_gib * 2**30 * 0.9:
        return Check("model advice", Status.OK, f"{ram / 2**30:.1f} GiB of RAM: the model "
                     "in use is as large as the recommended ones that fit")
    return Check("model advice", Status.OK,
                 f"{ram / 2**30:.1f} GiB of RAM runs {best.name} ({best.size_gib:.1f} GiB, "
                 "a far better assistant than the bundled 135M demo model)",
                 fix=f"`{best.pull_command} --use`")
