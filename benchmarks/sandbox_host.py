"""A sandbox in a process of its own, so a throughput run measures the CPU and memory of
Slipway's process alone (as against a real forge and cluster), not the emulators'.

    python -m benchmarks.sandbox_host [--forge-latency-ms 0] [--kube-latency-ms 0]

Prints one JSON line (forge URL, token, kubeconfig path) when ready, serves until stdin
closes, then prints one JSON line with its own CPU seconds (and its children's: git, kubectl).
The token goes only down the pipe to the parent.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

from benchmarks.support import quiet_logs, running_sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--forge-latency-ms", type=float, default=0.0)
    parser.add_argument("--kube-latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    quiet_logs()
    with (
        tempfile.TemporaryDirectory(prefix="slipway-bench-sandbox-") as tmp,
        running_sandbox(
            Path(tmp), forge_ms=args.forge_latency_ms, kube_ms=args.kube_latency_ms
        ) as (sandbox, missing),
    ):
        assert sandbox.forge is not None
        ready = {
            "forge_url": sandbox.forge.url,
            "forge_token": sandbox.forge_token,
            "kubeconfig": str(sandbox.kubeconfig),
            "missing": missing,
        }
        print(json.dumps(ready), flush=True)
        sys.stdin.read()  # the parent closes stdin when it is done
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
    usage = {
        "cpu_s": own.ru_utime + own.ru_stime,
        "children_cpu_s": children.ru_utime + children.ru_stime,
        "peak_rss_mib": own.ru_maxrss / 1024,
    }
    print(json.dumps(usage), flush=True)


if __name__ == "__main__":
    main()
