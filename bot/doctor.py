"""What `causette doctor` checks: everything a start needs, each as one typed result
that says what was found and, when it is not right, which setting to change and how.

The checks look and probe but change nothing: a database write is rolled back, a port
is bound and released at once, the network is asked with a short timeout. So the doctor
can run beside a running bot, and `./run.sh` runs it after a failed start. The CLI
(`bot/cli/doctor.py`) only prints what these functions return."""

from __future__ import annotations

import asyncio
import base64
import binascii
import ctypes
import errno
import importlib.metadata
import os
import re
import shutil
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import DEFAULT_MODEL_PATH, Settings, SettingsError, load_settings
from bot.engine.gguf import DEFAULT_SHA256, GGUFInfo, ModelFileError, read_gguf, sha256_of

DISCORD_API = "https://discord.com/api/v10"
NETWORK_TIMEOUT_S = 5.0

# Free disk beside the SQLite file: below these, a warning, then a failure.
DISK_WARN_BYTES = 1 << 30
DISK_FAIL_BYTES = 64 << 20

# Application flags (Discord's "Get Current Application"): the Message Content intent,
# on for a bot in under 100 servers, or approved for a verified one.
MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)

TOKEN_FIX = ("copy the bot token from the Discord Developer Portal (your application > "
             "Bot > Reset Token) into DISCORD_TOKEN")


class Status(StrEnum):
    """How a check ended. Only FAIL makes `causette doctor` exit non-zero."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not used with these settings (no Discord token, no WhatsApp, ...)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    status: Status
    summary: str  # what was found
    fix: str = ""  # what to do about it (a hint when the status is OK)
    setting: str | None = None  # the setting concerned, as written in .env

    def as_dict(self) -> dict[str, str | None]:
        """The JSON form (`causette doctor --json`)."""
        return {"name": self.name, "status": self.status.value, "summary": self.summary,
                "fix": self.fix, "setting": self.setting}


def failed(checks: Sequence[Check]) -> bool:
    """Whether any check failed (warnings do not count)."""
    return any(check.status is Status.FAIL for check in checks)


async def diagnose(*, wait_s: float = NETWORK_TIMEOUT_S,
                   discord_api: str = DISCORD_API) -> list[Check]:
    """Load the settings as `causette run` would, then run every check on them."""
    try:
        settings = load_settings()
    except SettingsError as exc:  # nothing else can be checked without them
        named = re.search(r"Invalid setting ([A-Z_]+)", str(exc))
        return [Check("settings", Status.FAIL, str(exc),
                      fix="correct it in .env or the environment",
                      setting=named.group(1) if named else None)]
    return [Check("settings", Status.OK, settings_source()),
            *await run_checks(settings, wait_s=wait_s, discord_api=discord_api)]


def settings_source() -> str:
    """Where the settings came from: pydantic-settings reads .env in the current folder."""
    env = Path(".env").resolve()
    if env.is_file():
        return f"read from {env} and the environment"
    return f"no .env in {env.parent}: the environment and defaults only"


async def run_checks(settings: Settings, *, wait_s: float = NETWORK_TIMEOUT_S,
                     discord_api: str = DISCORD_API) -> list[Check]:
    """Every check on `settings`, in the order they are shown. A check that breaks
    becomes a failed line of its own: the others are still reported."""
    try:
        llama, build = check_llama_cpp(settings)
    except Exception as exc:
        llama, build = _broken("llama-cpp", exc), None
    # Reading and hashing the model takes a moment: off the loop, beside the network.
    model, database, backend, discord = await asyncio.gather(
        _guard("model", asyncio.to_thread(check_model, settings, build)),
        _guard("database", check_database(settings, wait_s)),
        _guard("backend", check_backend(settings, wait_s)),
        _guard("discord", check_discord(settings, wait_s, discord_api)))
    return [*_sync("python", check_python), llama, *_sync("gpu", check_gpu, settings, build),
            *model, *database, *backend, *discord,
            *_sync("whatsapp", check_whatsapp, settings), *_sync("ports", check_ports, settings)]


def _broken(name: str, exc: BaseException) -> Check:
    return Check(name, Status.FAIL, f"the check itself broke ({type(exc).__name__}: {exc})",
                 fix="report it as a bug, with the output of `causette doctor --json`")


def _listed(result: Check | list[Check]) -> list[Check]:
    return [result] if isinstance(result, Check) else result


def _sync(name: str, check: Callable[..., Check | list[Check]], *args: Any) -> list[Check]:
    try:
        return _listed(check(*args))
    except Exception as exc:
        return [_broken(name, exc)]


async def _guard(name: str, check: Awaitable[Check | list[Check]]) -> list[Check]:
    try:
        return _listed(await check)
    except Exception as exc:
        return [_broken(name, exc)]


# Python and llama-cpp-python ---------------------------------------------------------------

def check_python() -> Check:
    """The interpreter (3.11 or newer, or this module would not have been imported)."""
    version = ".".join(str(n) for n in sys.version_info[:3])
    where = sys.executable + ("" if sys.prefix != sys.base_prefix else ", not in a venv")
    return Check("python", Status.OK, f"Python {version} ({where})")


@dataclass(frozen=True)
class Device:
    """A device ggml can compute on."""

    name: str
    description: str
    kind: str  # CPU, GPU, iGPU, accelerator
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class LlamaBuild:
    """What the installed llama-cpp-python was built with."""

    version: str
    backends: tuple[str, ...]  # CPU, CUDA, Metal, Vulkan, ...
    gpu_offload: bool  # llama_supports_gpu_offload()
    devices: tuple[Device, ...] | None  # None: they could not be listed
    cpu_features: tuple[str, ...]

    @property
    def gpus(self) -> tuple[Device, ...]:
        """The GPUs ggml sees (empty when none, or when they could not be listed)."""
        return tuple(d for d in self.devices or () if d.kind in ("GPU", "iGPU"))


_BACKEND_NAMES = {"cpu": "CPU", "cuda": "CUDA", "metal": "Metal", "vulkan": "Vulkan",
                  "hip": "ROCm", "rocm": "ROCm", "sycl": "SYCL", "blas": "BLAS",
                  "opencl": "OpenCL", "cann": "CANN", "musa": "MUSA", "kompute": "Kompute",
                  "rpc": "RPC"}
# ggml_backend_dev_type, in ggml-backend.h's order (llama-cpp-python 0.3.36's ggml).
_DEVICE_KINDS = ("CPU", "GPU", "iGPU", "accelerator")


def _pinned(package: str) -> str | None:
    """The version of `package` that Causette's own requirements pin."""
    try:
        requirements = importlib.metadata.requires("causette") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        found = re.match(rf"{re.escape(package)}(?:\[[^\]]*\])?==([\w.]+)\s*$", requirement)
        if found:
            return found.group(1)
    return None


def _ggml_devices(lib_dir: Path) -> tuple[Device, ...] | None:
    """The devices ggml registered, asked through its C API (the Python binding does not
    wrap it); None when that does not work on this build."""
    candidates = [lib_dir / name for name in ("libggml.so", "libggml.dylib", "ggml.dll")]
    found = next((path for path in candidates if path.exists()), None)
    if found is None:
        return None
    try:
        ggml = ctypes.CDLL(str(found))  # already loaded by llama_cpp: the same library
        ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
        ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
        ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
        for name in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
            getattr(ggml, name).restype = ctypes.c_char_p
            getattr(ggml, name).argtypes = [ctypes.c_void_p]
        ggml.ggml_backend_dev_type.restype = ctypes.c_int
        ggml.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
        ggml.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                                 ctypes.POINTER(ctypes.c_size_t)]
        devices = []
        for index in range(ggml.ggml_backend_dev_count()):
            device = ggml.ggml_backend_dev_get(index)
            free, total = ctypes.c_size_t(), ctypes.c_size_t()
            ggml.ggml_backend_dev_memory(device, ctypes.byref(free), ctypes.byref(total))
            kind = ggml.ggml_backend_dev_type(device)
            devices.append(Device(
                name=(ggml.ggml_backend_dev_name(device) or b"?").decode(errors="replace"),
                description=(ggml.ggml_backend_dev_description(device) or b"").decode(
                    errors="replace"),
                kind=_DEVICE_KINDS[kind] if 0 <= kind < len(_DEVICE_KINDS) else "other",
                free_bytes=free.value, total_bytes=total.value))
        return tuple(devices)
    except (OSError, AttributeError, ValueError):
        return None


def inspect_llama_cpp() -> LlamaBuild:
    """Import llama_cpp and describe its build; raises what a broken install raises."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info()
    text = info.decode(errors="replace") if isinstance(info, bytes) else str(info)
    # "CUDA : ARCHS = 890 | ... | CPU : SSE3 = 1 | AVX2 = 1 | ...": sections and flags.
    sections = re.findall(r"(?:^|\|)\s*([A-Za-z][\w-]*) :", text)
    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    libraries = [p.name for p in lib_dir.glob("*ggml-*")] if lib_dir.is_dir() else []
    names = {s.lower() for s in sections}
    names |= {m.group(1).lower() for n in libraries if (m := re.search(r"ggml-(\w+)", n))}
    backends = sorted({_BACKEND_NAMES[n] for n in names if n in _BACKEND_NAMES},
                      key=lambda b: (b != "CPU", b))
    cpu = text.split("CPU :", 1)[1] if "CPU :" in text else ""
    features = tuple(name for name, value in re.findall(r"(\w+) = (\w+)", cpu.split(" : ")[0])
                     if value == "1")
    return LlamaBuild(
        version=getattr(llama_cpp, "__version__", "?"), backends=tuple(backends) or ("CPU",),
        gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()),
        devices=_ggml_devices(lib_dir), cpu_features=features)


def check_llama_cpp(settings: Settings) -> tuple[Check, LlamaBuild | None]:
    """llama-cpp-python: installed, loadable, at the pinned version; its build."""
    pinned = _pinned("llama-cpp-python")
    needed = settings.llm_backend == "local"
    bad = Status.FAIL if needed else Status.WARN  # the openai backend runs without it
    reinstall = ("run ./setup.sh" if pinned is None else
                 f"reinstall it: .venv/bin/python -m pip install --force-reinstall "
                 f"--no-cache-dir llama-cpp-python=={pinned}")
    try:
        installed = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return Check("llama-cpp", bad, "llama-cpp-python is not installed",
                     fix="run ./setup.sh"), None
    try:
        build = inspect_llama_cpp()
    except Exception as exc:  # a broken build raises anything from OSError to a ctypes error
        return Check("llama-cpp", bad, f"llama-cpp-python {installed} does not load ({exc})",
                     fix=reinstall), None
    features = f"; CPU: {', '.join(build.cpu_features)}" if build.cpu_features else ""
    summary = f"llama-cpp-python {installed}, built for {', '.join(build.backends)}{features}"
    if pinned is not None and installed != pinned:
        return Check("llama-cpp", Status.WARN, f"{summary}; Causette pins {pinned}",
                     fix=f"run ./setup.sh to install llama-cpp-python {pinned}"), build
    return Check("llama-cpp", Status.OK, summary), build


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_gpu(settings: Settings, build: LlamaBuild | None) -> Check:
    """GPU offload: what the build can do, against N_GPU_LAYERS."""
    if settings.llm_backend != "local":
        return Check("gpu", Status.SKIP, "LLM_BACKEND=openai: the servers run the model")
    if build is None:
        return Check("gpu", Status.SKIP, "llama-cpp-python does not load (see above)")
    layers = settings.n_gpu_layers
    wanted = "every layer" if layers == -1 else f"{layers} layer(s)"
    gpu_backends = [b for b in build.backends if b not in ("CPU", "BLAS", "RPC")]
    gpus = ", ".join(f"{d.description or d.name} ({_gib(d.free_bytes)} free of "
                     f"{_gib(d.total_bytes)})" for d in build.gpus)
    rebuild = ('rebuild llama-cpp-python for the GPU: CMAKE_ARGS="-DGGML_CUDA=on" (or '
               '-DGGML_METAL=on, -DGGML_VULKAN=on) .venv/bin/python -m pip install '
               '--force-reinstall --no-cache-dir llama-cpp-python'
               + (f"=={pin}" if (pin := _pinned("llama-cpp-python")) else ""))
    if layers == 0:
        if build.gpu_offload and build.gpus:
            return Check("gpu", Status.OK,
                         f"GPU offload possible on {gpus}; N_GPU_LAYERS=0 keeps the model "
                         "on the CPU", fix="set N_GPU_LAYERS=-1 to run it on the GPU",
                         setting="N_GPU_LAYERS")
        if build.gpu_offload:
            return Check("gpu", Status.OK, f"the build supports {', '.join(gpu_backends)} "
                         "offload; N_GPU_LAYERS=0: CPU only")
        return Check("gpu", Status.OK, "CPU-only build, N_GPU_LAYERS=0: CPU only")
    if not build.gpu_offload:
        return Check("gpu", Status.WARN,
                     f"N_GPU_LAYERS={layers} asks for {wanted} on the GPU, but this "
                     "llama-cpp-python has no GPU backend: the model runs on the CPU",
                     fix=f"{rebuild}; or set N_GPU_LAYERS=0", setting="N_GPU_LAYERS")
    if build.devices is not None and not build.gpus:
        return Check("gpu", Status.WARN,
                     f"N_GPU_LAYERS={layers}, and the build supports "
                     f"{', '.join(gpu_backends)}, but no GPU is visible: the model runs "
                     "on the CPU", fix="check the GPU driver (nvidia-smi) and that this "
                     "user may use the device; or set N_GPU_LAYERS=0",
                     setting="N_GPU_LAYERS")
    where = gpus or ", ".join(gpu_backends)
    return Check("gpu", Status.OK, f"N_GPU_LAYERS={layers}: {wanted} on {where}")


# The model ---------------------------------------------------------------------------------

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


# The database ------------------------------------------------------------------------------

class _RolledBack(Exception):
    """Raised inside the probe's transaction so that its write is undone."""


async def _probe(driver: Any) -> int:
    """The schema version, read in a transaction that also writes (and is rolled back):
    what start-up's migration does first, without keeping anything."""
    from bot.store import iso, utc_now
    from bot.store.schema import SCHEMA_VERSION_TABLE

    version = 0
    try:
        async with driver.transaction() as db:
            await db.execute(SCHEMA_VERSION_TABLE[driver.dialect])
            row = await db.fetchrow("SELECT MAX(version) FROM schema_version")
            version = int(row[0]) if row and row[0] is not None else 0
            await db.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                             (-1, iso(utc_now())))
            raise _RolledBack
    except _RolledBack:
        pass
    return version


def _schema(version: int, where: str, setting: str) -> Check | str:
    """The schema version as words, or a failing check when it is newer than ours."""
    from bot.store import SCHEMA_VERSION

    if version > SCHEMA_VERSION:
        return Check("database", Status.FAIL,
                     f"{where} has schema version {version}, newer than this Causette's "
                     f"{SCHEMA_VERSION}", fix="upgrade Causette (git pull && ./setup.sh)",
                     setting=setting)
    if version < SCHEMA_VERSION:
        return f"schema version {version} of {SCHEMA_VERSION}, migrated at start-up"
    return f"schema version {version} (current)"


async def check_database(settings: Settings, wait_s: float = NETWORK_TIMEOUT_S) -> Check:
    """The database: reachable, its schema version, writable, free disk."""
    if settings.database_url is not None:
        return await _check_postgres(settings.database_url.get_secret_value(), wait_s)
    return await _check_sqlite(settings.database_path, wait_s)


@dataclass(frozen=True)
class _SqliteFile:
    """What the file system says about DATABASE_PATH."""

    problem: Check | None
    exists: bool
    free: int


def _sqlite_file(path: Path) -> _SqliteFile:
    setting = "DATABASE_PATH"
    if path.exists() and not path.is_file():
        return _SqliteFile(Check("database", Status.FAIL, f"{path} is not a file",
                                 fix="point DATABASE_PATH at a file (created if missing)",
                                 setting=setting), True, 0)
    folder = path.absolute().parent
    while not folder.exists():  # the folder is created at first start, under this one
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return _SqliteFile(Check("database", Status.FAIL,
                                 f"{path} does not exist and {folder} is not writable to "
                                 "create it", fix="make the folder writable for this user, "
                                 "or change DATABASE_PATH", setting=setting), False, free)
    return _SqliteFile(None, path.exists(), free)


async def _check_sqlite(path: Path, wait_s: float) -> Check:
    from bot.store import StoreError
    from bot.store.sqlite import SqliteDriver

    setting = "DATABASE_PATH"
    found = await asyncio.to_thread(_sqlite_file, path)
    if found.problem is not None:
        return found.problem
    disk = f"{_gib(found.free)} free on its disk"
    if not found.exists:
        state = f"SQLite {path}: not created yet (it is, at first start); {disk}"
    else:
        try:
            driver = await SqliteDriver.open(path, busy_timeout_ms=int(wait_s * 1000))
            try:
                version = await _probe(driver)
            finally:
                await driver.close()
        except StoreError as exc:
            return Check("database", Status.FAIL, f"SQLite {path}: {exc}",
                         fix="make the file and its folder writable for this user, or "
                             "point DATABASE_PATH elsewhere", setting=setting)
        schema = _schema(version, str(path), setting)
        if isinstance(schema, Check):
            return schema
        state = f"SQLite {path}: {schema}, writable; {disk}"
    if found.free < DISK_FAIL_BYTES:
        return Check("database", Status.FAIL, state, fix="free some disk space, or move "
                     "DATABASE_PATH to a disk with room", setting=setting)
    if found.free < DISK_WARN_BYTES:
        return Check("database", Status.WARN, state, fix="free some disk space soon",
                     setting=setting)
    return Check("database", Status.OK, state)


async def _check_postgres(url: str, wait_s: float) -> Check:
    from bot.store import StoreError
    from bot.store.postgres import PostgresDriver, redact

    setting, where = "DATABASE_URL", redact(url)
    fix = ("check that PostgreSQL runs and is reachable at the host and port of "
           "DATABASE_URL, and its user, password and database name")
    try:
        driver = await asyncio.wait_for(
            PostgresDriver.open(url, pool_size=1, connect_timeout_s=wait_s), wait_s + 1)
    except StoreError as exc:  # its message names the database, without the password
        return Check("database", Status.FAIL, str(exc), fix=fix, setting=setting)
    except TimeoutError:
        return Check("database", Status.FAIL,
                     f"Database {where}: no answer in {wait_s:g} s", fix=fix, setting=setting)
    try:
        version = await asyncio.wait_for(_probe(driver), wait_s)
    except (StoreError, TimeoutError) as exc:
        return Check("database", Status.FAIL,
                     f"PostgreSQL {where}: reachable, but {exc or 'the probe timed out'}",
                     fix="grant this user CREATE and write rights on its schema, or point "
                         "DATABASE_URL at the primary", setting=setting)
    finally:
        await driver.close()
    schema = _schema(version, where, setting)
    if isinstance(schema, Check):
        return schema
    return Check("database", Status.OK,
                 f"PostgreSQL {where}: {schema}, writable; its free disk is the server's")


# The inference backend ---------------------------------------------------------------------

def _reason(exc: BaseException, wait_s: float) -> str:
    """A network error in a few words."""
    if isinstance(exc, TimeoutError):
        return f"no answer in {wait_s:g} s"
    return str(exc) or type(exc).__name__


async def check_backend(settings: Settings, wait_s: float = NETWORK_TIMEOUT_S) -> list[Check]:
    """The in-process engine, or every LLM_BASE_URL server answering /models."""
    if settings.llm_backend == "local":
        return [Check("backend", Status.OK,
                      f"in-process llama.cpp: N_PARALLEL={settings.n_parallel} conversations "
                      f"at once, N_CTX={settings.n_ctx} tokens each, "
                      f"{settings.threads} thread(s)")]
    urls = [url.strip().rstrip("/") for url in settings.llm_base_url.split(",") if url.strip()]
    if not urls:
        return [Check("backend", Status.FAIL, "LLM_BACKEND=openai but LLM_BASE_URL names no "
                      "server", fix="set LLM_BASE_URL=http://host:port/v1", setting="LLM_BASE_URL")]
    key = settings.llm_api_key
    headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
    async with aiohttp.ClientSession(headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=wait_s)) as session:
        return list(await asyncio.gather(*(_probe_server(session, url, settings, wait_s)
                                           for url in urls)))


async def _probe_server(session: aiohttp.ClientSession, url: str, settings: Settings,
                        wait_s: float) -> Check:
    name, setting = "backend", "LLM_BASE_URL"
    try:
        async with session.get(f"{url}/models") as response:
            if response.status in (401, 403):
                return Check(name, Status.FAIL, f"{url} refused the key (HTTP {response.status})",
                             fix="set LLM_API_KEY to a key this server accepts",
                             setting="LLM_API_KEY")
            if response.status != 200:
                return Check(name, Status.FAIL,
                             f"{url}/models answered HTTP {response.status}",
                             fix="LLM_BASE_URL must be the server's OpenAI-compatible base "
                                 "URL, usually ending in /v1", setting=setting)
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Check(name, Status.FAIL, f"{url} does not answer ({_reason(exc, wait_s)})",
                     fix="start the inference server, or correct LLM_BASE_URL", setting=setting)
    models = body.get("data") if isinstance(body, dict) else None
    if not isinstance(models, list):
        return Check(name, Status.FAIL, f"{url}/models did not answer an OpenAI model list",
                     fix="point LLM_BASE_URL at an OpenAI-compatible server (.../v1)",
                     setting=setting)
    ids = [str(m.get("id")) for m in models if isinstance(m, dict)]
    if settings.llm_model and ids and settings.llm_model not in ids:
        return Check(name, Status.WARN,
                     f"{url} serves {', '.join(ids)}, not LLM_MODEL={settings.llm_model}",
                     fix="set LLM_MODEL to one of them, or leave it empty for the server's "
                         "default", setting="LLM_MODEL")
    return Check(name, Status.OK, f"{url} answers /models: {', '.join(ids) or 'none listed'}")


# Discord -----------------------------------------------------------------------------------

def token_problem(token: str) -> str | None:
    """What is wrong with the shape of a Discord bot token, or None when it looks right.

    A bot token is three base64url parts joined by dots, the first being the bot's user
    id; the usual mistakes are pasting the application id, the OAuth2 client secret, the
    'Bot ' prefix or quotes with it."""
    if token != token.strip() or any(c.isspace() for c in token):
        if token.strip().startswith("Bot "):
            return "it starts with 'Bot ': give the token alone"
        return "it has spaces or line breaks in it"
    if token[:1] in "\"'" and token[-1:] == token[:1]:
        return "it is wrapped in quotes"
    if token.isdigit():
        return "it is a number: that is the application (client) id, not the bot token"
    if "." not in token and re.fullmatch(r"[A-Za-z0-9_-]{32}", token):
        return "it looks like the OAuth2 client secret, not the bot token"
    if not re.fullmatch(r"[A-Za-z0-9_-]{17,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}", token):
        return "it is not a bot token (three parts separated by dots)"
    if token_bot_id(token) is None:
        return "its first part is not a bot's id: the token is cut or altered"
    return None


def token_bot_id(token: str) -> str | None:
    """The bot's user id that a token's first part encodes, or None."""
    first = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if decoded.isdigit() else None


async def check_discord(settings: Settings, wait_s: float = NETWORK_TIMEOUT_S,
                        api: str = DISCORD_API) -> list[Check]:
    """The token's shape; where Discord answers, whose it is and the Message Content
    intent. Not reaching Discord is a warning: the network may be down just here."""
    if settings.discord_token is None:
        return [Check("discord", Status.SKIP,
                      "DISCORD_TOKEN not set: `causette run` opens the terminal chat")]
    token = settings.discord_token.get_secret_value()
    problem = token_problem(token)
    if problem is not None:  # the token itself is never shown, not even in part
        return [Check("discord", Status.FAIL, f"DISCORD_TOKEN is malformed: {problem}",
                      fix=TOKEN_FIX, setting="DISCORD_TOKEN")]
    bot_id = token_bot_id(token)
    headers = {"Authorization": f"Bot {token}",
               "User-Agent": "DiscordBot (https://github.com/causette, 0.1) causette-doctor"}
    try:
        async with aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=wait_s)) as session:
            async with session.get(f"{api}/users/@me") as response:
                if response.status == 401:
                    return [Check("discord", Status.FAIL,
                                  f"Discord refused DISCORD_TOKEN (bot id {bot_id}): it was "
                                  "reset or revoked", fix=TOKEN_FIX, setting="DISCORD_TOKEN")]
                if response.status != 200:
                    return [Check("discord", Status.WARN,
                                  f"token well-formed (bot id {bot_id}); Discord answered "
                                  f"HTTP {response.status}, so it was not checked",
                                  fix="run `causette doctor` again later")]
                user = await response.json(content_type=None)
            async with session.get(f"{api}/applications/@me") as response:
                app = await response.json(content_type=None) if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return [Check("discord", Status.WARN,
                      f"token well-formed (bot id {bot_id}); could not reach Discord "
                      f"({_reason(exc, wait_s)}), so neither the token nor the Message "
                      "Content intent was checked",
                      fix="run `causette doctor` where discord.com is reachable")]
    user = user if isinstance(user, dict) else {}
    who = f"{user.get('username', '?')} (id {user.get('id', bot_id)})"
    checks = [Check("discord", Status.OK, f"DISCORD_TOKEN is the bot {who}")]
    if not isinstance(app, dict) or not isinstance(app.get("flags"), int):
        checks.append(Check("discord intent", Status.WARN,
                            "could not read the application's flags: Message Content intent "
                            "not checked", fix="check it in the Developer Portal (Bot > "
                            "Privileged Gateway Intents)"))
    elif app["flags"] & MESSAGE_CONTENT_FLAGS:
        checks.append(Check("discord intent", Status.OK, "Message Content intent on"))
    else:
        checks.append(Check("discord intent", Status.FAIL,
                            "the Message Content intent is off: Discord refuses the bot's "
                            "connection, which asks for it",
                            fix="turn on Message Content Intent in the Developer Portal "
                                "(your application > Bot > Privileged Gateway Intents)"))
    return checks


# WhatsApp and ports ------------------------------------------------------------------------

WHATSAPP_SETTINGS = ("whatsapp_verify_token", "whatsapp_app_secret", "whatsapp_access_token")


def check_whatsapp(settings: Settings) -> Check:
    """The WhatsApp settings: all three, or none."""
    from bot.whatsapp import missing_settings

    missing = missing_settings(settings)
    if len(missing) == len(WHATSAPP_SETTINGS):
        return Check("whatsapp", Status.SKIP, "not configured (`causette whatsapp` needs "
                     "WHATSAPP_VERIFY_TOKEN, WHATSAPP_APP_SECRET and WHATSAPP_ACCESS_TOKEN)")
    if missing:
        return Check("whatsapp", Status.FAIL, f"incomplete: {', '.join(missing)} not set",
                     fix="set them from your Meta app (WhatsApp > Configuration), or unset "
                         "all three to leave WhatsApp off", setting=missing[0])
    return Check("whatsapp", Status.OK,
                 f"configured: webhook http://{settings.whatsapp_host}:"
                 f"{settings.whatsapp_port}/webhook, Graph API {settings.whatsapp_graph_url}")


def port_problem(host: str, port: int) -> tuple[str, bool] | None:
    """Why a server could not listen on host:port, and whether the host is to blame;
    None when it can."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        return f"{host} is not a usable address ({exc})", True
    try:
        with socket.socket(family, kind, proto) as probe:
            # As aiohttp and prometheus_client do: a port in TIME_WAIT is free to them.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (f"{host}:{port} is taken (by another program, or Causette already "
                    "running)"), False
        if exc.errno == errno.EACCES:
            return f"{host}:{port} needs root (a port below 1024)", False
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"{host} is not an address of this machine", True
        return f"cannot listen on {host}:{port} ({exc})", False
    return None


def check_ports(settings: Settings) -> list[Check]:
    """The ports Causette will listen on, free: the WhatsApp webhook (when configured)
    and the metrics (when METRICS_PORT is set)."""
    # (check name, port setting, host setting, host, port, what listens there)
    wanted: list[tuple[str, str, str, str, int, str]] = []
    if any(getattr(settings, name) is not None for name in WHATSAPP_SETTINGS):
        wanted.append(("port webhook", "WHATSAPP_PORT", "WHATSAPP_HOST",
                       settings.whatsapp_host, settings.whatsapp_port, "the WhatsApp webhook"))
    if settings.metrics_port:  # bot/metrics.py serves on 127.0.0.1 only
        wanted.append(("port metrics", "METRICS_PORT", "METRICS_PORT", "127.0.0.1",
                       settings.metrics_port, "Prometheus metrics"))
    if not wanted:
        return [Check("ports", Status.SKIP, "nothing to listen on: WhatsApp not configured, "
                      "METRICS_PORT=0")]
    if len(wanted) == 2 and wanted[0][4] == wanted[1][4]:
        return [Check("ports", Status.FAIL,
                      f"WHATSAPP_PORT and METRICS_PORT are both {settings.metrics_port}",
                      fix="give METRICS_PORT another port", setting="METRICS_PORT")]
    checks = []
    for name, port_setting, host_setting, host, port, what in wanted:
        found = port_problem(host, port)
        if found is None:
            checks.append(Check(name, Status.OK, f"{what}: {host}:{port} free"))
            continue
        problem, host_at_fault = found
        setting = host_setting if host_at_fault else port_setting
        fix = (f"set {setting} to an address of this machine (127.0.0.1, 0.0.0.0)"
               if host_at_fault else f"free the port, or set {setting} to another")
        checks.append(Check(name, Status.FAIL, f"{what}: {problem}", fix=fix,
                            setting=setting))
    return checks
