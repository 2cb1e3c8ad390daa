"""How a sequence of the batched engine picks its next token: one `Sampler` per request,
built from its SamplingParams."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.engine.protocol import SamplingParams


@dataclass(frozen=True)
class EndTokens:
    """The vocabulary's end-of-generation tokens, kept out of every sample when a
    benchmark asks for exactly `max_tokens` tokens (llama-server's `ignore_eos`)."""

    ids: np.ndarray  # int32, for masking logits (greedy)
    biases: Any  # llama_logit_bias[] of -inf, for llama.cpp's chain


def end_tokens(vocab: Any) -> EndTokens:
    """A pass over the vocabulary (do it once, at load)."""
    import llama_cpp

    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    eog = [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)]
    biases = (llama_cpp.llama_logit_bias * len(eog))()
    for i, token in enumerate(eog):
        biases[i].token = token  # type: ignore[assignment]
        biases[i].bias = float("-inf")  # type: ignore[assignment]
    return EndTokens(np.array(eog, dtype=np.int32), biases)


class Sampler:
    """One request's sampler.

    Greedy (temperature 0) is an argmax over the row's logits, read in place: llama.cpp's
    chain first copies all 49k logits into a candidate array (`bench sampling`: 21 us
    against 101 us a token). Otherwise llama.cpp's chain: top-k, top-p, temperature,
    then a seeded draw. Top-k comes first because llama.cpp's top-p sorts candidates
    until it has the nucleus, out of the whole vocabulary without it (751 us against
    104 us a token there, more when the model is unsure); top-k 40 is also what
    llama-server and llama-cpp-python's high-level API use by default.
    """

    def __init__(self, params: SamplingParams, n_vocab: int,
                 end: EndTokens | None = None) -> None:
        import llama_cpp

        self.n_vocab = n_vocab
        self._end = end
        self._chain: Any = None
        if params.temperature <= 0:
            return
        chain = llama_cpp.llama_sampler_chain_init(
            llama_cpp.llama_sampler_chain_default_params())
        add = llama_cpp.llama_sampler_chain_add
        if end is not None:  # first: the samplers below never see an end token
            add(chain, llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(end.ids),
                                                               end.biases))
        if params.top_k > 0:
            add(chain, llama_cpp.llama_sampler_init_top_k(params.top_k))
        add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
        seed = params.seed if params.seed >= 0 else random.randrange(2**31)
        add(chain, llama_cpp.llama_sampler_init_dist(seed))
        self._chain = chain

    @property
    def greedy(self) -> bool:
        """True when the next token is the most likely one."""
        return self._chain is None

    def sample(self, ctx: Any, row: int) -> int:
        """The next token from the logits of batch row `row` of the last decode."""
        import llama_cpp

        if self._chain is not None:
            return int(llama_cpp.llama_sampler_sample(self._chain, ctx, row))
        pointer = llama_cpp.llama_get_logits_ith(ctx, row)
        if not pointer:
            raise RuntimeError(f"llama.cpp has no logits for batch row {row}")
        logits = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        token = int(logits.argmax())  # the first of equal maxima, as llama.cpp's greedy
        if self._end is not None and token in self._end.ids:
            logits = logits.copy()
            logits[self._end.ids] = -np.inf
            token = int(logits.argmax())
        return token

    def free(self) -> None:
        """Release llama.cpp's chain (safe to call twice)."""
        import llama_cpp

        if self._chain is not None:
            llama_cpp.llama_sampler_free(self._chain)
            self._chain = None
