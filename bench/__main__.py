"""`python -m bench NAME [--json]`: run one benchmark and print its figures."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    subs = parser.add_subparsers(dest="name", required=True)

    def bench(name: str, about: str) -> argparse.ArgumentParser:
        """A benchmark's sub-command; every one can print its figures as JSON."""
        sub = subs.add_parser(name, help=about)
        sub.add_argument("--json", action="store_true", help="print one JSON object")
        return sub

    pipeline = bench("pipeline", "raw llama-cpp-python vs the whole pipeline")
    pipeline.add_argument("--runs", type=int, default=5, help="runs of each, interleaved")
    pipeline.add_argument("--tokens", type=int, default=128, help="max tokens per answer")
    engine = bench("engine", "batched engine vs reference and naive baselines")
    engine.add_argument("--tokens", type=int, default=128, help="max tokens per answer")
    backend = bench("backend", "OpenAI-compatible server: direct vs bot")
    backend.add_argument("--runs", type=int, default=5)
    backend.add_argument("--tokens", type=int, default=128)
    load = bench("load", "200 simulated users through the pipeline")
    load.add_argument("--users", type=int, default=200)
    load.add_argument("--messages", type=int, default=2, help="messages per user")
    peer = bench("peer", "the engine beside llama-server and "
                         "llama-batched-bench (built once, cached)")
    peer.add_argument("--runs", type=int, default=1, help="whole runs; figures are medians")
    peer.add_argument("--tokens", type=int, default=128, help="tokens per answer")
    peer.add_argument("--chat-tokens", type=int, default=64, help="tokens per chat answer")
    peer.add_argument("--bin-dir", type=Path, default=None,
                      help="use these llama-server/llama-batched-bench instead of building")
    tuning = bench("settings", "llama.cpp settings and a Q4_0 requantized "
                               "model, with llama-batched-bench")
    tuning.add_argument("--tokens", type=int, default=128, help="tokens per sequence")
    tuning.add_argument("--bin-dir", type=Path, default=None,
                        help="use this llama-batched-bench instead of building")
    sampling = bench("sampling", "what picking a token costs: greedy, "
                                 "top-k before top-p")
    sampling.add_argument("--runs", type=int, default=3, help="runs, alternating")
    sampling.add_argument("--tokens", type=int, default=128, help="tokens per answer")
    bench("safety", "crisis detection and moderation on tests/data/safety")
    knowledge = bench("knowledge", "the server's-documents search: hit rate on 112 "
                                   "questions over public licences, latency")
    knowledge.add_argument("--database-url", default=None,
                           help="an empty PostgreSQL database (default: a temporary SQLite)")
    args = parser.parse_args(argv)

    if args.name == "safety":
        from bench import safety as bench_safety

        figures = bench_safety.run()
        print(json.dumps(figures) if args.json else bench_safety.table(figures))
        return 0

    if args.name == "knowledge":
        from bench import knowledge as bench_knowledge

        figures = bench_knowledge.main(args.database_url)
        print(json.dumps(figures) if args.json else bench_knowledge.table(figures))
        return 0

    if args.name == "sampling":
        from bench import sampling as bench_sampling

        figures = bench_sampling.run(runs=args.runs, max_tokens=args.tokens)
        print(json.dumps(figures) if args.json else bench_sampling.table(figures))
        return 0

    if args.name == "settings":
        from bench import settings as bench_settings

        figures = bench_settings.run(max_tokens=args.tokens, bin_dir=args.bin_dir)
        print(json.dumps(figures) if args.json else bench_settings.table(figures))
        return 0

    if args.name == "peer":
        from bench import peer as bench_peer

        figures = bench_peer.run(runs=args.runs, max_tokens=args.tokens, bin_dir=args.bin_dir,
                                  chat_tokens=args.chat_tokens)
        print(json.dumps(figures) if args.json else bench_peer.table(figures))
        return 0

    if args.name == "engine":
        from bench import engine as bench_engine

        figures = asyncio.run(bench_engine.run(max_tokens=args.tokens))
        print(json.dumps(figures) if args.json else bench_engine.table(figures))
        return 0
    if args.name == "backend":
        from bench import backend as bench_backend

        figures = asyncio.run(bench_backend.run(runs=args.runs, max_tokens=args.tokens))
        print(json.dumps(figures) if args.json else "\n".join(
            f"{key:<16} {value}" for key, value in figures.items()))
        return 0
    if args.name == "load":
        from bench import load as bench_load

        figures = asyncio.run(bench_load.run(users=args.users, messages=args.messages))
        print(json.dumps(figures) if args.json else "\n".join(
            f"{key:<20} {value}" for key, value in figures.items()))
        return 0

    from bench import pipeline as bench_pipeline

    figures = asyncio.run(bench_pipeline.run(runs=args.runs, max_tokens=args.tokens))
    if args.json:
        print(json.dumps(figures))
    else:
        print(bench_pipeline.table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
