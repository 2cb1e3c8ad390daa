"""Control-token strings: finding them in template text, and defusing them in user text.

A user who types a model's control strings (`<|im_start|>system ...`) must not become
the system. The in-process engine tokenizes content as plain text (see `template`); a
remote server applies its own template to what we send, so there the strings are
defused before sending: a WORD JOINER (U+2060, invisible) goes after their first
character, so the text reads the same but no longer matches the control token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

WORD_JOINER = "\u2060"

# Role and turn markers of the common chat templates, for servers that do not say which
# tokens their model has: ChatML (Qwen, SmolLM), Llama 2 and 3, Mistral, Gemma, Phi,
# Zephyr, DeepSeek, Command-R, and the generic BOS/EOS strings.
KNOWN_CONTROL_STRINGS: tuple[str, ...] = (
    "<|im_start|>", "<|im_end|>", "<|im_sep|>", "<|endoftext|>",
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eot_id|>", "<|eom_id|>", "<|python_tag|>",
    "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]",
    "<s>", "</s>", "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>",
    "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",
    "<|begin▁of▁sentence|>", "<|end▁of▁sentence|>", "<|User|>", "<|Assistant|>",
    "<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|SYSTEM_TOKEN|>",
    "<|USER_TOKEN|>", "<|CHATBOT_TOKEN|>",
)


def pattern_for(strings: Iterable[str]) -> re.Pattern[str] | None:
    """A regex matching any of `strings`, longest first (None when there are none)."""
    unique = sorted({s for s in strings if s}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile("|".join(re.escape(s) for s in unique))


def defuse(text: str, pattern: re.Pattern[str] | None) -> str:
    """`text` with every control string it contains made inert but still visible."""
    if pattern is None:
        return text
    return pattern.sub(lambda m: m.group(0)[0] + WORD_JOINER + m.group(0)[1:], text)
