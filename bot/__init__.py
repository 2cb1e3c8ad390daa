"""Causette: a local-first chat assistant on an in-process quantized Llama."""

__version__ = "0.1.0"
