"""Benchmark: indexing throughput and text-search latency on a synthetic metadata index.

Builds an index of ``--docs`` synthetic ``_bioconductor.json``-like documents
(one per version, Zipf-distributed vocabulary) with the indexer's writer, then
times the median of repeated one-word, three-word AND and two-word OR queries.

Baselines measured in the same run:
- indexing: storing the same documents without the token index (paths only);
- search: gypsum_client 0.2.0's ``search_metadata_text`` on the same file
  (``include_metadata=False``, which it can read with any SQLite).

Run on demand:  python bench/bench_search.py [--docs 100000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import random
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
    return sorted(words, key=lambda w: (rng.random(), w))


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
                    writer.add_version(f"proj{i // BATCH}", f"asset{i}", "v1", True, SUMMARY,
                                       {"_bioconductor.json": docs[i]})
    return time.perf_counter() - start


def build_paths_only(path: Path, docs: list[dict]) -> float:
    """Baseline: the same version and document rows, without tokens or links."""
    start = time.perf_counter()
    conn = connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    conn.executescript(SCHEMA)
    with conn:
        for i, doc in enumerate(docs):
            vid = conn.execute("INSERT INTO versions(project, asset, version, user, time, latest) "
                               "VALUES (?, ?, 'v1', 'bench', 0, 1)", (f"proj{i // BATCH}", f"asset{i}")).lastrowid
            conn.execute("INSERT INTO paths(vid, path, metadata) VALUES (?, '_bioconductor.json', jsonb(?))",
                         (vid, json.dumps(doc)))
    conn.close()
    return time.perf_counter() - start


def median_ms(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    result = fn()  # warm the page cache and the statement parser
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    docs = documents(args.docs)
    folder = Path(tempfile.mkdtemp(prefix="bench-search-"))
    db = folder / "bench.sqlite3"
    seconds = build_index(db, docs)
    baseline = build_paths_only(folder / "baseline.sqlite3", docs)
    size_mb = db.stat().st_size / 1e6
    print(f"indexing {args.docs} documents: {seconds:.1f} s = {args.docs / seconds:,.0f} docs/s "
          f"({size_mb:.0f} MB); paths-only baseline {args.docs / baseline:,.0f} docs/s "
          f"(ratio {seconds / baseline:.1f}x the baseline's time)")

    words = vocabulary()  # the list documents() drew from, by decreasing frequency
    common, mid, rare = words[20], words[200], words[2000]
    T = define_text_query
    queries = {
        "one word": (common, [common]),
        "three-word AND": (T(common) & T(mid) & T(rare), [common, mid, rare]),
        "OR": (T(mid) | T(rare), None),
    }
    print(f"{'query':<16} {'hits':>6} {'ours ms':>8} {'+metadata':>10} {'gypsum_client ms':>17} {'ratio':>6}")
    for label, (query, reference_query) in queries.items():
        ours, rows = median_ms(lambda: search_metadata_text(db, query, include_metadata=False), args.repeat)
        with_meta, _ = median_ms(lambda: search_metadata_text(db, query), args.repeat)
        ref_query = reference_query if reference_query is not None else T(mid) | T(rare)
        theirs, _ = median_ms(
            lambda: gypsum_client.search_metadata_text(str(db), ref_query, include_metadata=False), args.repeat)
        print(f"{label:<16} {len(rows):>6} {ours:>8.2f} {with_meta:>10.2f} {theirs:>17.2f} {ours / theirs:>6.2f}")
    print(f"(median of {args.repeat}; goal < 20 ms; files in {folder})")


if __name__ == "__main__":
    main()
