"""The batched engine's samplers on real logits of the real model: the greedy argmax is
llama.cpp's greedy, end tokens are kept out when asked, top-k is applied."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.engine import SamplingParams
from bot.engine.sampling import EndTokens, Sampler, end_tokens

PROMPT = (b"<|im_start|>user\nName three colours and three animals.<|im_end|>\n"
          b"<|im_start|>assistant\nRed, green and blue; a cat, a dog and")


@dataclass
class Decoded:
    """A context that decoded PROMPT with logits kept for every row."""

    ctx: Any
    vocab: Any
    rows: int
    n_vocab: int


@pytest.fixture(scope="module")
def decoded(model_path: Path) -> Iterator[Decoded]:
    import llama_cpp

    model = llama_cpp.llama_model_load_from_file(str(model_path).encode(),
                                                 llama_cpp.llama_model_default_params())
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_threads, params.n_threads_batch = 256, 2, 2
    ctx = llama_cpp.llama_init_from_model(model, params)
    vocab = llama_cpp.llama_model_get_vocab(model)
    buffer = (llama_cpp.llama_token * 128)()
    n = llama_cpp.llama_tokenize(vocab, PROMPT, len(PROMPT), buffer, 128, False, True)
    batch = llama_cpp.llama_batch_init(128, 0, 1)
    for i in range(n):
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = buffer[i], i, 1
        batch.seq_id[i][0], batch.logits[i] = 0, True
    batch.n_tokens = n
    assert llama_cpp.llama_decode(ctx, batch) == 0
    yield Decoded(ctx, vocab, n, llama_cpp.llama_vocab_n_tokens(vocab))
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)


def llama_greedy(decoded: Decoded, row: int, banned: list[int] | None = None) -> int:
    """llama.cpp's own greedy sampler (after a -inf bias on `banned`)."""
    import llama_cpp

    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    if banned:
        biases = (llama_cpp.llama_logit_bias * len(banned))()
        for i, token in enumerate(banned):
            biases[i].token, biases[i].bias = token, float("-inf")
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_logit_bias(
            decoded.n_vocab, len(banned), biases))
    llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
    try:
        return int(llama_cpp.llama_sampler_sample(chain, decoded.ctx, row))
    finally:
        llama_cpp.llama_sampler_free(chain)


def test_greedy_is_llama_cpps_greedy_at_every_position(decoded: Decoded) -> None:
    sampler = Sampler(SamplingParams(temperature=0.0), decoded.n_vocab)
    assert sampler.greedy
    assert [sampler.sample(decoded.ctx, row) for row in range(decoded.rows)] == [
        llama_greedy(decoded, row) for row in range(decoded.rows)]


def test_greedy_keeps_end_tokens_out_when_asked(decoded: Decoded) -> None:
    row = decoded.rows - 1
    best = Sampler(SamplingParams(temperature=0.0), decoded.n_vocab).sample(decoded.ctx, row)
    # Treat the favourite as an end token: the next best is taken, as llama.cpp's bias does.
    end = EndTokens(np.array([best], dtype=np.int32), None)
    masked = Sampler(SamplingParams(temperature=0.0), decoded.n_vocab, end)
    token = masked.sample(decoded.ctx, row)
    assert token != best and token == llama_greedy(decoded, row, banned=[best])


def test_the_vocabularys_end_tokens_are_found(decoded: Decoded) -> None:
    import llama_cpp

    end = end_tokens(decoded.vocab)
    assert len(end.ids) >= 1
    assert all(llama_cpp.llama_vocab_is_eog(decoded.vocab, int(t)) for t in end.ids)
    assert [end.biases[i].token for i in range(len(end.ids))] == end.ids.tolist()


def test_top_k_one_draws_only_the_favourite(decoded: Decoded) -> None:
    row = decoded.rows - 1
    favourite = llama_greedy(decoded, row)
    for seed in range(8):
        sampler = Sampler(SamplingParams(temperature=1.5, top_p=1.0, top_k=1, seed=seed),
                          decoded.n_vocab)
        try:
            assert not sampler.greedy and sampler.sample(decoded.ctx, row) == favourite
        finally:
            sampler.free()
            sampler.free()  # twice is harmless


def test_without_top_k_other_tokens_are_drawn(decoded: Decoded) -> None:
    row = decoded.rows - 1
    drawn = set()
    for seed in range(16):
        sampler = Sampler(SamplingParams(temperature=1.5, top_p=1.0, top_k=0, seed=seed),
                          decoded.n_vocab)
        drawn.add(sampler.sample(decoded.ctx, row))
        sampler.free()
    assert len(drawn) > 1


def test_a_row_without_logits_is_an_error_not_a_crash(decoded: Decoded) -> None:
    sampler = Sampler(SamplingParams(temperature=0.0), decoded.n_vocab)
    with pytest.raises(Exception, match="logits"):
        sampler.sample(decoded.ctx, decoded.rows + 5)
