"""The engine beside llama.cpp's own `llama-server` and `llama-batched-bench`, in one run.

The peer is built from the llama.cpp that the installed llama-cpp-python's sdist vendors
(the same version, `LLAMA_CPP_VERSION`), once, into a folder outside the repository
(`~/.cache/causette/llama.cpp-<version>/`, or `CAUSETTE_PEER_CACHE`), with
`CAUSETTE_PEER_CMAKE_ARGS` added to its CMake flags (a CUDA build: `-DGGML_CUDA=ON`; give
it a cache folder of its own). The server runs on 127.0.0.1 with the engine's threads,
slots, per-slot context, batch and GPU layers (`N_GPU_LAYERS`); the engine runs
in a process of its own (only one thread of a process may ever call `llama_decode`:
llama.cpp's OpenMP pools of two decoding threads fight over the cores), and this process
only sends work to both and reads the clocks.

Both sides get identical work: the engine renders every prompt to tokens, the server
receives those very tokens (`/completion` with a token list), and both decode a fixed
number of tokens (`ignore_eos` on the server, end tokens never sampled in the engine).
Every part uses prompts that nothing before it cached.
"""

from __future__ import annotations

import asyncio
import glob
import json
import multiprocessing
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.questions import QUESTIONS, opener

LLAMA_CPP_VERSION = "0.3.36"
LEVELS = (1, 2, 4, 8)
CHAT_USERS, CHAT_TURNS, CHAT_SLOTS, CHAT_TOKENS = 8, 6, 4, 64
TARGETS = ("llama-server", "llama-batched-bench")
CMAKE_FLAGS = ("-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_BUILD_UI=OFF",
               "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
               "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
               "-DBUILD_SHARED_LIBS=OFF")

# The chat workload's shared system prompt (about 65 tokens, like the bot's own).
CHAT_SYSTEM = (
    "You are Causette, a friendly and patient assistant in a chat app. Answer in the "
    "user's language, kindly and precisely. Keep answers short unless asked for detail, "
    "use plain words, never invent facts, and say so when you do not know. Stay polite "
    "even when the user is not, and never share personal data.")

Messages = list[tuple[str, str]]  # (role, content): picklable across processes


# Work: the same prompts on both sides ---------------------------------------------------

def level_prompts(level: int, run: int = 0) -> list[Messages]:
    """The `level` conversations of one level: distinct from each other and from every
    other level's and run's from their first tokens on, so no level finds another's
    prompt cached and the engine copies no shared prefix between them (the server
    could not): a code unique to the conversation comes first."""
    return [[("system", f"{opener(run, level, i)}. Run {run}, level {level}, "
                        f"conversation {i}. You are a helpful assistant."),
             ("user", QUESTIONS[(i + level) % len(QUESTIONS)])] for i in range(level)]


def chat_script(tag: str = "") -> list[list[Messages]]:
    """[turn][user] -> the messages of that request: the shared system prompt, then the
    user's turns and the same scripted assistant turns on both sides."""
    turns: list[list[Messages]] = []
    histories: list[Messages] = [[("system", CHAT_SYSTEM + tag)] for _ in range(CHAT_USERS)]
    for turn in range(CHAT_TURNS):
        row = []
        for user, history in enumerate(histories):
            history.append(("user", f"{QUESTIONS[(user + turn) % len(QUESTIONS)]} "
                                    f"(I am user {user}, this is my question {turn + 1}.)"))
            row.append(list(history))
            history.append(("assistant", f"Here is my answer {turn + 1} for you, user "
                                         f"{user}: it is a short and friendly one, as "
                                         "you asked."))
        turns.append(row)
    return turns


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# Building the peer ------------------------------------------------------------------------

def cache_dir() -> Path:
    default = Path.home() / ".cache" / "causette" / f"llama.cpp-{LLAMA_CPP_VERSION}"
    return Path(os.environ.get("CAUSETTE_PEER_CACHE", default))


def cmake_flags() -> list[str]:
    """CMAKE_FLAGS, then CAUSETTE_PEER_CMAKE_ARGS (shell words; later flags win)."""
    return [*CMAKE_FLAGS, *shlex.split(os.environ.get("CAUSETTE_PEER_CMAKE_ARGS", ""))]


def gpu_layers(n_gpu_layers: int) -> list[str]:
    """llama.cpp's flags for the engine's N_GPU_LAYERS (-1: every layer, as the engine's
    -1 means), with fitting to free memory off: the engine's context is never refit."""
    return ["-ngl", "all" if n_gpu_layers < 0 else str(n_gpu_layers), "-fit", "off"]


def _sdist(cache: Path, say: Callable[[str], None]) -> Path:
    found = sorted(glob.glob(str(cache / "sdist" / f"llama_cpp_python-{LLAMA_CPP_VERSION}"
                                                    ".tar.gz")))
    if found:
        return Path(found[0])
    say(f"downloading the llama-cpp-python {LLAMA_CPP_VERSION} sdist (pip's cache first)")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", f"llama-cpp-python=={LLAMA_CPP_VERSION}", "-d",
                    str(cache / "sdist")], check=True, stdout=subprocess.DEVNULL)
    return _sdist(cache, say)


def build(cache: Path | None = None, say: Callable[[str], None] | None = None,
          every_s: float = 30.0) -> Path:
    """The folder holding `llama-server` and `llama-batched-bench`, built if missing."""
    cache = cache or cache_dir()
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    bin_dir = cache / "build" / "bin"
    if all((bin_dir / name).exists() for name in TARGETS):
        return bin_dir
    cache.mkdir(parents=True, exist_ok=True)
    src = cache / "src"
    if not (src / "CMakeLists.txt").exists():
        sdist = _sdist(cache, say)
        prefix = f"llama_cpp_python-{LLAMA_CPP_VERSION}/vendor/llama.cpp/"
        with tempfile.TemporaryDirectory(dir=cache) as tmp, tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            tar.extractall(tmp, members=members, filter="data")
            shutil.rmtree(src, ignore_errors=True)
            Path(tmp, prefix).rename(src)
    say(f"building llama.cpp {LLAMA_CPP_VERSION}'s {' and '.join(TARGETS)} into {cache} "
        "(about 10 minutes the first time on 2 idle cores: 18 CPU-minutes; cached afterwards)")
    log = (cache / "build.log").open("w")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    steps = [["cmake", "-S", str(src), "-B", str(cache / "build"), *generator, *cmake_flags()],
             ["cmake", "--build", str(cache / "build"), "--target", *TARGETS,
              "-j", str(os.cpu_count() or 1)]]
    started = time.monotonic()
    for step in steps:
        process = subprocess.Popen(step, stdout=log, stderr=subprocess.STDOUT)
        while True:
            try:
                process.wait(timeout=every_s)
                break
            except subprocess.TimeoutExpired:
                say(f"still building, {time.monotonic() - started:.0f} s")
        if process.returncode:
            raise RuntimeError(f"building llama.cpp failed: see {cache / 'build.log'}")
    say(f"built in {time.monotonic() - started:.0f} s")
    return bin_dir


# The engine, in a process of its own ----------------------------------------------------

def _engine_child(conn: Any, update: dict[str, Any]) -> None:
    """Serve `render` and `batch` commands over `conn` with one engine (its worker is
    the only thread of this process that decodes)."""
    asyncio.run(_engine_loop(conn, update))


async def _engine_loop(conn: Any, update: dict[str, Any]) -> None:
    from bot.config import load_settings
    from bot.engine import ChatMessage, SamplingParams
    from bot.engine.batched import BatchedLlamaEngine

    engine = BatchedLlamaEngine(load_settings(temperature=0.0, **update))
    engine.ignore_eos = True
    await engine.start()

    def chat(messages: Messages) -> list[ChatMessage]:
        return [ChatMessage(role, content) for role, content in messages]  # type: ignore[arg-type]

    async def one(messages: Messages, key: str | None, max_tokens: int) -> dict[str, Any]:
        started = time.perf_counter()
        generation = engine.submit(chat(messages), SamplingParams(
            max_tokens=max_tokens, temperature=0.0), cache_key=key)
        first = None
        async for _ in generation:
            first = first or time.perf_counter()
        result = await generation.result()
        assert result.stop_reason == "length", result
        return {"ttft_ms": ((first or time.perf_counter()) - started) * 1000,
                "tokens": result.completion_tokens, "cached": result.cached_tokens,
                "new_tokens": result.prompt_tokens - result.cached_tokens,
                "prefill_ms": result.prefill_s * 1000}

    try:
        conn.send(("ready", None))
        while True:
            command, args = conn.recv()
            if command == "stop":
                break
            try:
                if command == "render":
                    conn.send(("ok", [engine.render(chat(m)) for m in args]))
                    continue
                requests, max_tokens = args
                started = time.perf_counter()
                rows = await asyncio.gather(*(one(m, key, max_tokens) for m, key in requests))
                conn.send(("ok", {"elapsed_s": time.perf_counter() - started, "rows": rows}))
            except Exception:
                import traceback

                conn.send(("error", traceback.format_exc()))
    finally:
        await engine.close()


class EngineProcess:
    """A BatchedLlamaEngine in a spawned process: `render` and `batch`."""

    def __init__(self, **update: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_engine_child, args=(child, update),
                                        daemon=True)
        self._process.start()
        self._call_reply()

    def _call_reply(self) -> Any:
        if not self._conn.poll(600):
            raise RuntimeError("the engine process did not answer")
        status, value = self._conn.recv()
        if status == "error":
            raise RuntimeError(f"the engine process failed:\n{value}")
        return value

    def render(self, prompts: list[Messages]) -> list[list[int]]:
        self._conn.send(("render", prompts))
        return list(self._call_reply())

    def batch(self, requests: list[tuple[Messages, str | None]], max_tokens: int
              ) -> dict[str, Any]:
        """Submit every request at once; the elapsed time and each request's figures."""
        self._conn.send(("batch", (requests, max_tokens)))
        return dict(self._call_reply())

    def close(self) -> None:
        try:
            self._conn.send(("stop", None))
        finally:
            self._process.join(60)
            if self._process.is_alive():
                self._process.kill()


# The server -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(bin_dir: Path, settings: Any, slots: int, port: int) -> list[str]:
    """llama-server with the engine's threads, slots, per-slot context, batch and GPU
    layers."""
    return [str(bin_dir / "llama-server"), "-m", str(settings.model_path),
            "--host", "127.0.0.1", "--port", str(port),
            "-t", str(settings.threads), "-tb", str(settings.threads),
            "--parallel", str(slots), "-c", str(settings.n_ctx * slots),
            "-b", str(settings.n_batch), "-ub", str(settings.n_batch),
            *gpu_layers(settings.n_gpu_layers), "--no-webui"]


class Server:
    def __init__(self, bin_dir: Path, settings: Any, slots: int) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(server_command(bin_dir, settings, slots, port),
                                         stdout=self._log, stderr=subprocess.STDOUT)
        import urllib.request

        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._log.seek(0)
                raise RuntimeError("llama-server did not start: "
                                   + self._log.read()[-2000:].decode(errors="replace"))
            time.sleep(0.2)

    async def _one(self, session: Any, tokens: list[int], max_tokens: int) -> dict[str, Any]:
        body = {"prompt": tokens, "n_predict": max_tokens, "ignore_eos": True,
                "temperature": 0.0, "stream": True, "cache_prompt": True,
                "return_tokens": True}
        started = time.perf_counter()
        first, count, cached, final, timings = None, 0, 0, None, {}
        async with session.post(f"{self.url}/completion", json=body) as response:
            response.raise_for_status()
            async for raw in response.content:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue
                chunk = json.loads(line[5:])
                if chunk.get("tokens"):
                    first = first or time.perf_counter()
                    count += len(chunk["tokens"])
                if chunk.get("stop"):
                    final = chunk.get("tokens_predicted", count)
                    cached = chunk.get("tokens_cached", 0)
                    timings = chunk.get("timings") or {}
        # The server's own prefill figures: the prompt tokens it processed (not reused
        # from its cache) and the time that took.
        return {"ttft_ms": ((first or time.perf_counter()) - started) * 1000,
                "tokens": final if final is not None else count,
                "streamed": count, "cached": cached,
                "new_tokens": timings.get("prompt_n", 0),
                "prefill_ms": timings.get("prompt_ms", 0.0)}

    def batch(self, prompts: list[list[int]], max_tokens: int) -> dict[str, Any]:
        import aiohttp

        async def go() -> dict[str, Any]:
            timeout = aiohttp.ClientTimeout(total=600)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                started = time.perf_counter()
                rows = await asyncio.gather(*(self._one(session, p, max_tokens)
                                              for p in prompts))
                return {"elapsed_s": time.perf_counter() - started, "rows": list(rows)}

        return asyncio.run(go())

    def close(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(30)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()


# The ceiling ------------------------------------------------------------------------------

def ceiling(bin_dir: Path, settings: Any, prompt_tokens: int, max_tokens: int
            ) -> dict[str, float]:
    """llama-batched-bench at 1/2/4/8: generated tokens over its whole time (prefill
    included, as the engine's and server's figures), per level."""
    done = subprocess.run(
        [str(bin_dir / "llama-batched-bench"), "-m", str(settings.model_path),
         "-c", str(settings.n_ctx * max(LEVELS)), "-b", str(settings.n_batch),
         "-ub", str(settings.n_batch), "-t", str(settings.threads),
         "-tb", str(settings.threads), *gpu_layers(settings.n_gpu_layers),
         "-npp", str(prompt_tokens), "-ntg", str(max_tokens),
         "-npl", ",".join(map(str, LEVELS)), "--output-format", "jsonl"],
        capture_output=True, text=True, check=True, timeout=900)
    out = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            out[str(row["pl"])] = row["pl"] * row["tg"] / row["t"]
    return out


# One run ----------------------------------------------------------------------------------

def summarize(result: dict[str, Any]) -> dict[str, float]:
    """Total tokens/s and first-token p50/p95 (ms) of one batch."""
    ttfts = [r["ttft_ms"] for r in result["rows"]]
    tokens = sum(r["tokens"] for r in result["rows"])
    return {"tps": tokens / result["elapsed_s"], "ttft_p50": statistics.median(ttfts),
            "ttft_p95": percentile(ttfts, 0.95), "tokens": tokens}


def _levels(bin_dir: Path, settings: Any, max_tokens: int, run: int,
            say: Callable[[str], None]) -> dict[str, Any]:
    slots = max(LEVELS)
    engine = EngineProcess(n_parallel=slots)
    server = Server(bin_dir, settings, slots)
    out: dict[str, Any] = {"engine": {}, "server": {}, "prompt_tokens": 0}
    try:
        # Warm-up on prompts nothing else uses.
        warm = [[("system", f"Warm-up {run}."), ("user", "Hello.")]]
        engine.batch([(warm[0], None)], 8)
        server.batch(engine.render(warm), 8)
        for i, level in enumerate(LEVELS):
            prompts = level_prompts(level, run)
            tokens = engine.render(prompts)
            out["prompt_tokens"] = round(statistics.mean(len(t) for t in tokens))
            sides = [("engine", lambda p=prompts: engine.batch([(m, None) for m in p],
                                                                 max_tokens)),
                     ("server", lambda t=tokens: server.batch(t, max_tokens))]
            for side, measure in sides if i % 2 == 0 else sides[::-1]:  # alternate
                result = measure()
                out[side][str(level)] = summarize(result)
                out[side][str(level)]["per_request"] = [r["tokens"] for r in result["rows"]]
            say(f"{level} at once: engine {out['engine'][str(level)]['tps']:.1f} tok/s, "
                f"server {out['server'][str(level)]['tps']:.1f} tok/s")
    finally:
        engine.close()
        server.close()
    return out


def _chat(bin_dir: Path, settings: Any, concurrent: bool, run: int,
          say: Callable[[str], None], chat_tokens: int = CHAT_TOKENS
          ) -> dict[str, Any]:
    """8 users x 6 turns on 4 slots, round-robin; each turn's first-token p50 (ms)."""
    script = chat_script(f" (Run {run}, {'concurrent' if concurrent else 'sequential'}.)")
    engine = EngineProcess(n_parallel=CHAT_SLOTS)
    server = Server(bin_dir, settings, CHAT_SLOTS)
    by_side: dict[str, list[float]] = {"engine": [], "server": []}
    rows_by_side: dict[str, list[dict[str, Any]]] = {"engine": [], "server": []}
    try:
        rendered = [engine.render(row) for row in script]
        for turn, row in enumerate(script):
            rows: dict[str, list[dict[str, Any]]] = {"engine": [], "server": []}
            keyed: list[tuple[Messages, str | None]] = [
                (m, f"user{u}") for u, m in enumerate(row)]
            if concurrent:
                rows["engine"] = engine.batch(keyed, chat_tokens)["rows"]
                rows["server"] = server.batch(rendered[turn], chat_tokens)["rows"]
            else:
                for u in range(CHAT_USERS):
                    rows["engine"] += engine.batch([keyed[u]], chat_tokens)["rows"]
                    rows["server"] += server.batch([rendered[turn][u]], chat_tokens)["rows"]
            for side in by_side:
                by_side[side].append(statistics.median(r["ttft_ms"] for r in rows[side]))
                rows_by_side[side] += rows[side]
        say(f"chat ({'concurrent' if concurrent else 'sequential'}): engine "
            f"{[round(x) for x in by_side['engine']]} ms, server "
            f"{[round(x) for x in by_side['server']]} ms")
    finally:
        engine.close()
        server.close()
    out: dict[str, Any] = dict(by_side)
    for side, side_rows in rows_by_side.items():
        out[f"{side}_rows"] = side_rows
    return out


def overhead(rows: list[dict[str, Any]]) -> dict[str, float]:
    """What a first token costs beyond prefilling the new prompt tokens (ms, p50 and
    p95): each request's first-token time minus its own side's prefill time."""
    extra = [r["ttft_ms"] - r["prefill_ms"] for r in rows]
    return {"p50": round(statistics.median(extra), 1), "p95": round(percentile(extra, 0.95), 1),
            "new_tokens_p50": statistics.median(r["new_tokens"] for r in rows),
            "prefill_ms_p50": round(statistics.median(r["prefill_ms"] for r in rows), 1)}


def run_once(bin_dir: Path, max_tokens: int, run: int = 0,
             say: Callable[[str], None] | None = None,
             chat_tokens: int = CHAT_TOKENS) -> dict[str, Any]:
    from bot.config import load_settings

    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    settings = load_settings(temperature=0.0)
    levels = _levels(bin_dir, settings, max_tokens, run, say)
    top = ceiling(bin_dir, settings, levels["prompt_tokens"], max_tokens)
    say(f"llama-batched-bench: {', '.join(f'{k}: {v:.1f}' for k, v in top.items())} tok/s")
    sequential = _chat(bin_dir, settings, False, run, say, chat_tokens)
    concurrent = _chat(bin_dir, settings, True, run, say, chat_tokens)

    def by_level(side: str, key: str) -> dict[str, float]:
        return {k: round(v[key], 1) for k, v in levels[side].items()}

    figures: dict[str, Any] = {
        "engine_tps": by_level("engine", "tps"), "server_tps": by_level("server", "tps"),
        "ceiling_tps": {k: round(v, 1) for k, v in top.items()},
        "engine_ttft_ms": by_level("engine", "ttft_p50"),
        "server_ttft_ms": by_level("server", "ttft_p50"),
        "engine_ttft_p95_ms": by_level("engine", "ttft_p95"),
        "server_ttft_p95_ms": by_level("server", "ttft_p95"),
        "engine_tokens": {k: v["per_request"] for k, v in levels["engine"].items()},
        "server_tokens": {k: v["per_request"] for k, v in levels["server"].items()},
        "chat_engine_ttft_ms": [round(x, 1) for x in sequential["engine"]],
        "chat_server_ttft_ms": [round(x, 1) for x in sequential["server"]],
        "chat_concurrent_engine_ttft_ms": [round(x, 1) for x in concurrent["engine"]],
        "chat_concurrent_server_ttft_ms": [round(x, 1) for x in concurrent["server"]],
        # Sequential chat (one request at a time): first token minus prefill.
        "chat_engine_overhead_ms": overhead(sequential["engine_rows"]),
        "chat_server_overhead_ms": overhead(sequential["server_rows"]),
        "chat_engine_cached": [r["cached"] for r in sequential["engine_rows"]],
        "chat_server_new_tokens": [r["new_tokens"] for r in sequential["server_rows"]],
        "chat_engine_new_tokens": [r["new_tokens"] for r in sequential["engine_rows"]],
    }
    return figures


def ratios(figures: dict[str, Any]) -> dict[str, Any]:
    """engine/server for each level and chat turn (lower first-token ratios are better)."""
    def div(a: float, b: float) -> float | None:
        return round(a / b, 3) if b else None

    return {
        "tps_ratio": {k: div(figures["engine_tps"][k], figures["server_tps"][k])
                      for k in figures["engine_tps"]},
        "chat_ttft_ratio": [div(a, b) for a, b in zip(
            figures["chat_engine_ttft_ms"], figures["chat_server_ttft_ms"], strict=True)],
        "chat_concurrent_ttft_ratio": [div(a, b) for a, b in zip(
            figures["chat_concurrent_engine_ttft_ms"],
            figures["chat_concurrent_server_ttft_ms"], strict=True)],
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs (maps by key, lists by position)."""
    first = runs[0]
    out: dict[str, Any] = {}
    for key, value in first.items():
        if isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values()):
            out[key] = {k: round(statistics.median(r[key][k] for r in runs), 3) for k in value}
        elif isinstance(value, list) and all(isinstance(v, int | float) for v in value):
            out[key] = [round(statistics.median(r[key][i] for r in runs), 3)
                        for i in range(len(value))]
        else:
            out[key] = value
    return out


def run(runs: int = 1, max_tokens: int = 128, bin_dir: Path | None = None,
        chat_tokens: int = CHAT_TOKENS) -> dict[str, Any]:
    """Build the peer if needed, measure `runs` times; medians, ratios and every run."""
    bin_dir = bin_dir or build()
    every = []
    for i in range(runs):
        figures = run_once(bin_dir, max_tokens, run=i, chat_tokens=chat_tokens)
        figures.update(ratios(figures))
        every.append(figures)
    out = median_of(every) if runs > 1 else dict(every[0])
    from bot.config import load_settings

    settings = load_settings()
    out.update({"runs": runs, "max_tokens": max_tokens, "chat_tokens": chat_tokens,
                "threads": settings.threads, "n_gpu_layers": settings.n_gpu_layers,
                "n_ctx": settings.n_ctx, "n_batch": settings.n_batch,
                "model": settings.model_path.name, "peer": str(bin_dir),
                "load_average": [round(x, 2) for x in os.getloadavg()]})
    if runs > 1:
        out["each_run"] = every
    return out


def table(figures: dict[str, Any]) -> str:
    gpu = figures.get("n_gpu_layers", 0)
    lines = [f"model {figures['model']}, {figures['threads']} threads, "
             f"{'all' if gpu < 0 else gpu} layers on the GPU, n_ctx "
             f"{figures['n_ctx']} per sequence, batch {figures['n_batch']}, "
             f"{figures['max_tokens']} tokens per answer, {figures['runs']} run(s) (medians), "
             f"load average {figures['load_average']}",
             f"{'at once':>8}{'engine tok/s':>14}{'server tok/s':>14}{'ratio':>8}"
             f"{'ceiling':>9}{'engine ttft':>13}{'server ttft':>13}"]
    for k in figures["engine_tps"]:
        lines.append(f"{k:>8}{figures['engine_tps'][k]:>14}{figures['server_tps'][k]:>14}"
                     f"{figures['tps_ratio'][k]:>8}{figures['ceiling_tps'].get(k, '-'):>9}"
                     f"{figures['engine_ttft_ms'][k]:>13}{figures['server_ttft_ms'][k]:>13}")
    lines += [f"chat, sequential, first token p50 by turn (ms): engine "
              f"{figures['chat_engine_ttft_ms']}, server {figures['chat_server_ttft_ms']}, "
              f"ratio {figures['chat_ttft_ratio']}",
              f"chat, concurrent: engine {figures['chat_concurrent_engine_ttft_ms']}, server "
              f"{figures['chat_concurrent_server_ttft_ms']}, ratio "
              f"{figures['chat_concurrent_ttft_ratio']}",
              f"chat, sequential, first token minus prefill (ms): engine "
              f"{figures['chat_engine_overhead_ms']}, server "
              f"{figures['chat_server_overhead_ms']}"]
    return "\n".join(lines)
