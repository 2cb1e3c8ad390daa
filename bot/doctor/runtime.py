"""Python, the llama-cpp-python build, and whether the GPU can take the layers asked for."""

from __future__ import annotations

import ctypes
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.doctor.results import Check, Status


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
