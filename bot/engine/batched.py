"""The batched engine: one llama.cpp context, several sequences decoded together.

Every step the worker builds one `llama_batch` holding, for each active conversation,
either its next token (decoding) or a chunk of its prompt (prefill), decodes it once,
and samples one token per sequence with that sequence's own sampler. New requests are
admitted between steps (continuous batching), highest priority first.

A sequence keeps its KV between requests, tagged with the conversation it holds, so a
conversation's next turn only prefills what is new (the common prefix of the new prompt
and the tokens already in the sequence is kept). When every sequence is taken, the
least recently used idle one is reused for another conversation. Its KV is first copied
to RAM (`KV_SAVE_MB`, least recently evicted dropped first), so coming back restores it
instead of prefilling the whole history again; either way the continuation is the same
(tested). A new conversation whose sequence holds less of its prompt than another
sequence or a saved conversation does (typically the shared system prompt on turn 1)
gets that prefix's KV copied in (`llama_state_seq_get_data`/`set_data`, then the tail
cut: llama.cpp's `llama_memory_seq_cp` copies a whole stream across the per-sequence
KV streams) instead of prefilling it again; the greedy text is the same (tested). When
new conversations arrive together, the first prefills the shared prefix and the others
wait for it (a step) and copy it, rather than each prefilling it in the same step.

Faults stay with the conversation they concern: a request that cannot start, a sequence
whose sampling fails, or a sequence that `llama_decode` cannot fit ends alone as an
error. A decode that fails for the whole batch is retried once after evicting idle
sequences when it lacked room, then one sequence at a time, so only the sequences that
fail alone are failed. Every other conversation goes on, in the same step.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import queue
import time
from collections import OrderedDict
from typing import Any

from bot.config import Settings
from bot.engine.llama import LlamaEngine, failed_message
from bot.engine.protocol import Generation, GenerationResult, StopReason, emit_all
from bot.engine.sampling import EndTokens, Sampler, end_tokens
from bot.engine.sequences import (
    MIN_SHARED,
    NO_ROOM,
    BufferPool,
    Part,
    SavedState,
    Slot,
    common_prefix,
    decode_message,
    pointer,
)

log = logging.getLogger(__name__)


class BatchedLlamaEngine(LlamaEngine):
    """Continuous batching over `N_PARALLEL` sequences of one context."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.parallel = settings.n_parallel
        self._ctx: Any = None
        self._batch: Any = None
        self._slots: list[Slot] = []
        self._piece = ctypes.create_string_buffer(256)
        self._saved: OrderedDict[str, SavedState] = OrderedDict()
        self._saved_bytes = 0
        # Spare buffers for KV copies, beside KV_SAVE_MB: at most a quarter of it.
        self._buffers = BufferPool(settings.kv_save_mb * 2**20 // 4)
        self.restored_tokens = 0  # KV tokens brought back from RAM instead of prefilled
        self.shared_tokens = 0  # KV tokens copied from another conversation's prefix
        # Benchmarks only: end-of-generation tokens are never sampled (as llama-server's
        # `ignore_eos`), so every request decodes exactly `max_tokens` tokens.
        self.ignore_eos = False
        self._end: EndTokens | None = None
        self._n_vocab = 0
        self._decode_s = 0.0  # how long the last llama_decode took
        # Since start: decoding steps, their time, and llama_decode's part of it (what is
        # left is the engine's own work per step: batching, sampling, handing out text).
        self.steps = 0
        self.step_seconds = 0.0
        self.decode_seconds = 0.0
        # A step's text deltas, sent to the loop together when the step ends: the loop
        # then wakes once per step, not once per sequence, and takes the cores from
        # llama_decode's threads less often.
        self._outbox: list[tuple[Generation, str]] = []

    def _own_context_tokens(self) -> int:
        return 256  # the high-level object only tokenizes; the batched context is below

    def _load(self) -> None:
        import llama_cpp

        super()._load()
        settings = self.settings
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = settings.n_ctx * self.parallel
        params.n_batch = settings.n_batch
        params.n_ubatch = settings.n_batch
        params.n_seq_max = self.parallel
        params.n_threads = settings.threads
        params.n_threads_batch = settings.threads
        # One KV stream per sequence: each conversation then decodes exactly as it would
        # alone (measured: greedy texts identical; a unified cache drifted after ~11 tokens).
        params.kv_unified = self.settings.kv_unified
        params.no_perf = True
        assert self._llm is not None
        self._ctx = llama_cpp.llama_init_from_model(self._llm.model, params)
        if not self._ctx:
            raise RuntimeError("llama.cpp could not create the batched context")
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        self._batch = llama_cpp.llama_batch_init(settings.n_batch, 0, 1)
        self._n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        if self.ignore_eos:  # a pass over the vocabulary: not in a request's first token
            self._end = end_tokens(self._vocab)
        self._slots = [Slot(seq) for seq in range(self.parallel)]

    def _release_context(self) -> None:
        import llama_cpp

        slots, self._slots = self._slots, []
        for slot in slots:
            self._free_sampler(slot)
        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
        # Saved KV belongs to the context it came from: a restarted worker starts clean.
        self._saved.clear()
        self._saved_bytes = 0
        self._buffers.clear()

    # Scheduling ---------------------------------------------------------------------

    def _serve(self) -> None:
        stopping = False
        while True:
            active = [s for s in self._slots if s.generation is not None]
            if not active and stopping:
                return
            if not stopping:
                stopping = self._admit(block=not active)
            active = [s for s in self._slots if s.generation is not None]
            if active:
                started = time.perf_counter()
                try:
                    self._step(active)
                except Exception as exc:  # a step's own failure: its sequences end, not the worker
                    log.exception("a decoding step failed")
                    for slot in active:
                        if slot.generation is not None:
                            self._fail(slot, failed_message(exc))
                finally:
                    self._send_deltas()
                    self.step_seconds += time.perf_counter() - started
                    self.steps += 1  # last: a reader that sees the count sees its time

    def _send_deltas(self) -> None:
        deltas, self._outbox = self._outbox, []
        if deltas:
            emit_all(deltas)

    def _admit(self, block: bool) -> bool:
        """Start queued requests on idle sequences; True once shutdown was asked."""
        while any(s.generation is None for s in self._slots):
            try:
                job = self._queue.get(block=block)
            except queue.Empty:
                return False
            block = False
            if job.generation is None:
                return True
            if job.generation.cancelled:
                job.generation._finish(GenerationResult("", "cancelled"))
                continue
            try:
                self._start(job.generation)
            except Exception as exc:  # a request that cannot start fails alone
                log.exception("could not start a generation")
                slot = next((s for s in self._slots if s.generation is job.generation), None)
                if slot is not None:
                    self._fail(slot, failed_message(exc))
                else:
                    job.generation._end("error", failed_message(exc))
        return False

    def _choose_slot(self, generation: Generation, prompt: list[int]) -> Slot:
        idle = [s for s in self._slots if s.generation is None]
        if generation.cache_key is not None:
            for slot in idle:
                if slot.cache_key == generation.cache_key:
                    return slot
        # Otherwise a sequence holding no conversation (the longest shared prefix, e.g.
        # the system prompt), else evict the least recently used conversation.
        free = [s for s in idle if s.cache_key is None]
        if free:
            return max(free, key=lambda s: (common_prefix(s.tokens, prompt), -s.last_used))
        return min(idle, key=lambda s: s.last_used)

    def _start(self, generation: Generation) -> None:
        prompt = self.render(generation.messages)
        room = self.settings.n_ctx - len(prompt)
        if room < 1:
            generation._finish(GenerationResult(
                "", "error", prompt_tokens=len(prompt),
                error=f"The prompt ({len(prompt)} tokens) does not fit the context "
                      f"({self.settings.n_ctx} tokens)."))
            return
        slot = self._choose_slot(generation, prompt)
        # From here a failure is this slot's (and resets it): nothing of the request
        # before may show in its result.
        slot.generation = generation
        slot.pieces = []
        slot.decoder = None
        slot.generated = 0
        slot.started = time.perf_counter()
        slot.first = None
        slot.prefill_s = 0.0
        slot.prompt_tokens = len(prompt)
        slot.cached_tokens = 0
        if slot.cache_key != generation.cache_key:
            if slot.cache_key is not None:
                self._save(slot)
            if generation.cache_key is not None:
                self._restore(slot, generation.cache_key, prompt)
        keep = common_prefix(slot.tokens, prompt)
        keep = self._share_prefix(slot, prompt, keep)
        self._place(slot, prompt, keep)
        slot.waits_for, slot.share_until = self._donor_to_come(slot, prompt, keep)
        slot.cache_key = generation.cache_key
        slot.next_token = None
        slot.max_tokens = min(generation.params.max_tokens, room)
        slot.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        slot.sampler = self._make_sampler(generation)
        self._running.add(generation)

    def _place(self, slot: Slot, prompt: list[int], keep: int) -> None:
        """Keep the first `keep` prompt tokens' KV in `slot`; the rest is to prefill."""
        import llama_cpp

        if keep == len(prompt):
            keep -= 1  # the last prompt token must be decoded again to get its logits
        llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, keep, -1)
        slot.tokens = slot.tokens[:keep]
        slot.pending = prompt[keep:]
        slot.cached_tokens = keep

    def _donor_to_come(self, slot: Slot, prompt: list[int], keep: int
                       ) -> tuple[Slot | None, int]:
        """A sequence, started but still prefilling, whose prompt shares more of this
        prompt than any KV holds now (new conversations arriving together, all with the
        same system prompt): this one waits for that prefix and copies it, which costs
        a step's delay instead of prefilling the prefix once per conversation."""
        best, donor = keep, None
        for other in self._slots:
            if (other is slot or other.generation is None or other.waits_for is not None
                    or not other.pending):
                continue
            n = common_prefix(other.tokens + other.pending, prompt)
            if n > best:
                best, donor = n, other
        if donor is None or best - keep < MIN_SHARED:
            return None, 0
        return donor, best

    def _ready(self, slot: Slot) -> bool:
        """`_take_prefix_when_ready`, a failure of which ends this request alone."""
        try:
            return self._take_prefix_when_ready(slot)
        except Exception as exc:
            log.exception("copying a shared prefix failed")
            self._fail(slot, failed_message(exc))
            return False

    def _take_prefix_when_ready(self, slot: Slot) -> bool:
        """For a waiting sequence: True once it can prefill (the donor now holds the
        shared prefix, which is copied in, or it stopped prefilling it: then as it is)."""
        donor = slot.waits_for
        assert donor is not None
        if (donor.generation is not None and donor.pending
                and len(donor.tokens) < slot.share_until):
            return False
        prompt = slot.tokens + slot.pending
        self._place(slot, prompt, self._share_prefix(slot, prompt, len(slot.tokens)))
        slot.waits_for, slot.share_until = None, 0
        return True

    def _share_prefix(self, slot: Slot, prompt: list[int], keep: int) -> int:
        """Copy into `slot` the longest prefix of `prompt` that another sequence or a
        saved conversation holds (e.g. the shared system prompt of a new conversation),
        when it is longer than what `slot` keeps; return the tokens now kept.

        The KV of a prefix depends only on its tokens, so the copy is what prefilling it
        again would compute (greedy texts identical, tested)."""
        import llama_cpp

        best, donor, state = keep, None, None
        for other in self._slots:
            if other is not slot:
                n = common_prefix(other.tokens, prompt)
                if n > best or (n == best and donor is not None
                                and len(other.tokens) < len(donor.tokens)):
                    best, donor = n, other
        for saved in self._saved.values():
            n = common_prefix(saved.tokens, prompt)
            if n > best:
                best, donor, state = n, None, saved
        if best - keep < MIN_SHARED or (donor is None and state is None):
            return keep
        if state is None:
            assert donor is not None
            size = llama_cpp.llama_state_seq_get_size(self._ctx, donor.seq)
            data = self._buffers.take(size)
            size = llama_cpp.llama_state_seq_get_data(self._ctx, pointer(data), size,
                                                      donor.seq)
            tokens = donor.tokens
        else:
            data, size, tokens = state.data, state.size, state.tokens
        llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, 0, -1)
        slot.tokens = []
        copied = bool(size) and bool(llama_cpp.llama_state_seq_set_data(
            self._ctx, pointer(data), size, slot.seq))
        if state is None:
            self._buffers.give(data)
        if not copied:
            llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, 0, -1)
            return 0  # not copied (e.g. no room): prefilling from scratch is still correct
        llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, best, -1)
        slot.tokens = list(tokens[:best])
        self.shared_tokens += best
        return best

    # Evicted conversations in RAM ----------------------------------------------------

    def _save(self, slot: Slot) -> None:
        """Copy an evicted conversation's KV to RAM, within KV_SAVE_MB."""
        import llama_cpp

        budget = self.settings.kv_save_mb * 2**20
        key = slot.cache_key
        assert key is not None
        size = llama_cpp.llama_state_seq_get_size(self._ctx, slot.seq)
        if not slot.tokens or size > budget:
            return
        data = self._buffers.take(size)
        written = llama_cpp.llama_state_seq_get_data(self._ctx, pointer(data), size, slot.seq)
        if not written:
            self._buffers.give(data)
            return
        self._drop_saved(key)
        self._saved[key] = SavedState(list(slot.tokens), data, written)
        self._saved_bytes += data.nbytes  # the RAM held, headroom included
        while self._saved_bytes > budget:
            self._drop_saved(next(iter(self._saved)))

    def _drop_saved(self, key: str, recycle: bool = True) -> SavedState | None:
        gone = self._saved.pop(key, None)
        if gone is not None:
            self._saved_bytes -= gone.data.nbytes
            if recycle:
                self._buffers.give(gone.data)
        return gone

    def _restore(self, slot: Slot, key: str, prompt: list[int]) -> None:
        """Put a conversation's saved KV back in `slot`, if it serves this prompt better."""
        import llama_cpp

        # Restored or stale, it is not needed twice; its buffer is reused once read.
        saved = self._drop_saved(key, recycle=False)
        if saved is None:
            return
        try:
            if common_prefix(saved.tokens, prompt) <= common_prefix(slot.tokens, prompt):
                return
            llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, 0, -1)
            slot.tokens = []
            if llama_cpp.llama_state_seq_set_data(self._ctx, pointer(saved.data), saved.size,
                                                  slot.seq):
                slot.tokens = saved.tokens
                self.restored_tokens += len(saved.tokens)
            else:  # not restorable (e.g. no room): prefilling from scratch is still correct
                llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, 0, -1)
        finally:
            self._buffers.give(saved.data)

    def saved(self) -> dict[str, int]:
        """Conversation key -> tokens of KV saved in RAM (for tests and /model)."""
        return {key: len(state.tokens) for key, state in self._saved.items()}

    def _make_sampler(self, generation: Generation) -> Sampler:
        if self.ignore_eos and self._end is None:
            self._end = end_tokens(self._vocab)
        return Sampler(generation.params, self._n_vocab, self._end if self.ignore_eos else None)

    def _free_sampler(self, slot: Slot) -> None:
        if slot.sampler is not None:
            slot.sampler.free()
            slot.sampler = None

    # One step -----------------------------------------------------------------------

    def _step(self, active: list[Slot]) -> None:
        for slot in active:
            if slot.generation is not None and slot.generation.cancelled:
                self._finish(slot, "cancelled")
        active = [s for s in active if s.generation is not None]
        # Sequences waiting for another's shared prefix sit this step out, until it is there.
        active = [s for s in active if s.waits_for is None or self._ready(s)]
        if not active:
            return
        budget = self.settings.n_batch
        used = 0
        parts: list[Part] = []
        for slot in active:  # every decoding sequence gets its token each step
            if not slot.pending and slot.next_token is not None:
                parts.append(Part(slot, [slot.next_token], logits=True))
                used += 1
        # Prompts share what is left of the batch, the shortest first and at most
        # PREFILL_SEQUENCES of them: where reading prompts together is no faster than
        # one by one (a CPU), each waiting user then gets a first token as soon as
        # their own prompt is read, not when everyone's is.
        reading = sorted((s for s in active if s.pending), key=lambda s: len(s.pending))
        for slot in reading[: self.settings.prefill_sequences]:
            if used >= budget:
                break
            chunk = slot.pending[: budget - used]
            parts.append(Part(slot, chunk, logits=len(chunk) == len(slot.pending)))
            used += len(chunk)
        status = self._decode_making_room(parts)
        if status == 0:
            self._advance(parts)
            return
        # The batch as a whole failed: decode each sequence alone (a batch of one: once
        # more, for a fault that passes), so only the sequences that fail on their own
        # are failed.
        for part in parts:
            status = self._decode_making_room([part])
            if status == 0:
                self._advance([part])
            else:
                self._fail(part.slot, decode_message(status))

    def _decode_making_room(self, parts: list[Part]) -> int | BaseException:
        status = self._decode(parts)
        if status == NO_ROOM and self._evict_idle():
            status = self._decode(parts)  # the room of the evicted sequences may do
        return status

    def _decode(self, parts: list[Part]) -> int | BaseException:
        """Decode `parts` in one batch: 0, or llama_decode's status or exception, the
        sequences' KV then cut back to what they held before (so a retry is exact)."""
        import llama_cpp

        batch = self._batch
        n = 0
        for part in parts:
            start = len(part.slot.tokens)
            for i, token in enumerate(part.tokens):
                batch.token[n] = token
                batch.pos[n] = start + i
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = part.slot.seq
                batch.logits[n] = part.logits and i == len(part.tokens) - 1
                n += 1
            part.logits_index = n - 1 if part.logits else -1
        batch.n_tokens = n
        status: int | BaseException
        started = time.perf_counter()
        try:
            status = int(llama_cpp.llama_decode(self._ctx, batch))
            self._decode_s = time.perf_counter() - started
            self.decode_seconds += self._decode_s
        except Exception as exc:  # treated like a failed status: retried, then isolated
            log.exception("llama_decode raised")
            status = exc
        if status != 0:
            log.warning("llama_decode failed (%s) for %s sequence(s)", status, len(parts))
            for part in parts:
                llama_cpp.llama_memory_seq_rm(self._mem, part.slot.seq,
                                              len(part.slot.tokens), -1)
        return status

    def _advance(self, parts: list[Part]) -> None:
        """After a successful decode: the tokens are in the KV; sample where due."""
        for part in parts:
            slot = part.slot
            slot.tokens.extend(part.tokens)
            if slot.pending:
                slot.pending = slot.pending[len(part.tokens):]
                slot.prefill_s += self._decode_s
            else:
                slot.next_token = None
        for part in parts:
            if part.logits_index < 0 or part.slot.generation is None:
                continue
            try:
                self._sample(part.slot, part.logits_index)
            except Exception as exc:  # this sequence's fault alone
                log.exception("sampling failed")
                self._fail(part.slot, failed_message(exc))

    def _evict_idle(self) -> bool:
        """Make room in the KV cache: idle sequences' conversations go to RAM
        (KV_SAVE_MB) and their cells are freed. False when there was nothing to free."""
        import llama_cpp

        freed = False
        for slot in self._slots:
            if slot.generation is None and slot.tokens:
                if slot.cache_key is not None:
                    self._save(slot)
                llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, 0, -1)
                slot.tokens = []
                slot.cache_key = None
                freed = True
        return freed

    def _fail(self, slot: Slot, error: str) -> None:
        """End this slot's request as an error, keeping what was shown, and forget the
        sequence's KV: after a fault it is not trusted for the conversation's next turn."""
        import llama_cpp

        generation = slot.generation
        self._send_deltas()  # what the user was sent before the error, in order
        llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, 0, -1)
        slot.tokens = []
        slot.cache_key = None
        try:
            self._finish(slot, "error", error)
        except Exception:  # e.g. the sampler would not free: still end the request
            log.exception("ending a failed generation failed")
            slot.generation = None
            slot.sampler = None
            slot.next_token = None
            slot.pending = []
            slot.waits_for = None
            if generation is not None:
                self._running.discard(generation)
                generation._end("error", error)

    def _sample(self, slot: Slot, index: int) -> None:
        import llama_cpp

        generation, sampler = slot.generation, slot.sampler
        assert generation is not None and sampler is not None
        token = sampler.sample(self._ctx, index)
        if slot.first is None:
            slot.first = time.perf_counter()
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            self._finish(slot, "stop")
            return
        slot.generated += 1
        size = llama_cpp.llama_token_to_piece(self._vocab, token, self._piece, 256, 0, False)
        text = slot.decoder.decode(self._piece.raw[: max(0, size)])
        if text:
            slot.pieces.append(text)
            self._outbox.append((generation, text))
        stops = generation.params.stop
        if stops and any(stop in "".join(slot.pieces[-8:]) for stop in stops):
            self._finish(slot, "stop")
        elif slot.generated >= slot.max_tokens:
            self._finish(slot, "length")
        else:
            slot.next_token = token

    def _finish(self, slot: Slot, reason: StopReason, error: str | None = None) -> None:
        generation = slot.generation
        assert generation is not None
        ended = time.perf_counter()
        tail = slot.decoder.decode(b"", final=True) if slot.decoder else ""
        if tail:
            slot.pieces.append(tail)
            self._outbox.append((generation, tail))
        self._send_deltas()  # before the end, which the loop must see after them
        result = GenerationResult(
            "".join(slot.pieces), reason, prompt_tokens=slot.prompt_tokens,
            completion_tokens=slot.generated, error=error,
            queued_s=slot.started - generation.submitted,
            first_token_s=None if slot.first is None else slot.first - slot.started,
            decode_s=0.0 if slot.first is None else ended - slot.first,
            cached_tokens=slot.cached_tokens, prefill_s=slot.prefill_s)
        if result.tokens_per_second and reason != "cancelled":
            self._speeds.append(result.tokens_per_second)
        self._free_sampler(slot)
        slot.generation = None
        slot.next_token = None
        slot.pending = []
        slot.waits_for = None
        slot.last_used = ended
        self._running.discard(generation)
        generation._finish(result)

    # Introspection for tests and /model ---------------------------------------------

    def resident(self) -> dict[str, int]:
        """Conversation key -> tokens resident in its sequence."""
        return {s.cache_key: len(s.tokens) for s in self._slots if s.cache_key}

    def kv_positions(self) -> list[int]:
        """The highest KV position of each sequence (-1 when empty)."""
        import llama_cpp

        return [llama_cpp.llama_memory_seq_pos_max(self._mem, s.seq) for s in self._slots]
