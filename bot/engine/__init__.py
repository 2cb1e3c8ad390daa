"""The LLM engine: the protocol the pipeline talks to and its implementations.

- `protocol`: `Engine`, `Generation`, `GenerationResult`, `SamplingParams`, errors
- `template`: the chat template, messages to prompt tokens
- `batched`: `BatchedLlamaEngine`, continuous batching in process (the default)
- `llama`: `LlamaEngine`, the single-stream reference on llama-cpp-python's high-level API
- `openai_compat`: `OpenAIEngine`, OpenAI-compatible inference servers
- `supervisor`: restarts a stopped engine, bounded, then exits 70
- `gguf`: the GGUF header reader and the verified default-model fetch
"""

from bot.engine.gguf import GGUFInfo, ModelFileError, fetch_default_model, read_gguf
from bot.engine.llama import LlamaEngine
from bot.engine.protocol import (
    ChatMessage,
    Engine,
    EngineBusy,
    EngineError,
    EngineInfo,
    EngineStopped,
    Generation,
    GenerationResult,
    SamplingParams,
    StopReason,
    Supervised,
)

__all__ = [
    "ChatMessage",
    "Engine",
    "EngineBusy",
    "EngineError",
    "EngineInfo",
    "EngineStopped",
    "GGUFInfo",
    "Generation",
    "GenerationResult",
    "LlamaEngine",
    "ModelFileError",
    "SamplingParams",
    "StopReason",
    "Supervised",
    "fetch_default_model",
    "read_gguf",
]
