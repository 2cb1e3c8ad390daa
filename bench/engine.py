"""The engine benchmark: reference loop, naive baseline, batched engine at 1/2/4/8
conversations, the six-turn four-user interleaved conversation, loop lag, peak memory.

Only one thread of a process ever calls `llama_decode` (llama.cpp's OpenMP pools of two
decoding threads fight over the cores): the engine decodes on its worker in this
process, and each baseline (reference loop, raw low-level batch, naive high-level API)
runs in a spawned process of its own. Each level's prompts differ from every other
level's from their first tokens on, so no level finds a prompt cached; each level runs
right beside its baseline, so drift hits both. Every side counts tokens.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import time
from typing import Any

from bench.questions import QUESTIONS, opener
from bot.config import Settings, load_settings
from bot.engine import ChatMessage, SamplingParams
from bot.engine.batched import BatchedLlamaEngine

SYSTEM = "You are a helpful assistant."


def _chat(question: str, tag: str = "") -> list[ChatMessage]:
    return [ChatMessage("system", f"{tag}{SYSTEM}"), ChatMessage("user", question)]


def level_chats(level: int, tag: str = "") -> list[list[ChatMessage]]:
    """A level's conversations: distinct from every other level's from the first words."""
    return [_chat(QUESTIONS[i % len(QUESTIONS)],
                  f"{opener(tag, level, i)}. {tag}Level {level}, conversation {i}. ")
            for i in range(level)]


def _baseline(name: str, *args: Any) -> float:
    """Run one baseline in a spawned process of its own (its own OpenMP pool)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return float(pool.submit(_run_baseline, name, *args).result())


def _run_baseline(name: str, *args: Any) -> float:
    from bot.engine.llama import LlamaEngine

    settings = load_settings(temperature=0.0)
    if name == "naive":
        return naive_tps(settings, *args)
    engine = BatchedLlamaEngine(settings)  # its model and template only: never started
    LlamaEngine._load(engine)
    if name == "reference":
        return reference_tps(engine, settings, *args)
    return raw_batched_tps(engine, settings, *args)


def reference_tps(engine: BatchedLlamaEngine, settings: Settings, max_tokens: int,
                  tag: str = "") -> float:
    """A plain single-sequence greedy loop over llama-cpp-python's low-level API."""
    import llama_cpp

    assert engine._llm is not None
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_seq_max = settings.n_ctx, settings.n_batch, 1
    params.n_threads = params.n_threads_batch = settings.threads
    ctx = llama_cpp.llama_init_from_model(engine._llm.model, params)
    vocab = llama_cpp.llama_model_get_vocab(engine._llm.model)
    batch = llama_cpp.llama_batch_init(settings.n_batch, 0, 1)
    sampler = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    llama_cpp.llama_sampler_chain_add(sampler, llama_cpp.llama_sampler_init_greedy())
    try:
        tokens = engine.render(level_chats(1, tag)[0])

        def decode(chunk: list[int], start: int) -> None:
            batch.n_tokens = len(chunk)
            for i, token in enumerate(chunk):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, start + i, 1
                batch.seq_id[i][0], batch.logits[i] = 0, i == len(chunk) - 1
            assert llama_cpp.llama_decode(ctx, batch) == 0

        decode(tokens, 0)
        position, produced, first, last = len(tokens), 0, 0.0, 0.0
        while produced < max_tokens:
            token = llama_cpp.llama_sampler_sample(sampler, ctx, -1)
            last = time.perf_counter()
            first = first or last
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                break
            produced += 1
            decode([token], position)
            position += 1
        return (produced - 1) / (last - first) if produced > 1 else 0.0
    finally:
        llama_cpp.llama_sampler_free(sampler)
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)


def raw_batched_tps(engine: BatchedLlamaEngine, settings: Settings, users: int,
                    max_tokens: int, tag: str = "") -> float:
    """llama.cpp's multi-sequence ceiling here: a plain greedy loop over the low-level
    API, one context with `users` sequences, one `llama_decode` per step for all of
    them (prefill included, as in the engine's figure), no scheduler, no streaming."""
    import llama_cpp

    assert engine._llm is not None
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch = settings.n_ctx * users, 512, 512
    params.n_seq_max, params.kv_unified = users, settings.kv_unified
    params.n_threads = params.n_threads_batch = settings.threads
    ctx = llama_cpp.llama_init_from_model(engine._llm.model, params)
    vocab = llama_cpp.llama_model_get_vocab(engine._llm.model)
    batch = llama_cpp.llama_batch_init(512, 0, 1)
    sampler = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    llama_cpp.llama_sampler_chain_add(sampler, llama_cpp.llama_sampler_init_greedy())
    try:
        started = time.perf_counter()
        prompts = [engine.render(chat) for chat in level_chats(users, tag)]
        n, rows = 0, []
        for seq, prompt in enumerate(prompts):
            for i, token in enumerate(prompt):
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, i, 1
                batch.seq_id[n][0], batch.logits[n] = seq, i == len(prompt) - 1
                n += 1
            rows.append(n - 1)  # where this sequence's logits are
        batch.n_tokens = n
        assert llama_cpp.llama_decode(ctx, batch) == 0
        active, positions, produced = list(range(users)), [len(p) for p in prompts], [0] * users
        while active:
            still, n = [], 0
            for seq, row in zip(active, rows, strict=True):
                token = llama_cpp.llama_sampler_sample(sampler, ctx, row)
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    continue
                produced[seq] += 1
                if produced[seq] >= max_tokens:
                    continue
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, positions[seq], 1
                batch.seq_id[n][0], batch.logits[n] = seq, True
                positions[seq] += 1
                still.append(seq)
                n += 1
            if not n:
                break
            batch.n_tokens = n
            assert llama_cpp.llama_decode(ctx, batch) == 0
            active, rows = still, list(range(n))
        return sum(produced) / (time.perf_counter() - started)
    finally:
        llama_cpp.llama_sampler_free(sampler)
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)


def naive_tps(settings: Settings, max_tokens: int, users: int = 4, tag: str = "naive ") -> float:
    """llama-cpp-python's high-level chat serving the requests one by one (tokens counted
    by its usage figures, not stream chunks)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(settings.model_path), n_ctx=settings.n_ctx,
                n_threads=settings.threads, n_threads_batch=settings.threads,
                n_batch=settings.n_batch, verbose=False)
    started, tokens = time.perf_counter(), 0
    for chat in level_chats(users, tag):
        messages = [{"role": m.role, "content": m.content} for m in chat]
        done = llm.create_chat_completion(messages, temperature=0.0,  # type: ignore[arg-type]
                                          max_tokens=max_tokens)
        tokens += done["usage"]["completion_tokens"]  # type: ignore[index]
    llm.close()
    return tokens / (time.perf_counter() - started)


async def _concurrent(engine: BatchedLlamaEngine, users: int, max_tokens: int,
                      tag: str = "") -> dict[str, Any]:
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0)
    steps, step_s, decode_s = engine.steps, engine.step_seconds, engine.decode_seconds
    started = time.perf_counter()
    generations = [engine.submit(chat, params) for chat in level_chats(users, tag)]
    results = await asyncio.gather(*(g.result() for g in generations))
    elapsed = time.perf_counter() - started
    steps = engine.steps - steps
    own_s = (engine.step_seconds - step_s) - (engine.decode_seconds - decode_s)
    ttfts = sorted((r.queued_s + (r.first_token_s or 0)) * 1000 for r in results)
    total = sum(r.completion_tokens for r in results)
    return {
        "total_tps": total / elapsed,
        "per_user_tps": statistics.mean(r.tokens_per_second or 0 for r in results),
        "ttft_p50_ms": statistics.median(ttfts),
        "ttft_p95_ms": ttfts[min(len(ttfts) - 1, round(0.95 * (len(ttfts) - 1)))],
        # Each step's time outside llama_decode: the engine's own work, in Python.
        "own_ms_per_step": own_s / steps * 1000 if steps else 0.0,
    }


async def _interleaved(engine: BatchedLlamaEngine, turns: int = 6, users: int = 4,
                       max_tokens: int = 120) -> list[float]:
    """Four users take turns, six turns each; first-token time per turn (mean, ms)."""
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0)
    histories = {u: [ChatMessage("system", SYSTEM)] for u in range(users)}
    by_turn: list[float] = []
    for turn in range(turns):
        times = []
        for user in range(users):
            history = histories[user]
            history.append(ChatMessage("user", f"{QUESTIONS[(user + turn) % 8]} Part {turn}."))
            started = time.perf_counter()
            generation = engine.submit(history, params, cache_key=f"user{user}")
            first = None
            async for _ in generation:
                first = first or time.perf_counter()
            result = await generation.result()
            times.append(((first or time.perf_counter()) - started) * 1000)
            history.append(ChatMessage("assistant", result.text))
        by_turn.append(statistics.mean(times))
    return by_turn


async def _loop_lag_during(engine: BatchedLlamaEngine, max_tokens: int) -> float:
    worst = 0.0
    running = True

    async def ticker() -> None:
        nonlocal worst
        while running:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, (time.perf_counter() - before - 0.001) * 1000)

    task = asyncio.create_task(ticker())
    await _concurrent(engine, 4, max_tokens)
    running = False
    await task
    return worst


async def run(max_tokens: int = 128) -> dict[str, Any]:
    """Measure everything; return the figures."""
    settings = load_settings(n_parallel=8, temperature=0.0)
    engine = BatchedLlamaEngine(settings)
    await engine.start()
    try:
        await _concurrent(engine, 1, 8, "warm-up ")
        levels, raw_batched = {}, {}
        for n in (1, 2, 4, 8):  # each level beside its baseline, alternating who goes first
            engine_first = n in (1, 4)
            if engine_first:
                levels[str(n)] = await _concurrent(engine, n, max_tokens, "engine ")
            if n == 1:
                reference = _baseline("reference", max_tokens, "reference ")
            else:
                raw_batched[str(n)] = _baseline("raw", n, max_tokens, "raw ")
            if not engine_first:
                levels[str(n)] = await _concurrent(engine, n, max_tokens, "engine ")
        lag = await _loop_lag_during(engine, max_tokens)
    finally:
        await engine.close()
    # A fresh engine: each user's first turn starts cold, as it would for a real user,
    # not from a sequence that an earlier phase filled with a near-identical prompt.
    engine = BatchedLlamaEngine(settings.model_copy(update={"n_parallel": 4}))
    await engine.start()
    try:
        ttft_by_turn = await _interleaved(engine)
    finally:
        await engine.close()
    # Eight users on four sequences: every turn comes back to an evicted conversation,
    # whose KV is either restored from RAM (KV_SAVE_MB) or re-read from its history.
    evicted: dict[str, list[float]] = {}
    for name, save_mb in (("saved", 256), ("reread", 0)):
        engine = BatchedLlamaEngine(settings.model_copy(
            update={"n_parallel": 4, "kv_save_mb": save_mb}))
        await engine.start()
        try:
            evicted[name] = await _interleaved(engine, turns=4, users=8, max_tokens=64)
        finally:
            await engine.close()
    naive = _baseline("naive", max_tokens)
    single = levels["1"]["total_tps"]
    return {
        "model": settings.model_path.name, "threads": settings.threads,
        "max_tokens": max_tokens,
        "reference_tps": round(reference, 1),
        "naive_tps": round(naive, 1),
        "single_tps": round(single, 1),
        "total_tps": {k: round(v["total_tps"], 1) for k, v in levels.items()},
        "raw_batched_tps": {k: round(v, 1) for k, v in raw_batched.items()},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "per_user_tps": {k: round(v["per_user_tps"], 1) for k, v in levels.items()},
        "ttft_p50_ms": {k: round(v["ttft_p50_ms"], 1) for k, v in levels.items()},
        "ttft_p95_ms": {k: round(v["ttft_p95_ms"], 1) for k, v in levels.items()},
        "own_ms_per_step": {k: round(v["own_ms_per_step"], 2) for k, v in levels.items()},
        "ttft_by_turn_ms": [round(x, 1) for x in ttft_by_turn],
        "evicted_ttft_by_turn_ms": {k: [round(x, 1) for x in v] for k, v in evicted.items()},
        "loop_lag_max_ms": round(lag, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # The reference times its decode from the first token to the last; so does the
        # engine's per-user figure (single_tps counts the prefill too).
        "single_vs_reference": round(levels["1"]["per_user_tps"] / reference, 3)
        if reference else None,
        "four_vs_naive": round(levels["4"]["total_tps"] / naive, 2) if naive else None,
        "four_vs_single": round(levels["4"]["total_tps"] / single, 2) if single else None,
        "eight_vs_single": round(levels["8"]["total_tps"] / single, 2) if single else None,
        "four_vs_raw_batched": round(levels["4"]["total_tps"] / raw_batched["4"], 2),
        "eight_vs_raw_batched": round(levels["8"]["total_tps"] / raw_batched["8"], 2),
        "turn6_vs_turn1": round(ttft_by_turn[-1] / ttft_by_turn[0], 2) if ttft_by_turn[0]
        else None,
    }


def table(figures: dict[str, Any]) -> str:
    """The figures as text."""
    lines = [f"model {figures['model']}, {figures['threads']} threads, "
             f"{figures['max_tokens']}-token answers",
             f"reference low-level loop   {figures['reference_tps']:>7} tok/s",
             f"naive high-level, 4 in row {figures['naive_tps']:>7} tok/s",
             f"raw low-level batch, 4 / 8 {figures['raw_batched_tps']['4']:>7} / "
             f"{figures['raw_batched_tps']['8']} tok/s",
             f"{'users':>6}{'total tok/s':>13}{'per user':>10}{'ttft p50':>10}{'ttft p95':>10}"
             f"{'own ms/step':>13}"]
    for n in ("1", "2", "4", "8"):
        lines.append(f"{n:>6}{figures['total_tps'][n]:>13}{figures['per_user_tps'][n]:>10}"
                     f"{figures['ttft_p50_ms'][n]:>10}{figures['ttft_p95_ms'][n]:>10}"
                     f"{figures['own_ms_per_step'][n]:>13}")
    lines += [f"first token by turn (ms): {figures['ttft_by_turn_ms']}",
              f"8 users on 4 sequences, first token by turn (ms): saved to RAM "
              f"{figures['evicted_ttft_by_turn_ms']['saved']}, re-read "
              f"{figures['evicted_ttft_by_turn_ms']['reread']}",
              f"loop lag max {figures['loop_lag_max_ms']} ms, peak RSS "
              f"{figures['peak_rss_mb']} MiB",
              f"single/reference {figures['single_vs_reference']}, 4/naive "
              f"{figures['four_vs_naive']}, 4/single {figures['four_vs_single']}, 8/single "
              f"{figures['eight_vs_single']}, turn6/turn1 {figures['turn6_vs_turn1']}",
              f"engine/raw batch: 4 {figures['four_vs_raw_batched']}, "
              f"8 {figures['eight_vs_raw_batched']}"]
    return "\n".join(lines)
