"""Benchmark: our client against gypsum_client 0.2.0 and a plain streaming copy, on one local server.

Run on demand (not collected by pytest)::

    python bench/bench_client.py              # 1,000 small files and one 1 GiB file
    python bench/bench_client.py --size 256M  # a smaller big file

A local gypsum server runs in its own process. Every measured operation runs
in a fresh child process, which reports its wall time and its peak resident
memory (``resource.getrusage``), so the figures do not mix. Printed ratios
compare against baselines measured in the same run:

- 1,000 small files: gypsum_client time / our time (goal: >= 5x, with defaults);
- the big verified save: our time / the time to MD5 the file alone (goal: <= 1.2) and our
  time / gypsum_client's, which verifies nothing (goal: <= 1);
- the big file: plain streaming copy time / our time (goal: >= 0.8), where the
  plain copy is one ``requests`` PUT (or GET) of the same bytes through the same
  server; our peak memory for the big upload (goal: < 200 MB). Two more
  figures show what bounds these: our transfer alone (``upload_files`` after
  ``start_upload``, timed like the plain PUT) and the time to MD5 the file in
  one process, which every upload pays before ``start_upload`` and every
  verified download pays at least once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ADMIN, OWNER = "bench-admin", "bench-owner"
PROJECT = "bench"


def parse_size(text: str) -> int:
    """``"1G"``, ``"256M"``, ``"4096"`` -> bytes."""
    match = re.fullmatch(r"(\d+)([KMG]?)i?B?", text.strip(), re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return int(match.group(1)) * 1024 ** " KMG".index((match.group(2) or " ").upper())


# ---------------------------------------------------------------------------------------------------
# Child side: one operation, timed, with its peak memory.


def _plain_put(spec: dict) -> None:
    import requests

    from gypsum_flows import client

    path = Path(spec["directory"], "big.bin")
    init = client.start_upload(
        PROJECT,
        spec["asset"],
        "v1",
        ["big.bin"],
        directory=spec["directory"],
        deduplicate=False,
        url=spec["url"],
        token=spec["token"],
    )
    headers = {"Authorization": f"Bearer {init['session_token']}"}
    signed = requests.post(spec["url"] + init["file_urls"][0]["url"], headers=headers, timeout=60).json()
    start, cpu = time.perf_counter(), _cpu_seconds()
    with open(path, "rb") as handle:
        response = requests.put(
            signed["url"], data=handle, headers={"Content-MD5": signed["md5sum_base64"]}, timeout=600
        )
    response.raise_for_status()
    spec["elapsed"], spec["cpu"] = time.perf_counter() - start, _cpu_seconds() - cpu  # the PUT alone
    client.complete_upload(init, url=spec["url"])


def _plain_get(spec: dict) -> None:
    import requests

    key = f"{PROJECT}/{spec['asset']}/v1/big.bin".replace("/", "%2F")
    start = time.perf_counter()
    with (
        requests.get(f"{spec['url']}/file/{key}", stream=True, timeout=600) as response,
        open(Path(spec["cache"], "plain.bin"), "wb") as out,
    ):
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            out.write(chunk)
    spec["elapsed"] = time.perf_counter() - start


def _transfer_only(spec: dict) -> None:
    """Our upload of the big file with hashing and start_upload outside the timing, as for the plain PUT."""
    from gypsum_flows import client

    init = client.start_upload(
        PROJECT,
        spec["asset"],
        "v1",
        ["big.bin"],
        directory=spec["directory"],
        deduplicate=False,
        url=spec["url"],
        token=spec["token"],
    )
    start, cpu = time.perf_counter(), _cpu_seconds()
    client.upload_files(init, directory=spec["directory"], url=spec["url"])
    spec["elapsed"], spec["cpu"] = time.perf_counter() - start, _cpu_seconds() - cpu
    client.complete_upload(init, url=spec["url"])


def _md5_only(spec: dict) -> None:
    """The MD5 of the big file in this process: what hashing it (before an upload, after a download) costs."""
    import hashlib

    start, digest = time.perf_counter(), hashlib.md5()
    with open(Path(spec["directory"], "big.bin"), "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    spec["elapsed"] = time.perf_counter() - start


def _pooled_get_all(spec: dict) -> None:
    """A plain pooled ``requests`` client: bare GETs on 8 threads, no checks, no cache logic."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
    prefix = f"{PROJECT}/{spec['asset']}/v1/"
    start = time.perf_counter()
    keys = session.get(f"{spec['url']}/list", params={"prefix": prefix, "recursive": "true"}, timeout=60).json()

    def get(index_key: tuple[int, str]) -> None:
        body = session.get(f"{spec['url']}/file/{index_key[1].replace('/', '%2F')}", timeout=60).content
        Path(spec["cache"], str(index_key[0])).write_bytes(body)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(get, enumerate(keys)))
    spec["elapsed"] = time.perf_counter() - start


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_child(spec: dict) -> dict:
    op, who, url, token = spec["op"], spec["who"], spec["url"], spec["token"]
    lib = __import__("gypsum_client" if who == "ref" else "gypsum_flows.client", fromlist=["x"])
    cpu_before = _cpu_seconds()  # after the imports
    if who in ("plain", "pooled", "transfer", "md5"):
        plain = {"upload": _plain_put, "save": _plain_get}
        {"pooled": _pooled_get_all, "transfer": _transfer_only, "md5": _md5_only, "plain": plain[op]}.get(
            who, plain[op]
        )(spec)
        elapsed = spec["elapsed"]
    else:
        start = time.perf_counter()
        if op == "upload":
            lib.upload_directory(
                spec["directory"], PROJECT, spec["asset"], "v1", url=url, token=token, cache_dir=spec["cache"]
            )
        else:
            lib.save_version(PROJECT, spec["asset"], "v1", cache_dir=spec["cache"], url=url)
        elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # CPU seconds of the client process (set-up included): unlike wall time, not inflated by other load.
    return {"seconds": elapsed, "peak_mb": peak_mb, "cpu": spec.get("cpu", _cpu_seconds() - cpu_before)}


# ---------------------------------------------------------------------------------------------------
# Parent side: server, data, runs, report.


def _start_server(work: Path) -> tuple[subprocess.Popen, str, dict[str, str]]:
    tokens = {ADMIN: "bench-admin-token-" + os.urandom(8).hex(), OWNER: "bench-owner-token-" + os.urandom(8).hex()}
    users = {"admins": [ADMIN], "users": [{"login": k, "token": v, "orgs": []} for k, v in tokens.items()]}
    (work / "users.yaml").write_text(yaml.safe_dump(users))
    # The server runs as users run it (`gypsum-flows server`), in a process of its own, so it does not
    # share a GIL with the clients measured.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gypsum_flows",
            "server",
            "--root",
            str(work / "root"),
            "--users",
            str(work / "users.yaml"),
            "--port",
            "0",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:  # type: ignore[union-attr]
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            _wait_until_up(found.group(1))
            return proc, found.group(1), tokens
    raise RuntimeError("the gypsum server did not start")


def _wait_until_up(url: str) -> None:
    import requests

    for _ in range(200):
        try:
            requests.get(url + "/list", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"the gypsum server at {url} did not come up")


def _make_data(work: Path, files: int, size: int) -> tuple[Path, Path]:
    small = work / "small"
    for i in range(files):
        path = small / f"d{i % 10}" / f"file{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(512 + (i * 37) % 3584))
    big = work / "big"
    big.mkdir()
    with open(big / "big.bin", "wb") as out:
        left = size
        while left:
            out.write(os.urandom(min(left, 1 << 24)))
            left -= min(left, 1 << 24)
    return small, big


def _child(spec: dict) -> dict:
    # Flush the dirty pages left by earlier cases (GiBs after the big uploads), so their write-back
    # does not slow down whichever case happens to run next.
    os.sync()
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{spec['who']} {spec['op']} {spec['asset']} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(work: Path, url: str, token: str, small: Path, big: Path, repeat: int) -> dict[tuple, dict]:
    """Run every case ``repeat`` times (fresh child and cache each time); keep the fastest run and the peak.

    The clients take turns within each round, so a machine that speeds up or slows down during the
    run (shared virtual machines do) weighs on all of them alike.
    """
    results = {}
    plan = [("small", small, ("ours", "ref", "pooled")), ("big", big, ("ours", "ref", "plain", "transfer", "md5"))]
    for data, directory, whos in plan:
        for op in ("upload", "save"):
            cases = [
                w
                for w in whos
                if not (w == "pooled" and op == "upload") and not (w in ("transfer", "md5") and op == "save")
            ]
            runs: dict[str, list[dict]] = {who: [] for who in cases}
            for k in range(1, repeat + 1):
                for who in cases:
                    runs[who].append(_child(_spec(work, url, token, data, directory, op, who, k)))
            for who in cases:
                results[(data, op, who)] = _best(data, op, who, runs[who])
    return results


def _spec(work: Path, url: str, token: str, data: str, directory: Path, op: str, who: str, k: int) -> dict:
    """One run's parameters. Every upload goes to an asset of its own (nothing to deduplicate against);
    each client reads back its own first upload, the bare pooled client reads ours."""
    uploader = "ours" if who in ("pooled", "md5") else who
    asset = f"{data}-{uploader}-{k if op == 'upload' else 1}"
    cache = work / "caches" / f"{asset}-{op}-{who}-{k}"
    if data == "big" and cache.parent.exists():
        # Free the disk from the last big download. Small-file caches stay until the end: on ext4
        # without a journal, creating files soon after deleting thousands is several times slower
        # (the inode allocator skips recently deleted inodes one by one), which would slow whichever
        # case runs next.
        shutil.rmtree(cache.parent)
    cache.mkdir(parents=True)
    return {
        "op": op,
        "who": who,
        "url": url,
        "token": token,
        "asset": asset,
        "directory": str(directory),
        "cache": str(cache),
    }


def _best(data: str, op: str, who: str, runs: list[dict]) -> dict:
    """The fastest run's time and CPU and the highest peak, printed with every run's time."""
    best = {
        "seconds": min(r["seconds"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "cpu": min(r["cpu"] for r in runs),
    }
    times = ", ".join(f"{r['seconds']:.2f}" for r in runs)
    print(
        f"  {data:5} {op:6} {who:8} {best['seconds']:8.2f} s {best['peak_mb']:8.1f} MB "
        f"{best['cpu']:7.2f} s CPU  (runs: {times})",
        flush=True,
    )
    return best


def _report(results: dict, files: int, size: int) -> None:
    def r(key: tuple) -> dict:
        return results[key]

    print(f"\n{'case':38} {'ours s':>8} {'base s':>8} {'ratio':>7} {'goal':>8}  ours peak MB")
    for op in ("upload", "save"):
        mine, ref = r(("small", op, "ours")), r(("small", op, "ref"))
        ratio = ref["seconds"] / mine["seconds"]
        print(
            f"{op + f' {files} small files vs gypsum_client':38} {mine['seconds']:8.2f} {ref['seconds']:8.2f} "
            f"{ratio:6.1f}x {'>= 5x':>8}  {mine['peak_mb']:.0f} {'OK' if ratio >= 5 else 'MISSED'}"
        )
    pooled = r(("small", "save", "pooled"))["seconds"]
    print(
        f"{'  bare pooled requests GETs, 8 threads':38} {pooled:8.2f}   (unverified, no cache; ours is "
        f"{pooled / r(('small', 'save', 'ours'))['seconds']:.1f}x faster)"
    )
    md5 = r(("big", "upload", "md5"))["seconds"]
    for op in ("upload", "save"):
        mine, plain, ref = r(("big", op, "ours")), r(("big", op, "plain")), r(("big", op, "ref"))
        ratio = plain["seconds"] / mine["seconds"]
        label = f"{op} {size / 2**20:.0f} MiB vs plain copy"
        print(
            f"{label:38} {mine['seconds']:8.2f} {plain['seconds']:8.2f} {ratio:6.2f}  {'>= 0.80':>8}  "
            f"{mine['peak_mb']:.0f} {'OK' if ratio >= 0.8 else 'MISSED'}"
            f"   (gypsum_client {ref['seconds']:.2f} s, {ref['peak_mb']:.0f} MB)"
        )
        if op == "upload":
            transfer = r(("big", "upload", "transfer"))["seconds"]
            print(
                f"{'  the transfer alone (upload_files)':38} {transfer:8.2f} {plain['seconds']:8.2f} "
                f"{plain['seconds'] / transfer:6.2f}   (hashing before start_upload: {md5:.2f} s)"
            )
        else:
            print(
                f"{'  a verified download cannot beat MD5':38} {md5:8.2f} {plain['seconds']:8.2f} "
                f"{plain['seconds'] / max(md5, plain['seconds']):6.2f}   (best ratio any MD5-checked "
                f"download reaches here; ours is {mine['seconds'] / md5:.2f}x the MD5 time)"
            )
    _report_verified_save(r(("big", "save", "ours")), r(("big", "save", "ref")), md5, size)
    peak = r(("big", "upload", "ours"))["peak_mb"]
    print(f"peak memory of our big upload: {peak:.0f} MB (goal < 200 MB): {'OK' if peak < 200 else 'MISSED'}")


def _report_verified_save(mine: dict, ref: dict, md5: float, size: int) -> None:
    """The big verified save against MD5 alone (goal <= 1.2x) and gypsum_client, which verifies nothing (<= 1x)."""
    to_md5, to_ref = mine["seconds"] / md5, mine["seconds"] / ref["seconds"]
    print(
        f"verified save of {size / 2**20:.0f} MiB: ours {mine['seconds']:.2f} s, gypsum_client {ref['seconds']:.2f} s, "
        f"MD5 alone {md5:.2f} s"
    )
    for label, ratio, goal in (("ours / MD5 alone", to_md5, 1.2), ("ours / gypsum_client", to_ref, 1.0)):
        print(f"  {label:36} {ratio:8.2f}   (goal <= {goal:.1f}) {'OK' if ratio <= goal else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="number of small files (default 1000)")
    parser.add_argument("--size", type=parse_size, default=parse_size("1G"), help="big file size, e.g. 256M")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case, the fastest is kept (default 3)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_run_child(json.loads(args.child))))
        return 0
    work = Path(tempfile.mkdtemp(prefix="gypsum-bench-"))
    proc = None
    try:
        proc, url, tokens = _start_server(work)
        from gypsum_flows import client

        # A quota far above what the runs upload (the default is 10 GB).
        client.create_project(PROJECT, owners=[OWNER], baseline=10**13, url=url, token=tokens[ADMIN])
        small, big = _make_data(work, args.files, args.size)
        print(f"server {url}; {args.files} small files, big file {args.size / 2**20:.0f} MiB; work in {work}")
        _report(_measure(work, url, tokens[OWNER], small, big, args.repeat), args.files, args.size)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
