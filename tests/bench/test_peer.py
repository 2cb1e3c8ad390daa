"""`bench peer`'s own logic: identical, uncached work on both sides, the same token
counts, the keys it prints. No timing is ever asserted."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench import peer

KEYS = ("engine_tps", "server_tps", "ceiling_tps", "engine_ttft_ms", "server_ttft_ms",
        "chat_engine_ttft_ms", "chat_server_ttft_ms", "chat_concurrent_engine_ttft_ms",
        "chat_concurrent_server_ttft_ms")


def test_every_level_and_run_uses_prompts_no_other_cached() -> None:
    seen: dict[str, tuple[int, int]] = {}
    for run in range(3):
        for level in peer.LEVELS:
            prompts = peer.level_prompts(level, run)
            assert len(prompts) == level
            for messages in prompts:
                # Distinct from the first words on: not even a shared prefix to reuse.
                head = messages[0][1][:40]
                assert head not in seen, (head, seen.get(head), (run, level))
                seen[head] = (run, level)


def test_the_chat_script_is_round_robin_with_scripted_answers() -> None:
    script = peer.chat_script()
    assert len(script) == peer.CHAT_TURNS
    assert all(len(row) == peer.CHAT_USERS for row in script)
    assert peer.CHAT_USERS > peer.CHAT_SLOTS  # more users than sequences / slots
    for turn, row in enumerate(script):
        assert {m[0] for m in row} == {("system", peer.CHAT_SYSTEM)}  # shared
        assert len({m[-1][1] for m in row}) == peer.CHAT_USERS
        for user, messages in enumerate(row):
            assert len(messages) == 2 + 2 * turn
            if turn:  # the next turn extends the previous prompt with a scripted answer
                before = script[turn - 1][user]
                assert messages[:len(before)] == before
                assert messages[len(before)][0] == "assistant"
    assert peer.chat_script() == script  # deterministic: the same on both sides


def test_summaries_count_tokens_and_take_percentiles() -> None:
    rows = [{"ttft_ms": t, "tokens": 32} for t in (10.0, 20.0, 30.0, 40.0)]
    figures = peer.summarize({"elapsed_s": 2.0, "rows": rows})
    assert figures["tokens"] == 128 and figures["tps"] == 64.0
    assert figures["ttft_p50"] == 25.0 and figures["ttft_p95"] == 40.0


def test_medians_over_runs_and_ratios() -> None:
    runs = [{"engine_tps": {"1": v}, "server_tps": {"1": 10.0}, "chat": [v, 2 * v],
             "model": "m"} for v in (1.0, 5.0, 3.0)]
    merged = peer.median_of(runs)
    assert merged == {"engine_tps": {"1": 3.0}, "server_tps": {"1": 10.0},
                      "chat": [3.0, 6.0], "model": "m"}


def test_a_run_prints_the_issue_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                     ) -> None:
    side = {str(n): {"tps": 1.0, "ttft_p50": 2.0, "ttft_p95": 3.0, "tokens": 4 * n,
                     "per_request": [4] * n} for n in peer.LEVELS}
    monkeypatch.setattr(peer, "_levels", lambda *a: {"engine": side, "server": side,
                                                     "prompt_tokens": 30})
    monkeypatch.setattr(peer, "ceiling", lambda *a: {str(n): 1.0 for n in peer.LEVELS})
    row = {"ttft_ms": 30.0, "prefill_ms": 25.0, "new_tokens": 20, "cached": 60}
    monkeypatch.setattr(peer, "_chat", lambda *a: {"engine": [1.0] * 6,
                                                   "server": [2.0] * 6,
                                                   "engine_rows": [row] * 48,
                                                   "server_rows": [row] * 48})
    figures = peer.run(runs=2, max_tokens=4, bin_dir=tmp_path)
    for key in KEYS:
        assert key in figures
    for key in ("engine_tps", "server_tps", "ceiling_tps", "engine_ttft_ms",
                "server_ttft_ms"):
        assert set(figures[key]) == {"1", "2", "4", "8"}
    assert len(figures["chat_engine_ttft_ms"]) == peer.CHAT_TURNS
    assert figures["tps_ratio"] == {k: 1.0 for k in ("1", "2", "4", "8")}
    assert figures["chat_ttft_ratio"] == [0.5] * 6
    assert figures["chat_engine_overhead_ms"]["p50"] == 5.0
    assert "table" not in figures and peer.table(figures)


def test_overhead_is_first_token_minus_its_own_prefill() -> None:
    rows = [{"ttft_ms": t, "prefill_ms": p, "new_tokens": n}
            for t, p, n in ((30.0, 20.0, 10), (50.0, 44.0, 30), (12.0, 10.0, 4))]
    assert peer.overhead(rows) == {"p50": 6.0, "p95": 10.0, "new_tokens_p50": 10,
                                   "prefill_ms_p50": 20.0}


def test_the_server_gets_the_engines_settings(settings: Any) -> None:
    command = peer.server_command(Path("/bin"), settings, 4, 8080)
    value = {flag: command[i + 1] for i, flag in enumerate(command[:-1])}
    assert value["-t"] == value["-tb"] == str(settings.threads)
    assert value["--parallel"] == "4"
    assert value["-c"] == str(settings.n_ctx * 4)  # per-slot context = the engine's
    assert value["-b"] == value["-ub"] == str(settings.n_batch)
    assert value["--host"] == "127.0.0.1"
    assert value["-ngl"] == str(settings.n_gpu_layers) and value["-fit"] == "off"


def test_every_layer_on_the_gpu_is_all_on_both_sides(settings: Any) -> None:
    """N_GPU_LAYERS=-1 (every layer, for llama-cpp-python) is `-ngl all` for llama.cpp's
    tools: its own -1 means "auto", which may keep layers on the CPU."""
    gpu = settings.model_copy(update={"n_gpu_layers": -1})
    command = peer.server_command(Path("/bin"), gpu, 4, 8080)
    assert command[command.index("-ngl") + 1] == "all"
    assert peer.gpu_layers(20) == ["-ngl", "20", "-fit", "off"]


def test_extra_cmake_flags_come_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAUSETTE_PEER_CMAKE_ARGS", "-DGGML_CUDA=ON -DBUILD_SHARED_LIBS=ON")
    flags = peer.cmake_flags()
    assert flags[:len(peer.CMAKE_FLAGS)] == list(peer.CMAKE_FLAGS)
    assert flags[-2:] == ["-DGGML_CUDA=ON", "-DBUILD_SHARED_LIBS=ON"]


def test_the_engine_decodes_exactly_the_tokens_asked(settings: Any,
                                                     monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    """End tokens are never sampled (as the server's ignore_eos): the count is fixed."""
    monkeypatch.setenv("N_THREADS", str(settings.threads))
    monkeypatch.setenv("N_CTX", str(settings.n_ctx))
    engine = peer.EngineProcess(n_parallel=2)
    try:
        # "Say only OK." ends after a couple of tokens without ignore_eos.
        short = [("system", "Answer with one word."), ("user", "Say only OK.")]
        result = engine.batch([(short, None), (peer.level_prompts(1)[0], None)], 24)
        assert [r["tokens"] for r in result["rows"]] == [24, 24]
        tokens = engine.render([short])
        assert tokens[0] and all(isinstance(t, int) for t in tokens[0])
    finally:
        engine.close()


def _peer_bin() -> Path | None:
    for folder in (os.environ.get("CAUSETTE_PEER_BIN"), peer.cache_dir() / "build" / "bin"):
        if folder and all((Path(folder) / name).exists() for name in peer.TARGETS):
            return Path(folder)
    return None


@pytest.mark.skipif(_peer_bin() is None, reason="llama-server not built (python -m bench peer "
                                                "builds it; or set CAUSETTE_PEER_BIN)")
def test_engine_and_server_decode_the_same_tokens(settings: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _peer_bin()
    assert bin_dir is not None
    monkeypatch.setenv("N_THREADS", str(settings.threads))
    monkeypatch.setenv("N_CTX", str(settings.n_ctx))
    prompts = peer.level_prompts(2, run=99)
    engine = peer.EngineProcess(n_parallel=2)
    server = peer.Server(bin_dir, settings, 2)
    try:
        mine = engine.batch([(m, None) for m in prompts], 12)
        theirs = server.batch(engine.render(prompts), 12)
    finally:
        engine.close()
        server.close()
    assert [r["tokens"] for r in mine["rows"]] == [12, 12]
    assert [r["tokens"] for r in theirs["rows"]] == [12, 12]
    assert [r["streamed"] for r in theirs["rows"]] == [12, 12]
    # Both prefilled the whole prompt (nothing cached), and both say how long it took.
    assert [r["new_tokens"] for r in mine["rows"]] == [r["new_tokens"] for r in theirs["rows"]]
    assert all(r["new_tokens"] > 10 and r["prefill_ms"] > 0 for r in mine["rows"] + theirs["rows"])


def test_the_peer_is_built_from_the_vendored_source_with_progress(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import subprocess
    import tarfile

    sdist = tmp_path / "sdist" / f"llama_cpp_python-{peer.LLAMA_CPP_VERSION}.tar.gz"
    sdist.parent.mkdir()
    with tarfile.open(sdist, "w:gz") as tar:
        data = b"project(llama.cpp)\n"
        info = tarfile.TarInfo(f"llama_cpp_python-{peer.LLAMA_CPP_VERSION}/vendor/llama.cpp/"
                               "CMakeLists.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    commands: list[list[str]] = []

    class Slow:
        def __init__(self, command: list[str], **_: Any) -> None:
            commands.append(command)
            self.returncode, self.waits = 0, 0

        def wait(self, timeout: float | None = None) -> int:
            self.waits += 1
            if self.waits == 1:
                raise subprocess.TimeoutExpired("cmake", timeout or 0)
            return 0

    monkeypatch.setattr(peer.subprocess, "Popen", Slow)
    lines: list[str] = []
    bin_dir = peer.build(tmp_path, lines.append, every_s=0.01)
    assert bin_dir == tmp_path / "build" / "bin"
    assert (tmp_path / "src" / "CMakeLists.txt").read_bytes() == data
    configure, compile_ = commands
    for flag in ("-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_CURL=OFF"):
        assert flag in configure
    assert compile_[compile_.index("--target") + 1:][:2] == list(peer.TARGETS)
    assert "about 10 minutes" in lines[0]
    assert any(line.startswith("still building, ") for line in lines)
