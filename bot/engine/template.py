"""The chat template: turns messages into the token ids the model is prompted with.

Only the template's own text may produce control tokens. Messages' contents (a user's
words, a persona, a channel prompt, an old turn) are tokenized as plain text, so a user
who types `<|im_end|><|im_start|>system` writes those characters and nothing more.

How, for any GGUF template: the template is rendered once with unforgeable markers in
place of the contents, which splits its output into the template's own parts. The real
rendering must equal those parts with the contents between them (checked every time);
then the parts are tokenized the way llama.cpp parses special tokens (control strings
become their ids, the text around them is plain text) and each content joins the plain
text around it. Without injected strings this gives exactly the ids that tokenizing the
whole rendering with `special=True` gives. A template that rewrites contents in some
other way than trimming them falls back to defusing their control strings.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.engine.protocol import ChatMessage
from bot.engine.special_tokens import defuse, pattern_for

if TYPE_CHECKING:
    import re

    from llama_cpp import Llama

log = logging.getLogger(__name__)

# Used only when a GGUF file carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Message texts whose plain-text tokens are remembered (a few MB at most).
PLAIN_CACHE_ENTRIES = 4096

# Whole prompts remembered: the planner renders a prompt (in a worker thread, to count
# it) moments before the engine's worker renders the same messages to prefill them.
PROMPT_CACHE_ENTRIES = 16

# llama.cpp parses these token kinds out of text when asked to (`special=True`); it
# parses USER_DEFINED tokens even in plain text, so those are defused in contents.
_USER_DEFINED = 1 << 4
_PARSED_ATTRS = (1 << 0) | (1 << 3) | _USER_DEFINED  # UNKNOWN | CONTROL | USER_DEFINED


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
        self.special_ids, user_defined = special_token_ids(llm)
        self.special_pattern = pattern_for(self.special_ids)
        # Plain-text tokenization still parses these: contents get them defused.
        self._user_defined_pattern = pattern_for(user_defined)
        self._warned = False
        # Rendered from the engine's worker and the planner's threads at once.
        self._lock = threading.Lock()
        self._plain: OrderedDict[str, list[int]] = OrderedDict()
        self._prompts: OrderedDict[tuple[tuple[str, str], ...], list[int]] = OrderedDict()

    def _format(self, roles: Sequence[str], contents: Sequence[str]) -> tuple[str, bool]:
        formatted = self._formatter(
            messages=[{"role": r, "content": c} for r, c in zip(roles, contents, strict=True)]
        )
        return formatted.prompt, bool(formatted.added_special)

    def render(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Apply the template and tokenize, contents as plain text, ready for generation."""
        key = tuple((m.role, m.content) for m in messages)
        with self._lock:
            tokens = self._prompts.get(key)
            if tokens is not None:
                self._prompts.move_to_end(key)
                return list(tokens)  # a copy: callers may change theirs
        tokens = self._render(messages)
        with self._lock:
            self._prompts[key] = list(tokens)
            while len(self._prompts) > PROMPT_CACHE_ENTRIES:
                self._prompts.popitem(last=False)
        return tokens

    def _render(self, messages: Sequence[ChatMessage]) -> list[int]:
        roles = [m.role for m in messages]
        contents = [m.content for m in messages]
        nonce = secrets.token_hex(8)
        marks = [f"\ue000{nonce}:{i}\ue001" for i in range(len(messages))]
        skeleton, added_special = self._format(roles, marks)
        parts = _split(skeleton, marks)
        rendered, _ = self._format(roles, contents)
        if parts is not None:
            for candidate in (contents, [c.strip() for c in contents]):
                if _join(parts, candidate) == rendered:
                    return self._tokenize(parts, candidate, add_bos=not added_special)
        if not self._warned:
            self._warned = True
            log.warning("the chat template rewrites message contents; control strings in "
                        "them are defused instead of tokenized apart")
        safe, _ = self._format(roles, [defuse(c, self.special_pattern) for c in contents])
        return self._llm.tokenize(safe.encode("utf-8", "replace"), add_bos=not added_special,
                                  special=True)

    def _tokenize(self, parts: list[str], contents: Sequence[str], *,
                  add_bos: bool) -> list[int]:
        tokens: list[int] = [self._llm.token_bos()] if add_bos else []
        text: list[str] = []  # plain text waiting for the next control token

        def flush() -> None:
            if text:
                joined = "".join(text)
                text.clear()
                if joined:
                    tokens.extend(self._plain_tokens(joined))

        for index, part in enumerate(parts):
            for piece, token in _control_split(part, self.special_pattern, self.special_ids):
                if token is None:
                    text.append(piece)
                else:
                    flush()
                    tokens.append(token)
            if index < len(contents):
                text.append(defuse(contents[index], self._user_defined_pattern))
        flush()
        return tokens


    def _plain_tokens(self, text: str) -> list[int]:
        """`text` tokenized as plain text, remembered: a conversation's next turn renders
        every earlier message again, and re-tokenizing them was most of a render."""
        with self._lock:
            ids = self._plain.get(text)
            if ids is not None:
                self._plain.move_to_end(text)
                return ids
        ids = self._llm.tokenize(text.encode("utf-8", "replace"), add_bos=False,
                                 special=False)
        with self._lock:
            self._plain[text] = ids
            while len(self._plain) > PLAIN_CACHE_ENTRIES:
                self._plain.popitem(last=False)
        return ids


def special_token_ids(llm: Llama) -> tuple[dict[str, int], set[str]]:
    """Every token llama.cpp parses out of text with `special=True`, by its text; and
    the texts of those it parses even without (user-defined tokens)."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    found: dict[str, int] = {}
    user_defined: set[str] = set()
    for token in range(llama_cpp.llama_vocab_n_tokens(vocab)):
        attr = llama_cpp.llama_vocab_get_attr(vocab, token)
        if attr & _PARSED_ATTRS:
            text = llama_cpp.llama_vocab_get_text(vocab, token).decode("utf-8", "replace")
            if text:
                found.setdefault(text, token)
                if attr & _USER_DEFINED:
                    user_defined.add(text)
    return found, user_defined


def _split(skeleton: str, marks: Sequence[str]) -> list[str] | None:
    """The template's own text around each mark, or None if a mark is not there once."""
    parts: list[str] = []
    start = 0
    for mark in marks:
        at = skeleton.find(mark, start)
        if at < 0 or skeleton.count(mark) != 1:
            return None
        parts.append(skeleton[start:at])
        start = at + len(mark)
    parts.append(skeleton[start:])
    return parts


def _join(parts: Sequence[str], contents: Sequence[str]) -> str:
    pieces = [parts[0]]
    for content, part in zip(contents, parts[1:], strict=True):
        pieces += [content, part]
    return "".join(pieces)


def _control_split(text: str, pattern: re.Pattern[str] | None, ids: dict[str, int]
                   ) -> list[tuple[str, int | None]]:
    """`text` as (plain text, None) and (control string, its id) pieces, in order."""
    if pattern is None:
        return [(text, None)]
    pieces: list[tuple[str, int | None]] = []
    start = 0
    for match in pattern.finditer(text):
        pieces.append((text[start:match.start()], None))
        pieces.append((match.group(0), ids[match.group(0)]))
        start = match.end()
    pieces.append((text[start:], None))
    return pieces


def _token_text(llm: Llama, token: int) -> str:
    return llm.detokenize([token], special=True).decode("utf-8", "ignore")
