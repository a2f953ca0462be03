"""Benchmark: indexing throughput and text-search latency on a synthetic metadata index.

Builds an index of ``--docs`` synthetic ``_bioconductor.json``-like documents
(one per version, Zipf-distributed vocabulary) with the indexer's writer, then
times the median of repeated one-word, three-word AND and two-word OR queries
on words found in about 20%, 2%, 1.5% and 0.2% of the documents.

Baselines measured in the same run:
- indexing: storing the same documents without the token index (paths only);
- search: gypsum_client 0.2.0's ``search_metadata_text`` on the same file
  (``include_metadata=False``, which it can read with any SQLite).

Run on demand:  python bench/bench_search.py [--docs 100000] [--repeat 30] [--keep | --db INDEX]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gypsum_client

from gypsum_flows._sqlite import connect
from gypsum_flows.client.search import define_text_query, search_metadata_text
from gypsum_flows.index.db import SCHEMA, IndexWriter

#: Versions per project (and per transaction, as build_fresh commits once per project).
BATCH = 1000
SUMMARY = {"upload_user_id": "bench", "upload_finish": "2024-05-01T12:34:56.789Z"}
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "zo", "be", "di", "fu", "ga", "hi", "jo", "pe", "so", "vu"]


def vocabulary(size: int = 20_000) -> list[str]:
    """The same word list every time, most common first."""
    rng = random.Random(0)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    ordered = sorted(words)  # sets iterate in a per-process order
    rng.shuffle(ordered)
    return ordered


def documents(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    words = vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf: a few words are very common

    def text(n: int) -> str:
        return " ".join(rng.choices(words, weights, k=n)).capitalize()

    return [
        {
            "title": text(6),
            "description": text(40),
            "bioconductor_version": "3.19",
            "taxonomy_id": [str(rng.choice([9606, 10090, 7227]))],
            "genome": [rng.choice(["GRCh38", "GRCm39", "BDGP6"])],
            "sources": [{"provider": "GEO", "id": f"GSE{rng.randint(1000, 999999)}"}],
            "maintainer_name": f"{text(1)} {text(1)}",
            "maintainer_email": "someone@example.org",
        }
        for _ in range(count)
    ]


def build_index(path: Path, docs: list[dict]) -> float:
    start = time.perf_counter()
    with IndexWriter(path, bulk=True) as writer:
        for first in range(0, len(docs), BATCH):
            with writer.batch():  # as build_fresh does per project
                for i in range(first, min(first + BATCH, len(docs))):
                    writer.add_version(
                        f"proj{i // BATCH}", f"asset{i}", "v1", True, SUMMARY, {"_bioconductor.json": docs[i]}
                    )
    return time.perf_counter() - start


def build_paths_only(path: Path, docs: list[dict]) -> float:
    """Baseline: the same version and document rows, without tokens or links."""
    start = time.perf_counter()
    conn = connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    conn.executescript(SCHEMA)
    with conn:
        for i, doc in enumerate(docs):
            vid = conn.execute(
                "INSERT INTO versions(project, asset, version, user, time, latest) VALUES (?, ?, 'v1', 'bench', 0, 1)",
                (f"proj{i // BATCH}", f"asset{i}"),
            ).lastrowid
            conn.execute(
                "INSERT INTO paths(vid, path, metadata) VALUES (?, '_bioconductor.json', jsonb(?))",
                (vid, json.dumps(doc)),
            )
    conn.close()
    return time.perf_counter() - start


def median_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU milliseconds of ``fn`` (CPU time is what a loaded machine cannot inflate)."""
    result = fn()  # warm the page cache and the statement parser
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu), result


def words_by_frequency(db: Path, shares: list[float]) -> list[str]:
    """Description tokens found in about ``share`` of the documents, for each share."""
    conn = connect(db, read_only=True)
    counts = conn.execute(
        "SELECT token, count(*) FROM links JOIN tokens USING (tid) JOIN fields USING (fid) "
        "WHERE field = 'description' GROUP BY tid"
    ).fetchall()
    total = conn.execute("SELECT count(*) FROM paths").fetchone()[0]
    conn.close()
    return [min(counts, key=lambda tc: abs(tc[1] / total - share))[0] for share in shares]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--db", type=Path, help="time searches on this index (from --keep) instead of building one")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-search-"))
    db = args.db or folder / "bench.sqlite3"
    if args.db is None:
        docs = documents(args.docs)
        cpu = time.process_time()
        seconds = build_index(db, docs)
        cpu = time.process_time() - cpu
        baseline = build_paths_only(folder / "baseline.sqlite3", docs)
        print(
            f"indexing {args.docs} documents: {args.docs / seconds:,.0f} docs/s wall ({seconds:.1f} s), "
            f"{args.docs / cpu:,.0f} docs per CPU-second; {db.stat().st_size / 1e6:.0f} MB; "
            f"paths-only baseline {args.docs / baseline:,.0f} docs/s (ratio {seconds / baseline:.1f}x its time)"
        )

    common, typical, other, rare = words_by_frequency(db, [0.20, 0.02, 0.015, 0.002])
    queries: dict[str, Callable[[Callable], object]] = {
        "one word (2%)": lambda T: T(typical),
        "one word (20%)": lambda T: T(common),
        "AND 20%,2%,1.5%": lambda T: T(common) & T(typical) & T(other),
        "OR (2%|0.2%)": lambda T: T(typical) | T(rare),
    }
    print(
        f"{'query':<15} {'hits':>6} {'wall ms':>8} {'cpu ms':>7} {'+metadata':>10} {'gypsum_client':>14} {'ratio':>6}"
    )
    for label, make in queries.items():
        query = make(define_text_query)
        wall, cpu_ms, rows = median_ms(
            lambda query=query: search_metadata_text(db, query, include_metadata=False), args.repeat
        )
        meta, _, _ = median_ms(lambda query=query: search_metadata_text(db, query), args.repeat)
        theirs, _, _ = median_ms(
            lambda make=make: gypsum_client.search_metadata_text(
                str(db), make(gypsum_client.define_text_query), include_metadata=False
            ),
            max(3, args.repeat // 10),
        )
        print(
            f"{label:<15} {len(rows):>6} {wall:>8.2f} {cpu_ms:>7.2f} {meta:>10.2f} {theirs:>14.2f} "
            f"{wall / theirs:>6.2f}"
        )
    print(
        f"(median of {args.repeat} runs, gypsum_client of {max(3, args.repeat // 10)}; latest versions; "
        f"ratio = ours / gypsum_client wall time; goal < 20 ms)"
    )
    if args.keep:
        print(f"databases kept in {folder}")
    else:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
