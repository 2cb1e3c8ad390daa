"""The splitter (property tests) and the edit cadence."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.pipeline.streaming import EditCadence, split_chunks, split_text

words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=30)
fenced = st.lists(
    st.one_of(words, st.just("\n```python\n"), st.just("\n```\n"), st.just(" "),
              st.just("\n"), st.just("\n\n"), st.text(min_size=50, max_size=300)),
    max_size=80,
).map("".join)


def balanced(text: str) -> bool:
    return sum(1 for line in text.split("\n") if line.lstrip(" \t").startswith("```")) % 2 == 0


@settings(max_examples=300, deadline=None)
@given(fenced, st.sampled_from([40, 100, 2000]))
def test_split_properties(text: str, limit: int) -> None:
    chunks = split_chunks(text, limit)
    assert all(len(c.text) <= limit for c in chunks)
    assert "".join(c.piece for c in chunks) == text  # nothing lost, nothing added
    for chunk in chunks:
        if chunk.prefix or chunk.suffix:
            assert balanced(chunk.text)


def test_short_text_is_one_chunk() -> None:
    assert split_text("hello world") == ["hello world"]
    assert split_text("") == [""]


def test_words_are_not_broken() -> None:
    text = " ".join(f"word{i}" for i in range(1000))
    parts = split_text(text, 2000)
    assert len(parts) > 1
    for part in parts[:-1]:
        assert part.endswith(" ")
    assert all(p.split(" ")[0].startswith("word") for p in parts)


def test_code_fence_is_closed_and_reopened() -> None:
    code = "\n".join(f"print({i})" for i in range(400))
    text = f"Here is code:\n```python\n{code}\n```\nDone."
    parts = split_text(text, 2000)
    assert len(parts) >= 2
    assert parts[0].endswith("\n```")
    assert parts[1].startswith("```python\n")
    assert all(balanced(p) for p in parts)
    assert all(len(p) <= 2000 for p in parts)


def test_a_word_longer_than_a_message_is_cut_hard() -> None:
    parts = split_text("x" * 4500, 2000)
    assert [len(p) for p in parts] == [1996, 1996, 508]


def test_edit_cadence() -> None:
    now = [100.0]
    cadence = EditCadence(interval=1.0, clock=lambda: now[0])
    assert cadence.ready()
    cadence.mark()
    assert not cadence.ready() and cadence.wait_time() == 1.0
    now[0] += 0.4
    assert not cadence.ready()
    now[0] += 0.6
    assert cadence.ready()
