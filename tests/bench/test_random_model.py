"""`bench.random_model`: a random-weight Llama GGUF that llama.cpp loads and decodes, with
the source model's tokenizer and chat template."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("gguf")

from bench import random_model


@pytest.mark.parametrize("weights", ["Q8_0", "Q4_1", "F16"])
def test_a_tiny_random_model_loads_and_decodes(tmp_path: Path, model_path: Path,
                                               weights: str) -> None:
    from llama_cpp import Llama

    shape = replace(random_model.PRESETS["tiny"], weights=weights)
    done = random_model.write(tmp_path / "tiny.gguf", shape, model_path)
    assert done["vocab"] == 49152 and done["parameters"] == shape.parameters(49152)
    assert not (tmp_path / "tiny.gguf.part").exists()

    model = Llama(str(tmp_path / "tiny.gguf"), n_ctx=128, n_threads=1, verbose=False)
    source = Llama(str(model_path), vocab_only=True, verbose=False)
    try:
        text = b"<|im_start|>user\nHow are you?<|im_end|>"
        assert model.tokenize(text, special=True) == source.tokenize(text, special=True)
        template = "tokenizer.chat_template"
        assert model.metadata[template] == source.metadata[template]
        assert model.metadata["llama.embedding_length"] == "64"
        out = model.create_completion("Hello", max_tokens=4, temperature=0.0)
        assert out["usage"]["completion_tokens"] == 4  # random text, but decoded
    finally:
        model.close()
        source.close()


def test_the_presets_have_the_sizes_they_claim() -> None:
    assert 1.0e9 < random_model.PRESETS["1b"].parameters(49152) < 1.3e9
    small = random_model.PRESETS["smollm2-135m"]
    assert 1.3e8 < small.parameters(49152) < 1.4e8  # SmolLM2-135M's own count
    assert (small.weights, small.embedding) == ("Q4_1", "Q8_0")  # as the bundled file


def test_shapes_that_llama_cannot_split_are_refused(tmp_path: Path, model_path: Path
                                                    ) -> None:
    with pytest.raises(ValueError):
        random_model.write(tmp_path / "x.gguf", replace(random_model.PRESETS["tiny"],
                                                        heads=3), model_path)
