"""Commands: ``recs train`` (a new model version) and ``recs evaluate --movielens PATH``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from media_gateway.assembly.recommendations import RecommendationServices
    from media_gateway.platform.logging import configure_logging
    from media_gateway.platform.settings import get_settings
    from media_gateway.storage.database import Database

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)

    async def run() -> tuple[int, int, float]:
        database = Database(settings.database_url, schema=settings.database_schema)
        try:
            await database.migrate()
            service = RecommendationServices.create(database, settings).training
            bar = tqdm(total=6, desc="train", unit="step", disable=args.no_progress)

            def step(name: str) -> None:
                bar.set_postfix_str(name)
                bar.update()

            import time

            started = time.perf_counter()
            version = await service.train(progress=step)
            bar.update(bar.total - bar.n)
            bar.close()
            await service.prune_versions(keep=args.keep)
            return version, (await service.model()).size, time.perf_counter() - started
        finally:
            await database.dispose()

    version, items, seconds = asyncio.run(run())
    print(f"Trained recommender model version {version}: {items} titles in {seconds:.2f} s.")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from media_gateway.platform.embeddings import (
        Embedder,
        HashingEmbedder,
        local_embedder,
        make_embedder,
    )
    from media_gateway.platform.settings import get_settings
    from media_gateway.subgraphs.recommendations.evaluation import run_evaluation

    path = Path(args.movielens).expanduser()
    if not (path / "ml-100k.inter").is_file():
        print(f"error: {path} does not hold ml-100k.inter", file=sys.stderr)
        return 2
    embedder: Embedder
    if args.embedder == "local":
        local = local_embedder()
        if local is None:
            print(
                "error: --embedder local needs the local-embeddings extra "
                "(scripts/setup.sh --local-embeddings)",
                file=sys.stderr,
            )
            return 2
        embedder = local
    elif args.embedder == "hashing":
        embedder = HashingEmbedder()
    else:
        embedder = make_embedder(get_settings())
    run_evaluation(
        path,
        progress=not args.no_progress,
        embedder=embedder,
        ties=args.ties,
        seed=args.seed,
    )
    return 0


def register(subparsers: Any) -> None:
    recs = subparsers.add_parser("recs", help="train and evaluate the recommender")
    commands = recs.add_subparsers(dest="recs_command", metavar="COMMAND")
    commands.required = True
    train = commands.add_parser("train", help="retrain on every interaction; store a new version")
    train.add_argument("--keep", type=int, default=3, help="model versions to keep (default 3)")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.set_defaults(func=cmd_train)
    evaluate = commands.add_parser(
        "evaluate",
        help="offline evaluation against baselines (leave-last-out, ties kept, full ranking)",
    )
    evaluate.add_argument("--movielens", required=True, help="folder holding ml-100k.inter")
    evaluate.add_argument(
        "--ties",
        choices=("file", "random"),
        default="file",
        help="order of same-second interactions: as the file records them (default) or random",
    )
    evaluate.add_argument(
        "--seed", type=int, default=0, help="seed of the random tie order (with --ties random)"
    )
    evaluate.add_argument(
        "--embedder",
        choices=("default", "local", "hashing"),
        default="default",
        help="the title embeddings: the served choice (default: OpenAI with OPENAI_API_KEY, "
        "else the local model when installed, else hashing), the local model, or hashing",
    )
    evaluate.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    evaluate.set_defaults(func=cmd_evaluate)
