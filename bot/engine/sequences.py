"""What the batched engine keeps per llama.cpp sequence, and what it puts in a batch."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

from bot.engine.llama import failed_message
from bot.engine.protocol import Generation
from bot.engine.sampling import Sampler


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the common prefix of two token lists."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class SavedState:
    """An evicted conversation's KV, copied out of its sequence."""

    tokens: list[int]
    data: Any  # a numpy uint8 buffer from a BufferPool
    size: int


HEADROOM = 4  # a new KV buffer is a quarter larger than asked (a turn's growth)


class BufferPool:
    """Byte buffers for KV copies, reused: memory written for the first time costs a
    page fault per page (measured here: copying 12 MB of KV took 4-19 ms into new
    memory and 2 ms into a reused buffer; a zero-filled ctypes array cost 5-6 ms more),
    and this copy sits between a user's message and their first token."""

    def __init__(self, max_bytes: int) -> None:
        self._free: list[Any] = []
        self._max_bytes = max_bytes

    def take(self, size: int) -> Any:
        """A buffer of at least `size` bytes (the smallest spare that fits, else new)."""
        import numpy as np

        fits = [i for i, buf in enumerate(self._free) if buf.nbytes >= size]
        if fits:
            return self._free.pop(min(fits, key=lambda i: self._free[i].nbytes))
        # With headroom: a conversation comes back a turn longer, and its old buffer
        # should still take its next copy.
        return np.empty(size + size // HEADROOM + 2**16, dtype=np.uint8)

    def give(self, buf: Any) -> None:
        """Keep `buf` for a later copy, within the pool's bytes (larger ones first out)."""
        self._free.append(buf)
        self._free.sort(key=lambda b: b.nbytes)
        while self._free and sum(b.nbytes for b in self._free) > self._max_bytes:
            self._free.pop()

    def clear(self) -> None:
        """Forget every spare buffer."""
        self._free.clear()


def pointer(buf: Any) -> Any:
    """A numpy buffer as the `uint8_t *` llama.cpp's state functions take."""
    return buf.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))


MIN_SHARED = 8  # fewer shared tokens than this are prefilled rather than copied
NO_ROOM = 1  # llama_decode: no KV cells left for the batch


def decode_message(status: int | BaseException) -> str:
    """What the user of a sequence that llama_decode could not take is told."""
    if status == NO_ROOM:
        return ("The model ran out of memory for this conversation (llama_decode "
                "returned 1); please try again, or start a new conversation.")
    if isinstance(status, BaseException):
        return failed_message(status)
    return f"The model could not process this conversation (llama_decode returned " \
           f"{status}); please try again."


@dataclass
class Slot:
    """One llama.cpp sequence and what it is doing."""

    seq: int
    tokens: list[int] = field(default_factory=list)  # tokens whose KV this sequence holds
    cache_key: str | None = None
    last_used: float = 0.0
    generation: Generation | None = None
    sampler: Sampler | None = None
    pending: list[int] = field(default_factory=list)  # prompt tokens not yet decoded
    next_token: int | None = None  # sampled, not yet decoded
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated: int = 0
    max_tokens: int = 0
    pieces: list[str] = field(default_factory=list)
    decoder: Any = None
    started: float = 0.0
    first: float | None = None
    prefill_s: float = 0.0  # llama_decode time of the steps that carried its prompt
    # A new conversation that another one, started at the same time, is about to prefill
    # a long shared prefix for (the system prompt): it waits for that prefix's KV to
    # copy it (see BatchedLlamaEngine._start), instead of prefilling it a second time.
    waits_for: Slot | None = None
    share_until: int = 0  # the prompt length the donor must hold before the copy


@dataclass
class Part:
    """What one sequence puts in a batch: its next token, or a chunk of its prompt."""

    slot: Slot
    tokens: list[int]
    logits: bool  # whether the last token's logits are sampled
    logits_index: int = -1
