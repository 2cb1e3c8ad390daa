"""Models from the Hugging Face Hub: choose a GGUF in a repository, check there is room,
download it with `huggingface_hub` (progress, resumption), verify it, validate it.

`huggingface_hub` does the HTTP: redirects, `Range` requests that resume a cut download
(its `.incomplete` file under `models/.cache/`), `HF_TOKEN` and offline mode. What it does
not do, this module does: pick the file for a quantisation, refuse a download the disk or
the RAM cannot hold before it starts, check the SHA-256 the hub publishes for the file
(a mirror or a proxy can hand out other bytes), and check the result is a GGUF that
llama.cpp can read. Nothing here runs unless an operator asks for it: the default model
comes from PyPI (`gguf.fetch_default_model`), never from a hub.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.engine.gguf import GGUFInfo, read_gguf, sha256_of

DEFAULT_ENDPOINT = "https://huggingface.co"
# A GGUF loads into RAM about whole, plus the KV cache and the runtime: this much more.
RAM_HEADROOM_BYTES = 1 << 30
# Keep this much disk free beyond the file itself (logs, the database, its WAL).
DISK_HEADROOM_BYTES = 256 << 20
_SPLIT = re.compile(r"-\d{5}-of-\d{5}\.gguf$")


class PullError(Exception):
    """A pull that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class PullPlan:
    """The one file a pull will fetch, as the hub describes it."""

    repo: str
    filename: str
    revision: str
    size: int | None
    sha256: str | None


@dataclass(frozen=True)
class HubSettings:
    """Where the hub is and who we are to it: `HF_ENDPOINT`, `HF_TOKEN`, offline mode."""

    endpoint: str
    token: str | None
    offline: bool

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> HubSettings:
        """Read the variables `huggingface_hub` itself honours, at call time."""
        env = os.environ if environ is None else environ
        offline = env.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
        return cls(endpoint=(env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/"),
                   token=env.get("HF_TOKEN") or None, offline=offline)


def choose_file(files: list[str], quant: str | None = None, filename: str | None = None
                ) -> str:
    """The GGUF to fetch: `filename` exactly, or the one whose name carries `quant`."""
    ggufs = sorted(f for f in files if f.lower().endswith(".gguf"))
    if filename:
        if filename in files:
            return filename
        raise PullError(f"{filename} is not in this repository; its GGUF files: "
                        f"{', '.join(ggufs) or 'none'}")
    if not ggufs:
        raise PullError("this repository holds no .gguf file: pick a GGUF repository "
                        "(names usually end in -GGUF)")
    if quant is None:
        if len(ggufs) == 1:
            return ggufs[0]
        raise PullError(f"several GGUF files here; choose one with --quant (e.g. Q4_K_M) "
                        f"or by name: {', '.join(ggufs)}")
    wanted = re.compile(rf"(?<![A-Za-z0-9]){re.escape(quant)}(?![A-Za-z0-9_])", re.I)
    matches = [f for f in ggufs if wanted.search(Path(f).name)]
    whole = [f for f in matches if not _SPLIT.search(f)]
    if len(whole) == 1:
        return whole[0]
    if matches and not whole:
        raise PullError(f"{quant} comes split in {len(matches)} parts here, which a pull "
                        "does not join: choose a single-file quantisation")
    if not matches:
        raise PullError(f"no {quant} file here; the GGUF files are: {', '.join(ggufs)}")
    raise PullError(f"several files match {quant}: {', '.join(whole)}; give the file name")


def room_problems(size: int, models_dir: Path, *, ram_bytes: int | None = None,
                  free_bytes: int | None = None) -> list[str]:
    """What stops a model of `size` bytes from being stored and loaded here."""
    problems = []
    free = free_bytes if free_bytes is not None else shutil.disk_usage(
        _existing(models_dir)).free
    if size + DISK_HEADROOM_BYTES > free:
        problems.append(f"not enough disk: the file is {_gib(size)}, {_gib(free)} free in "
                        f"{models_dir}")
    ram = ram_bytes if ram_bytes is not None else total_ram_bytes()
    if ram is not None and size + RAM_HEADROOM_BYTES > ram:
        problems.append(f"not enough RAM: it needs about {_gib(size + RAM_HEADROOM_BYTES)} "
                        f"and this machine has {_gib(ram)}")
    return problems


def total_ram_bytes() -> int | None:
    """This machine's RAM, from /proc/meminfo (None where there is none)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def plan(repo: str, *, quant: str | None = None, filename: str | None = None,
         revision: str = "main", hub: HubSettings | None = None) -> PullPlan:
    """Ask the hub which files `repo` holds and describe the one to fetch."""
    from huggingface_hub import HfApi

    hub = hub or HubSettings.from_env()
    _online(hub)
    try:
        info = HfApi(endpoint=hub.endpoint, token=hub.token).model_info(
            repo, revision=revision, files_metadata=True)
    except Exception as exc:
        raise PullError(explain(exc, repo)) from exc
    siblings = {s.rfilename: s for s in info.siblings or []}
    chosen = choose_file(list(siblings), quant, filename)
    sibling = siblings[chosen]
    lfs = getattr(sibling, "lfs", None)
    sha = getattr(lfs, "sha256", None) if lfs is not None else None
    size = getattr(lfs, "size", None) or getattr(sibling, "size", None)
    return PullPlan(repo, chosen, info.sha or revision, size, sha)


def download(pull: PullPlan, models_dir: Path, *, hub: HubSettings | None = None,
             force: bool = False) -> Path:
    """Fetch `pull` into `models_dir` (resuming a cut download), then verify and validate
    it. A file that fails either check is deleted, never left for the bot to load."""
    from huggingface_hub import hf_hub_download

    hub = hub or HubSettings.from_env()
    _online(hub)
    if pull.size is not None and not force:
        problems = room_problems(pull.size, models_dir)
        if problems:
            raise PullError("; ".join(problems) + " (--force to try anyway)")
    models_dir.mkdir(parents=True, exist_ok=True)
    try:
        path = Path(hf_hub_download(pull.repo, pull.filename, revision=pull.revision,
                                    local_dir=models_dir, endpoint=hub.endpoint,
                                    token=hub.token))
    except Exception as exc:
        raise PullError(explain(exc, pull.repo)) from exc
    verify(path, pull)
    return path


def verify(path: Path, pull: PullPlan) -> GGUFInfo:
    """The file's SHA-256 is the hub's and it reads as a GGUF; otherwise it is removed."""
    try:
        if pull.sha256 and sha256_of(path) != pull.sha256.lower():
            raise PullError(f"{pull.filename}: its SHA-256 is not the one the hub publishes "
                            "(a corrupted or substituted download); it was deleted, pull "
                            "again")
        try:
            return read_gguf(path)
        except Exception as exc:
            raise PullError(f"{pull.filename} is not a valid GGUF ({exc}); it was "
                            "deleted") from exc
    except PullError:
        path.unlink(missing_ok=True)
        raise


def explain(exc: BaseException, repo: str) -> str:
    """One sentence for what went wrong talking to the hub, and what to do."""
    name = type(exc).__name__
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if name == "GatedRepoError":
        return (f"{repo} is gated: accept its licence on its hub page with your account, "
                "then set HF_TOKEN to a token of that account")
    if name == "RepositoryNotFoundError" or status == 401:
        return (f"{repo} was not found, or it is private or gated and needs HF_TOKEN "
                "(the hub answers 401 for both)")
    if name == "RevisionNotFoundError":
        return f"{repo} has no such revision"
    if name in {"EntryNotFoundError", "RemoteEntryNotFoundError"}:
        return f"{repo} has no such file"
    if name in {"LocalEntryNotFoundError", "ConnectError", "ConnectTimeout"}:
        return "the hub could not be reached (check the network, or HF_ENDPOINT)"
    if status is not None:
        return f"the hub answered HTTP {status}: {str(exc).splitlines()[0]}"
    return f"{name}: {exc}"


def _online(hub: HubSettings) -> None:
    if hub.offline:
        raise PullError("offline mode is on (HF_HUB_OFFLINE=1): a pull needs the hub; "
                        "unset it, or copy a .gguf into models/ by hand")


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def describe(pull: PullPlan) -> dict[str, Any]:
    """What `causette model pull` prints before it starts."""
    return {"repository": pull.repo, "file": pull.filename, "revision": pull.revision,
            "size": _gib(pull.size) if pull.size else "unknown",
            "sha256": pull.sha256 or "not published"}
