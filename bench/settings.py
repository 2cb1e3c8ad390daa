"""`python -m bench settings`: which llama.cpp settings make this machine faster.

Each variant is measured with llama.cpp's own `llama-batched-bench` (the peer that
`bench peer` builds), at 1, 2, 4 and 8 sequences, so the figures are the C++ ceiling of
the setting and nothing of Causette's: flash attention on and off, smaller `n_ubatch`,
a unified KV cache, `OMP_WAIT_POLICY=passive`, threads pinned to cores, one thread
instead of all of them, and the default model requantized from Q4_1 to Q4_0 and to
Q8_0 (llama.cpp repacks Q4_0 and Q8_0 weights for AVX2 at load, not Q4_1). The baseline
runs first and last, so drift shows.

The requantized models' quality is measured on a fixed text: perplexity of each model
over the same tokens, and on the benchmark questions how many greedy tokens each
answer shares with the default model's before they part.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.questions import QUESTIONS

LEVELS = (1, 2, 4, 8)
PROMPT_TOKENS = 40  # about the benchmark questions' rendered length

# A fixed text for perplexity: plain prose of the kind the bot answers with.
FIXED_TEXT = (
    "Bread is one of the oldest foods people make. To bake a simple loaf, mix flour, "
    "water, salt and yeast into a dough, then knead it for about ten minutes until it "
    "is smooth and springs back when you press it. Leave the dough in a warm place for "
    "an hour or two, until it has doubled in size. Shape it into a loaf, let it rise "
    "again, and bake it in a hot oven until the crust is brown and the bottom sounds "
    "hollow when you tap it. The yeast feeds on the sugars in the flour and releases "
    "carbon dioxide, which is trapped by the gluten in the dough and makes the bread "
    "light. Salt slows the yeast down and tightens the gluten, so the bread has a "
    "better texture and flavour. Many bakers use a starter instead of dried yeast: a "
    "mixture of flour and water in which wild yeasts and bacteria live. Bread made this "
    "way is called sourdough; it rises more slowly and tastes slightly sour. In winter "
    "the kitchen is colder and the dough needs more time, while in summer it can rise "
    "too fast and collapse in the oven. A good baker watches the dough rather than the "
    "clock, and learns with practice when it is ready.")


@dataclass(frozen=True)
class Variant:
    """One way of running llama.cpp: extra flags, environment, model."""

    name: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    model: Path | None = None
    threads: int | None = None


def requantize(source: Path, target: Path, threads: int, kind: str = "Q4_0") -> Path:
    """`source` requantized to `kind` (Q4_0 or Q8_0) at `target` (once; llama.cpp's own
    quantizer)."""
    import llama_cpp

    if target.exists():
        return target
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.allow_requantize = True
    params.nthread = threads
    partial = target.with_suffix(".partial")
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(),
                                            ctypes.byref(params))
    if status != 0:
        raise RuntimeError(f"llama_model_quantize failed ({status})")
    partial.rename(target)
    return target


def batched_bench(bin_dir: Path, variant: Variant, model: Path, threads: int,
                  n_ctx: int, n_batch: int, max_tokens: int
                  ) -> tuple[dict[str, float], dict[str, float]]:
    """Per level: generated tokens/s over llama-batched-bench's whole time, and its
    prompt (prefill) tokens/s."""
    threads = variant.threads or threads
    command = [str(bin_dir / "llama-batched-bench"), "-m", str(variant.model or model),
               "-c", str(n_ctx * max(LEVELS)), "-b", str(n_batch), "-ub", str(n_batch),
               "-t", str(threads), "-tb", str(threads), "-npp", str(PROMPT_TOKENS),
               "-ntg", str(max_tokens), "-npl", ",".join(map(str, LEVELS)),
               "--output-format", "jsonl", *variant.args]  # a later flag wins
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900,
                          env={**os.environ, **variant.env})
    out, prefill = {}, {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            out[str(row["pl"])] = round(row["pl"] * row["tg"] / row["t"], 1)
            prefill[str(row["pl"])] = round(row["speed_pp"], 1)
    return out, prefill


def _quality_child(model: str, threads: int, max_tokens: int) -> dict[str, Any]:
    """Perplexity over FIXED_TEXT and greedy answers' tokens (in a process of its own:
    it decodes, and only one thread of a process may)."""
    import numpy as np
    from llama_cpp import Llama

    llm = Llama(model_path=model, n_ctx=1024, n_threads=threads, n_threads_batch=threads,
                logits_all=True, verbose=False)
    tokens = llm.tokenize(FIXED_TEXT.encode(), add_bos=True)
    llm.eval(tokens)
    logits = np.asarray(llm.scores[: len(tokens) - 1], dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    logprobs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    nll = -float(np.mean([logprobs[i, tokens[i + 1]] for i in range(len(tokens) - 1)]))
    answers = []
    for question in QUESTIONS:
        llm.reset()
        out = llm.create_chat_completion([{"role": "user", "content": question}],
                                         temperature=0.0, max_tokens=max_tokens)
        text = out["choices"][0]["message"]["content"] or ""
        answers.append(llm.tokenize(text.encode(), add_bos=False, special=True))
    llm.close()
    return {"perplexity": round(math.exp(nll), 3), "text_tokens": len(tokens),
            "answers": answers}


def quality(model: Path, threads: int, max_tokens: int) -> dict[str, Any]:
    """`_quality_child` in a spawned process."""
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys; from bench.settings import _quality_child;"
         f" print(json.dumps(_quality_child({str(model)!r}, {threads}, {max_tokens})))"],
        capture_output=True, text=True, check=True, timeout=900,
        cwd=Path(__file__).parents[1])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def agreement(a: list[list[int]], b: list[list[int]]) -> list[int]:
    """Per answer, how many leading tokens two models' greedy answers share."""
    out = []
    for x, y in zip(a, b, strict=True):
        n = 0
        while n < min(len(x), len(y)) and x[n] == y[n]:
            n += 1
        out.append(n)
    return out


def variants(q4_0: Path, q8_0: Path | None = None) -> list[Variant]:
    """The settings measured, the baseline (llama.cpp's defaults, as the engine) first."""
    return [Variant("baseline"), Variant("flash attention off", ("-fa", "off")),
            Variant("flash attention on", ("-fa", "on")),
            Variant("n_ubatch 128", ("-ub", "128")),
            Variant("unified KV", ("-kvu",)),
            Variant("OMP_WAIT_POLICY=passive", env={"OMP_WAIT_POLICY": "passive"}),
            Variant("OMP_PROC_BIND=close, OMP_PLACES=cores",
                    env={"OMP_PROC_BIND": "close", "OMP_PLACES": "cores"}),
            Variant("1 thread", threads=1),
            Variant("Q4_0 requantized", model=q4_0),
            *([Variant("Q8_0 requantized", model=q8_0)] if q8_0 else []),
            Variant("baseline again")]


def run(max_tokens: int = 128, bin_dir: Path | None = None,
        say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure every variant and the requantized model's quality."""
    from bench.peer import build
    from bot.config import load_settings

    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    settings = load_settings()
    bin_dir = bin_dir or build()
    model = settings.model_path
    q4_0, q8_0 = (requantize(model, model.with_name(
        model.name.replace("Q4_1", kind) if "Q4_1" in model.name
        else f"{model.stem}.{kind}.gguf"), settings.threads, kind) for kind in ("Q4_0", "Q8_0"))
    figures: dict[str, Any] = {"model": model.name, "threads": settings.threads,
                               "max_tokens": max_tokens, "tps": {},
                               "prefill_tps": {}}
    for variant in variants(q4_0, q8_0):
        tps, prefill = batched_bench(bin_dir, variant, model, settings.threads, settings.n_ctx,
                            settings.n_batch, max_tokens)
        figures["tps"][variant.name] = tps
        figures["prefill_tps"][variant.name] = prefill
        say(f"{variant.name}: {tps}, prompts read at {prefill} tok/s")
    base = quality(model, settings.threads, 64)
    requants = {path.name: quality(path, settings.threads, 64) for path in (q4_0, q8_0)}
    figures["quality"] = {
        "perplexity": {model.name: base["perplexity"],
                       **{name: q["perplexity"] for name, q in requants.items()}},
        "text_tokens": base["text_tokens"],
        "greedy_tokens_shared": {name: agreement(base["answers"], q["answers"])
                                 for name, q in requants.items()},
        "answer_tokens": [len(a) for a in base["answers"]]}
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def table(figures: dict[str, Any]) -> str:
    """The figures as text."""
    lines = [f"llama-batched-bench, {figures['model']}, {figures['threads']} threads, "
             f"{figures['max_tokens']} tokens per sequence, generated tokens/s "
             f"(load average at the end {figures['load_average']})",
             f"{'variant':40}" + "".join(f"{n:>9}" for n in LEVELS)]
    for name, tps in figures["tps"].items():
        lines.append(f"{name:40}" + "".join(f"{tps.get(str(n), '-'):>9}" for n in LEVELS))
    lines.append("prompt tokens/s (llama-batched-bench's prefill, same variants)")
    for name, tps in figures.get("prefill_tps", {}).items():
        lines.append(f"{name:40}" + "".join(f"{tps.get(str(n), '-'):>9}" for n in LEVELS))
    q = figures["quality"]
    lines += [f"perplexity on a fixed text ({q['text_tokens']} tokens): {q['perplexity']}",
              f"greedy answers, tokens shared before they part: {q['greedy_tokens_shared']}"
              f" of {q['answer_tokens']}"]
    return "\n".join(lines)
