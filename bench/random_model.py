"""A Llama-architecture GGUF with random weights, of any size, for throughput figures.

Speed does not depend on what the weights say, only on their shapes and types, so a
random model of a chosen size measures what a real one of that size would, without
downloading it (the GPU figures in bench/RESULTS.md: only the 94 MiB SmolLM2-135M is at
hand, and a GPU is only worth it on larger models). The tokenizer and chat template are
copied from a real GGUF (by default the bundled SmolLM2-135M), so prompts render and
tokenize exactly as with that model; the text generated is random, which a benchmark
with a fixed token count (`ignore_eos`) does not mind.

Quantized tensors are written directly as random blocks (no float weights, no
quantization pass): a 1 GiB Q8_0 model takes seconds. Norm weights are ones and each
weight's spread is about 0.02, so activations stay finite.

    python -m bench.random_model OUT.gguf --preset 1b
    python -m bench.random_model OUT.gguf --preset smollm2-135m --source models/x.gguf
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

# (elements per block, bytes per block) of the types written directly.
BLOCKS = {"Q8_0": (32, 34), "Q4_1": (32, 20)}
WEIGHT_STD = 0.02


@dataclass(frozen=True)
class Shape:
    """A Llama model's size: what llama.cpp reads from the `llama.*` keys."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    weights: str = "Q8_0"  # the matrices' type: Q8_0, Q4_1 or F16
    embedding: str = "Q8_0"  # token_embd's type (also the output: tied, as SmolLM2)

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def parameters(self, vocab: int) -> int:
        """Weights in the matrices and the (tied) embedding; norms left out."""
        kv = self.kv_heads * self.head_dim
        per_layer = self.hidden * (2 * self.hidden + 2 * kv + 3 * self.ffn)
        return vocab * self.hidden + self.layers * per_layer


PRESETS: dict[str, Shape] = {
    # About 1.1 billion parameters (1.1 GiB in Q8_0): a GPU is worth it.
    "1b": Shape(hidden=2048, layers=16, heads=32, kv_heads=8, ffn=8192),
    # SmolLM2-135M-Instruct.Q4_1.gguf's own shapes and types: the bundled model's speed.
    "smollm2-135m": Shape(hidden=576, layers=30, heads=9, kv_heads=3, ffn=1536,
                          weights="Q4_1", embedding="Q8_0"),
    # For tests: loads and decodes in well under a second on a CPU.
    "tiny": Shape(hidden=64, layers=2, heads=4, kv_heads=2, ffn=128),
}


def _random_blocks(rng: np.random.Generator, rows: int, columns: int, kind: str
                   ) -> np.ndarray:
    """`rows` x `columns` weights of type `kind` as raw GGUF bytes (uint8, one row of
    blocks per weight row): random quants under one scale that gives WEIGHT_STD."""
    block, size = BLOCKS[kind]
    if columns % block:
        raise ValueError(f"{columns} columns are not a whole number of {kind} blocks")
    blocks = rows * columns // block
    out = np.empty((blocks, size), dtype=np.uint8)
    if kind == "Q8_0":  # d (f16), then 32 int8 quants: uniform bytes have a spread of ~73.9
        out[:, :2] = np.frombuffer(np.float16(WEIGHT_STD / 73.9).tobytes(), np.uint8)
        out[:, 2:] = np.frombuffer(rng.bytes(blocks * 32), np.uint8).reshape(blocks, 32)
    else:  # Q4_1: d, m (f16), then 16 bytes of nibbles in 0..15 (spread ~4.6, mean 7.5)
        d = WEIGHT_STD / 4.61
        out[:, :2] = np.frombuffer(np.float16(d).tobytes(), np.uint8)
        out[:, 2:4] = np.frombuffer(np.float16(-7.5 * d).tobytes(), np.uint8)
        out[:, 4:] = np.frombuffer(rng.bytes(blocks * 16), np.uint8).reshape(blocks, 16)
    return out.reshape(rows, columns // block * size)


def _random_matrix(rng: np.random.Generator, rows: int, columns: int, kind: str
                   ) -> tuple[np.ndarray, Any]:
    """A (rows, columns) weight and the GGML type to write it as."""
    from gguf import GGMLQuantizationType

    if kind == "F16":
        weights = rng.standard_normal((rows, columns), dtype=np.float32) * WEIGHT_STD
        return weights.astype(np.float16), None
    return _random_blocks(rng, rows, columns, kind), GGMLQuantizationType[kind]


def _copy_tokenizer(writer: Any, source: Path) -> int:
    """Copy every `tokenizer.*` key (vocabulary, merges, special ids, chat template) from
    `source`; the vocabulary's size."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(source)
    vocab = 0
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        value = field.contents()
        if field.types[0] == GGUFValueType.ARRAY:
            writer.add_key_value(key, value, GGUFValueType.ARRAY, sub_type=field.types[-1])
            if key == "tokenizer.ggml.tokens":
                vocab = len(value)
        else:
            writer.add_key_value(key, value, field.types[0])
    if not vocab:
        raise ValueError(f"{source} has no tokenizer.ggml.tokens")
    return vocab


def write(path: Path, shape: Shape, source: Path, seed: int = 0,
          context_length: int = 8192) -> dict[str, Any]:
    """Write a random-weight Llama GGUF of `shape` with `source`'s tokenizer to `path`;
    what was written (parameters, bytes)."""
    from gguf import GGUFWriter

    if shape.hidden % shape.heads or shape.heads % shape.kv_heads:
        raise ValueError(f"heads must divide hidden and kv_heads divide heads: {shape}")
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    writer = GGUFWriter(tmp, "llama")
    writer.add_name(f"random llama {shape.hidden}x{shape.layers} {shape.weights}")
    vocab = _copy_tokenizer(writer, source)
    writer.add_context_length(context_length)
    writer.add_embedding_length(shape.hidden)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.ffn)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_rope_freq_base(100000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)
    writer.add_quantization_version(2)

    def matrix(name: str, rows: int, columns: int, kind: str) -> None:
        data, raw = _random_matrix(rng, rows, columns, kind)
        writer.add_tensor(name, data, raw_dtype=raw)

    ones = np.ones(shape.hidden, dtype=np.float32)
    kv = shape.kv_heads * shape.head_dim
    matrix("token_embd.weight", vocab, shape.hidden, shape.embedding)
    writer.add_tensor("output_norm.weight", ones)
    for i in range(shape.layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", ones)
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", ones)
        for name, rows, columns in (("attn_q", shape.hidden, shape.hidden),
                                    ("attn_k", kv, shape.hidden),
                                    ("attn_v", kv, shape.hidden),
                                    ("attn_output", shape.hidden, shape.hidden),
                                    ("ffn_gate", shape.ffn, shape.hidden),
                                    ("ffn_up", shape.ffn, shape.hidden),
                                    ("ffn_down", shape.hidden, shape.ffn)):
            matrix(f"blk.{i}.{name}.weight", rows, columns, shape.weights)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(path)
    return {"path": str(path), "parameters": shape.parameters(vocab),
            "bytes": path.stat().st_size, "vocab": vocab, **vars(shape)}


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.random_model OUT [--preset P] [--source GGUF] [sizes...]`."""
    from bot.config import DEFAULT_MODEL_PATH

    parser = argparse.ArgumentParser(prog="python -m bench.random_model",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="1b")
    parser.add_argument("--source", type=Path, default=DEFAULT_MODEL_PATH,
                        help="the GGUF whose tokenizer and chat template are copied")
    for name in ("hidden", "layers", "heads", "kv_heads", "ffn"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    parser.add_argument("--weights", choices=("Q8_0", "Q4_1", "F16"), default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    shape = replace(PRESETS[args.preset], **{
        k: getattr(args, k) for k in ("hidden", "layers", "heads", "kv_heads", "ffn", "weights")
        if getattr(args, k) is not None})
    done = write(args.out, shape, args.source, seed=args.seed)
    print(f"{done['path']}: {done['parameters'] / 1e9:.3f} B parameters, "
          f"{done['bytes'] / 2**20:.0f} MiB ({shape})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
