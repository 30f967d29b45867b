"""`media-gateway recs evaluate --embedder`: the title embeddings a run uses are the ones asked
for, and the run says which it used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media_gateway.cli import main
from media_gateway.platform.embeddings import local_model_installed

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def _tiny_movielens(folder: Path) -> Path:
    rng = np.random.default_rng(5)
    lines = [HEADER]
    for u in range(30):
        start = int(rng.integers(0, 6))
        for k in range(8 + u % 4):
            item = 1 + (u % 2) * 15 + start + k
            lines.append(f"{u + 1}\t{item}\t{int(rng.integers(1, 6))}\t{1000 + k * 60}\n")
    folder.mkdir(parents=True)
    (folder / "ml-100k.inter").write_text("".join(lines), encoding="utf-8")
    (folder / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        + "".join(f"{i}\tTitle {i}\t{1990 + i % 10}\tDrama\n" for i in range(1, 31)),
        encoding="utf-8",
    )
    return folder


def test_the_embedder_is_pinned_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _tiny_movielens(tmp_path / "tiny")
    argv = ["recs", "evaluate", "--movielens", str(folder), "--no-progress"]
    assert main([*argv, "--embedder", "hashing"]) == 0
    assert "title embeddings: hashing-v1" in capsys.readouterr().out
    if not local_model_installed():
        pytest.skip("the local-embeddings extra is not installed")
    # the published evaluation's embedder, whatever the environment would choose
    assert main([*argv, "--embedder", "local"]) == 0
    assert "title embeddings: all-MiniLM-L6-v2" in capsys.readouterr().out


def test_an_unknown_embedder_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["recs", "evaluate", "--movielens", ".", "--embedder", "word2vec"])
    assert exit_.value.code == 2
    assert "--embedder" in capsys.readouterr().err
