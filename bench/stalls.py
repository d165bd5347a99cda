#!/usr/bin/env python3
"""When did the slow messages happen? Reads the samples bench/load.mjs writes with BENCH_SAMPLES=FILE.

    BENCH_SAMPLES=/tmp/s.txt bench/run.sh --no-stack --only chat --chat-rates 250,1000
    bench/stalls.py /tmp/s.txt [--over MS (60)] [--bucket MS (100)]

Prints every time bucket (by send time, UTC) whose slowest message took more than --over ms, with its count and
median, so stalls can be matched against other clocks: the server's GODEBUG=gctrace=1 lines, Cassandra's GC log
(.local/logs/cassandra-gc.log), a writer's interval. A stall every few seconds at the same phase is a periodic
job; one at a step's start is a warm-up.
"""
import argparse
import collections
import datetime
import statistics

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("file")
p.add_argument("--over", type=float, default=60.0)
p.add_argument("--bucket", type=float, default=100.0)
a = p.parse_args()

buckets = collections.defaultdict(list)
first = None
with open(a.file) as f:
    for line in f:
        parts = line.split()
        if len(parts) != 3:
            continue
        step, sent, ms = int(parts[0]), float(parts[1]), float(parts[2])
        first = sent if first is None else min(first, sent)
        buckets[(step, int(sent // a.bucket))].append(ms)

if first is None:
    raise SystemExit("no samples")
print(f"first send {datetime.datetime.fromtimestamp(first / 1000, datetime.timezone.utc):%H:%M:%S.%f} UTC")
print("step  time (UTC)     since first  messages  median ms  max ms")
for (step, b), v in sorted(buckets.items()):
    if max(v) > a.over:
        t = b * a.bucket
        when = datetime.datetime.fromtimestamp(t / 1000, datetime.timezone.utc)
        print(f"{step:4}  {when:%H:%M:%S.%f}"[:-5] + f"  {(t - first) / 1000:10.1f}s  {len(v):8}  {statistics.median(v):9.0f}  {max(v):6.0f}")
