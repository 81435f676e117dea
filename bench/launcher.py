"""bench/launcher.py: runs the bench's commands, so the bench's own Node process never forks.

A fork makes every page of the forking process copy-on-write: its next write to each page takes a
fault (15-20 µs each on the VM the bench was written on). Children started from the Node process
itself taxed whichever of our variants ran next, and never the C limit or python3-btrfsutil, which
run in processes of their own. So the bench starts this helper once, before any scenario, and
every later command (the C limit, btrfs-progs and util-linux peers, cleanup) is run from here.

Reads one JSON command per line on stdin and answers one JSON line, in order:
  {"argv": [...], "stdin": str | null}  ->  {"code": int, "stdout": str, "stderr": str, "ns": int}
"ns" is the command's wall time from start to exit, as a program that shells out would see it.
"""
import ctypes
import json
import signal
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def die_with_launcher():
    # A bench stopped by ^C kills the launcher; the command it runs must not outlive it (it could
    # hold the scratch mount the bench then sweeps).
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


for line in sys.stdin:
    if not line.strip():
        continue
    cmd = json.loads(line)
    start = time.perf_counter_ns()
    try:
        p = subprocess.run(cmd["argv"], input=cmd.get("stdin"), capture_output=True, text=True, preexec_fn=die_with_launcher)
        out = {"code": p.returncode, "stdout": p.stdout, "stderr": p.stderr}
    except OSError as e:
        out = {"code": -1, "stdout": "", "stderr": f"{type(e).__name__}: {e}"}
    out["ns"] = time.perf_counter_ns() - start
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
