"""The chat template: turns messages into the token ids the model is prompted with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.engine.protocol import ChatMessage

if TYPE_CHECKING:
    from llama_cpp import Llama

# Used only when a GGUF file carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class ChatTemplate:
    """The GGUF's Jinja chat template (or ChatML), rendered and tokenized with its model."""

    def __init__(self, llm: Llama, template: str | None) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llm = llm
        eos = llm.token_eos()
        self._formatter: Any = Jinja2ChatFormatter(
            template=template or CHATML_TEMPLATE,
            eos_token=_token_text(llm, eos),
            bos_token=_token_text(llm, llm.token_bos()),
            add_generation_prompt=True,
            stop_token_ids=[eos],
        )

    def render(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Apply the template and tokenize, ready for generation."""
        formatted = self._formatter(
            messages=[{"role": m.role, "content": m.content} for m in messages]
        )
        return self._llm.tokenize(formatted.prompt.encode("utf-8", "replace"),
                                  add_bos=not formatted.added_special, special=True)


def _token_text(llm: Llama, token: int) -> str:
    return llm.detokenize([token], special=True).decode("utf-8", "ignore")
