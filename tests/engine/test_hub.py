"""`causette model pull/list/use` against a hub on 127.0.0.1 (HF_ENDPOINT), through the
real `huggingface_hub` client, as a person runs them: a download, a cut connection
resumed, a corrupted body refused, a gated model explained, no room refused up front."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.engine.catalogue import CATALOGUE, largest_fitting
from bot.engine.hub import PullError, choose_file, room_problems
from tests.support.hub import FakeHub, HubFile

REPO = "bartowski/Llama-3.2-3B-Instruct-GGUF"


@pytest.fixture(scope="module")
def model_bytes(model_path: Path) -> bytes:
    return model_path.read_bytes()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
async def hub(model_bytes: bytes) -> AsyncIterator[tuple[FakeHub, str]]:
    data = model_bytes
    fake = FakeHub(repos={REPO: [
        HubFile("Llama-3.2-3B-Instruct-Q4_K_M.gguf", data),
        HubFile("Llama-3.2-3B-Instruct-Q8_0.gguf", data),
        HubFile("README.md", b"# card\n"),
    ]})
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def causette(*args: str, cwd: Path, **env: str) -> tuple[int, str, str]:
    """Run `python -m bot ARGS` in `cwd` while this loop keeps serving the hub."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("HF_") and k != "MODEL_PATH"}
    environ.update(env, HF_HOME=str(cwd / "hf-home"), PYTHONPATH=str(Path.cwd()))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=300)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_pull_downloads_verifies_and_lists(hub: tuple[FakeHub, str], tmp_path: Path,
                                                 model_path: Path) -> None:
    fake, url = hub
    code, out, err = await causette("model", "pull", REPO, "--quant", "Q4_K_M", "--dir",
                                    str(tmp_path / "models"), cwd=tmp_path, HF_ENDPOINT=url)
    assert code == 0, err
    got = tmp_path / "models" / "Llama-3.2-3B-Instruct-Q4_K_M.gguf"
    assert sha256(got) == sha256(model_path)
    assert "SHA-256 checked" in out
    assert any(p.startswith("/storage/") for _, p, _ in fake.requests)  # followed the redirect
    code, out, err = await causette("model", "list", "--dir", str(tmp_path / "models"),
                                    cwd=tmp_path)
    assert code == 0, err
    row = next(line for line in out.splitlines() if "Q4_K_M.gguf" in line)
    for column in ("llama", "135M", "Q4_1", "8,192", "94 MiB", "GGUF"):
        assert column in row


async def test_a_cut_download_resumes_where_it_stopped(hub: tuple[FakeHub, str],
                                                       tmp_path: Path) -> None:
    fake, url = hub
    fake.cut_after = 40 << 20
    code, out, err = await causette("model", "pull", REPO, "--file",
                                    "Llama-3.2-3B-Instruct-Q8_0.gguf", "--dir",
                                    str(tmp_path / "models"), cwd=tmp_path, HF_ENDPOINT=url)
    assert code == 0, err
    gets = fake.storage_gets()
    assert len(gets) == 2
    assert "Range" not in gets[0]
    assert gets[1]["Range"] == f"bytes={40 << 20}-"  # only the missing part, not it all
    assert "SHA-256 checked" in out
    assert "resume" in err  # one pull: the client resumed by itself, and said so


async def test_a_corrupted_body_is_refused_and_deleted(hub: tuple[FakeHub, str],
                                                       tmp_path: Path) -> None:
    fake, url = hub
    item = fake.repos[REPO][0]
    item.data = item.data[:1000] + bytes([item.data[1000] ^ 0xFF]) + item.data[1001:]
    code, _out, err = await causette("model", "pull", REPO, "--quant", "Q4_K_M", "--dir",
                                     str(tmp_path / "models"), cwd=tmp_path, HF_ENDPOINT=url)
    assert code == 1
    assert "SHA-256 is not the one the hub publishes" in err
    assert list((tmp_path / "models").glob("*.gguf")) == []


async def test_a_gated_model_is_explained_and_opens_with_the_token(
        hub: tuple[FakeHub, str], tmp_path: Path) -> None:
    fake, url = hub
    fake.gated[REPO] = "hf_right"
    code, _out, err = await causette("model", "pull", REPO, "--quant", "Q4_K_M", "--dir",
                                     str(tmp_path / "models"), cwd=tmp_path, HF_ENDPOINT=url)
    assert code == 1
    assert "gated" in err and "HF_TOKEN" in err
    code, _out, err = await causette("model", "pull", REPO, "--quant", "Q4_K_M", "--dir",
                                     str(tmp_path / "models"), cwd=tmp_path, HF_ENDPOINT=url,
                                     HF_TOKEN="hf_right")
    assert code == 0, err
    assert fake.storage_gets()  # the bytes came only once the token was given


async def test_no_room_is_refused_before_any_byte(hub: tuple[FakeHub, str],
                                                  tmp_path: Path) -> None:
    fake, url = hub
    fake.repos[REPO][0].published_size = 50 << 40  # 50 TiB: no disk or RAM here holds it
    code, _out, err = await causette("model", "pull", REPO, "--quant", "Q4_K_M", "--dir",
                                     str(tmp_path / "models"), cwd=tmp_path, HF_ENDPOINT=url)
    assert code == 1
    assert "not enough disk" in err and "not enough RAM" in err
    assert fake.storage_gets() == []


async def test_offline_mode_is_honoured(hub: tuple[FakeHub, str], tmp_path: Path) -> None:
    fake, url = hub
    code, _out, err = await causette("model", "pull", REPO, "--quant", "Q4_K_M",
                                     cwd=tmp_path, HF_ENDPOINT=url, HF_HUB_OFFLINE="1")
    assert code == 1
    assert "HF_HUB_OFFLINE" in err
    assert fake.requests == []


async def test_use_writes_model_path_into_env(tmp_path: Path, model_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(model_path, models / "other.gguf")
    (tmp_path / ".env").write_text("DISCORD_TOKEN=\nMODEL_PATH=models/old.gguf\n")
    code, _out, err = await causette("model", "use", "other.gguf", "--dir", str(models),
                                    cwd=tmp_path)
    assert code == 0, err
    lines = (tmp_path / ".env").read_text().splitlines()
    assert lines == ["DISCORD_TOKEN=", f"MODEL_PATH={models / 'other.gguf'}"]
    code, _out, err = await causette("model", "use", "missing.gguf", "--dir", str(models),
                                     cwd=tmp_path)
    assert code == 1 and "other.gguf" in err


def test_choose_file_by_quantisation() -> None:
    files = ["a-Q4_K_M.gguf", "a-Q4_K_S.gguf", "a-Q8_0.gguf", "README.md",
             "big-Q6_K-00001-of-00002.gguf", "big-Q6_K-00002-of-00002.gguf"]
    assert choose_file(files, "Q4_K_M") == "a-Q4_K_M.gguf"
    assert choose_file(files, "q8_0") == "a-Q8_0.gguf"
    assert choose_file(files, filename="a-Q4_K_S.gguf") == "a-Q4_K_S.gguf"
    with pytest.raises(PullError, match="no Q2_K file"):
        choose_file(files, "Q2_K")
    with pytest.raises(PullError, match="split"):
        choose_file(files, "Q6_K")
    with pytest.raises(PullError, match="--quant"):
        choose_file(files)


def test_room_problems_name_what_is_short() -> None:
    gib = 1 << 30
    assert room_problems(2 * gib, Path("."), ram_bytes=24 * gib, free_bytes=80 * gib) == []
    problems = room_problems(30 * gib, Path("."), ram_bytes=24 * gib, free_bytes=10 * gib)
    assert [p.split(":")[0] for p in problems] == ["not enough disk", "not enough RAM"]


def test_the_catalogue_recommends_the_largest_that_fits() -> None:
    gib = 1 << 30
    assert largest_fitting(24 * gib).name == "Qwen2.5 14B Instruct"
    assert largest_fitting(8 * gib).name == "Llama 3.1 8B Instruct"
    assert largest_fitting(5 * gib).name == "Llama 3.2 3B Instruct"
    assert largest_fitting(1 * gib) is None
    assert all(m.filename.endswith(".gguf") and "/" in m.repo for m in CATALOGUE)
