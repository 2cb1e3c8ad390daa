"""Recommended chat models, by the RAM they need: names and where to pull them, no weights.

Each entry is a single-file Q4_K_M GGUF (a good size/quality trade for CPUs) from a
well-known quantiser on the Hugging Face Hub; `size_gib` is the file's size as the hub
lists it, and a machine needs about that plus 1 GiB (context and runtime) to run it.
`causette doctor` recommends the largest that fits; `causette model pull` fetches one.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.hub import RAM_HEADROOM_BYTES


@dataclass(frozen=True)
class CatalogueModel:
    """One recommended model."""

    name: str
    repo: str
    filename: str
    size_gib: float
    family: str

    @property
    def ram_bytes(self) -> int:
        """About what it takes to run: the file, plus the context and the runtime."""
        return int(self.size_gib * 2**30) + RAM_HEADROOM_BYTES

    @property
    def pull_command(self) -> str:
        """The command that fetches it."""
        return f"causette model pull {self.repo} --file {self.filename}"


CATALOGUE: tuple[CatalogueModel, ...] = (
    CatalogueModel("Llama 3.2 1B Instruct", "bartowski/Llama-3.2-1B-Instruct-GGUF",
                   "Llama-3.2-1B-Instruct-Q4_K_M.gguf", 0.81, "llama3"),
    CatalogueModel("SmolLM2 1.7B Instruct", "bartowski/SmolLM2-1.7B-Instruct-GGUF",
                   "SmolLM2-1.7B-Instruct-Q4_K_M.gguf", 1.06, "chatml"),
    CatalogueModel("Llama 3.2 3B Instruct", "bartowski/Llama-3.2-3B-Instruct-GGUF",
                   "Llama-3.2-3B-Instruct-Q4_K_M.gguf", 2.02, "llama3"),
    CatalogueModel("Qwen2.5 7B Instruct", "bartowski/Qwen2.5-7B-Instruct-GGUF",
                   "Qwen2.5-7B-Instruct-Q4_K_M.gguf", 4.68, "chatml"),
    CatalogueModel("Llama 3.1 8B Instruct", "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF",
                   "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", 4.92, "llama3"),
    CatalogueModel("Gemma 2 9B it", "bartowski/gemma-2-9b-it-GGUF",
                   "gemma-2-9b-it-Q4_K_M.gguf", 5.76, "gemma"),
    CatalogueModel("Mistral Nemo 12B Instruct", "bartowski/Mistral-Nemo-Instruct-2407-GGUF",
                   "Mistral-Nemo-Instruct-2407-Q4_K_M.gguf", 7.48, "mistral"),
    CatalogueModel("Qwen2.5 14B Instruct", "bartowski/Qwen2.5-14B-Instruct-GGUF",
                   "Qwen2.5-14B-Instruct-Q4_K_M.gguf", 8.99, "chatml"),
)


def largest_fitting(ram_bytes: int, share: float = 0.75) -> CatalogueModel | None:
    """The largest recommended model that needs at most `share` of `ram_bytes` (the rest
    stays for the system, the bot and the database); None when even the smallest is too
    big."""
    fitting = [m for m in CATALOGUE if m.ram_bytes <= ram_bytes * share]
    return max(fitting, key=lambda m: m.size_gib, default=None)
