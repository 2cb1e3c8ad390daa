"""The prompts every benchmark asks: long answers, distinct from the first words."""

import hashlib

QUESTIONS = [
    "Write a detailed story about a lighthouse keeper and a storm.",
    "Explain how bread is made, step by step, in detail.",
    "Describe a journey across the mountains in winter.",
    "Tell me everything you know about the history of tea.",
    "Write a long letter from a sailor to his family.",
    "Describe a busy market in a big city at dawn.",
    "Explain how a bicycle works, part by part.",
    "Tell a long fairy tale about a clever fox.",
]


def opener(*parts: object) -> str:
    """A short code unique to `parts`, to open a prompt with: prompts that share their
    first tokens would let the engine copy that prefix's KV between sequences, a saving
    a baseline or the server cannot make, so figures not about caching avoid it."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:6]
