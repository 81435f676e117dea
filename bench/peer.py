"""bench/peer.py: the python3-btrfsutil peer for `npm run bench`.

One long-running process per scenario (Debian's /usr/bin/python3, which has the python3-btrfsutil
package): it reads one JSON command per line on stdin, times its own loop with perf_counter_ns
(interpreter start-up excluded) and answers one JSON line: {"ns": total, "n": operations}, or
{"error": "..."}. Commands:

  {"op": "call", "fn": "is"|"id"|"info"|"ro", "path": P, "n": N}
  {"op": "list", "path": P, "info": bool}            SubvolumeIterator, counting entries
  {"op": "batch", "kind": "create"|"snapshot"|"delete", "dir": D, "n": N, "spread": S,
   "threads": T, "src": SRC}                          on D/sI or D/d(I%S)/sI, T threads
"""
import json
import sys
import threading
import time

import btrfsutil

CALLS = {
    "is": btrfsutil.is_subvolume,
    "id": btrfsutil.subvolume_id,
    "info": btrfsutil.subvolume_info,
    "ro": btrfsutil.get_subvolume_read_only,
}


def call(cmd):
    fn = CALLS[cmd["fn"]]
    path = cmd["path"]
    n = cmd["n"]
    start = time.perf_counter_ns()
    for _ in range(n):
        fn(path)
    return {"ns": time.perf_counter_ns() - start, "n": n}


def listing(cmd):
    start = time.perf_counter_ns()
    count = 0
    with btrfsutil.SubvolumeIterator(cmd["path"], info=cmd["info"]) as it:
        for _ in it:
            count += 1
    return {"ns": time.perf_counter_ns() - start, "n": count}


def batch(cmd):
    kind, base, n, spread, src = cmd["kind"], cmd["dir"], cmd["n"], cmd["spread"], cmd.get("src")

    def path(i):
        return f"{base}/d{i % spread}/s{i}" if spread > 0 else f"{base}/s{i}"

    def one(i):
        if kind == "create":
            btrfsutil.create_subvolume(path(i))
        elif kind == "snapshot":
            btrfsutil.create_snapshot(src, path(i))
        else:
            btrfsutil.delete_subvolume(path(i))

    threads = max(1, cmd.get("threads", 1))
    start = time.perf_counter_ns()
    if threads == 1:
        for i in range(n):
            one(i)
    else:
        lock = threading.Lock()
        state = {"next": 0, "error": None}

        def worker():
            while True:
                with lock:
                    i = state["next"]
                    state["next"] += 1
                if i >= n or state["error"]:
                    return
                try:
                    one(i)
                except Exception as e:  # reported after the join
                    state["error"] = e

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        if state["error"]:
            raise state["error"]
    return {"ns": time.perf_counter_ns() - start, "n": n}


OPS = {"call": call, "list": listing, "batch": batch}

for line in sys.stdin:
    if not line.strip():
        continue
    try:
        cmd = json.loads(line)
        out = OPS[cmd["op"]](cmd)
    except Exception as e:
        out = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
