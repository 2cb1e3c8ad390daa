"""Sampler chains for the batched engine: one per sequence, built from SamplingParams."""

from __future__ import annotations

import random
from typing import Any

from bot.engine.protocol import SamplingParams


def make_sampler(params: SamplingParams, eog_bias: tuple[int, int, Any] | None = None) -> Any:
    """A llama.cpp sampler chain for `params`; with `eog_bias`, end tokens never sampled."""
    import llama_cpp

    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    if eog_bias is not None:  # first: the samplers below never see an end token
        n_vocab, n_eog, biases = eog_bias
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_logit_bias(
            n_vocab, n_eog, biases))
    if params.temperature <= 0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
    else:
        seed = params.seed if params.seed >= 0 else random.randrange(2**31)
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(
            params.top_p, 1))
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(
            params.temperature))
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed))
    return chain


def eog_biases(vocab: Any) -> tuple[int, int, Any]:
    """-inf for every end-of-generation token (llama-server's `ignore_eos`)."""
    import llama_cpp

    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    eog = [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)]
    biases = (llama_cpp.llama_logit_bias * len(eog))()
    for i, token in enumerate(eog):
        biases[i].token = token  # type: ignore[assignment]
        biases[i].bias = float("-inf")  # type: ignore[assignment]
    return n_vocab, len(eog), biases
