#!/usr/bin/env python3
"""Benchmark ecs-deploy against the ways people deploy to ECS without it, on
the project's fake ECS, and write the four tables to bench/results.md.
Each image is pushed to the fake's ECR before it is deployed, as CI does.

Every figure comes from real runs of real programs on this machine: the
static ecs-deploy, fabfuel's Python ecs-deploy and the aws-cli + jq bash
function (see bench_tools.py), each deploying to fake-ecs-server (the fake
the tests use, run as a process on loopback) with the fake's keys and nothing
of the user's configuration. Runs of different tools alternate.

  1. Round trips against the physical floor. One deploy to a service with
     desired count 0 (describe the service and its task definition, register,
     update: four dependent calls; ecs-deploy makes a fifth before it
     registers, DescribeImages, its check that the image is in ECR), through
     a keep-alive front that adds a round-trip time (RTT) to each new
     connection and each request. Wall time at RTT 0 and 40 ms, in pairs of
     runs one right after the other; round trips used = the difference / RTT;
     connections and requests as the front counted them; the floor is one
     connection plus the dependent calls the tool makes (four, five for
     ecs-deploy). Target for ecs-deploy: one connection, round trips <=
     floor + 0.5.
  2. One deploy, every tool: the same desired-0 deploy over HTTPS (a TLS
     front with a throwaway CA that every tool trusts through AWS_CA_BUNDLE;
     --http: plain HTTP). Median, min, max and the peak RSS of the largest
     process (GNU time -v). Targets: aws ecs + jq >= 20x slower, static binary
     <= 4 MiB, peak RSS <= 10 MB.
  3. Many services: 1, 10 and 50 services in one cluster, two tasks each,
     each rollout taking ROLLOUT_S seconds of wall time in the fake. ecs-deploy
     deploys them all in one run, the others in a loop, as their users do.
     Wall time until every rollout is complete and the tool has exited, the
     API requests, those of one poll during the last wait, and the peak RSS.
     Targets for ecs-deploy: 50 services within 1.5x the time of one; per
     poll at most ceil(N/10) DescribeServices and ceil(N/20)
     DescribeServiceDeployments; stopped-task lookups (ListTasks) no more
     often than the fake reported stopped tasks; peak RSS <= 10 MB at 50.
     ecs-deploy alone also deploys 1, 10, 50 and 200 services through the
     front at RTT_S, the fake throttling as ECS does (fake-ecs-server
     --throttle: AWS's token buckets): wall time and its ratio to one
     service, the most requests in flight at once (as the front saw them)
     and the ThrottlingException answers (as the fake counted them). Targets:
     50 services within 1.5x and 200 within 2x the time of one, no
     ThrottlingException, peak RSS <= 10 MB at 200.
  4. Wait reaction: from the moment the fake's rollout completes (or fails),
     and from the poll that saw it, to the tool's exit, polling every second
     (--poll-interval 1, --sleep-time 1; the aws waiter polls every 15 s and
     cannot be told otherwise, and no waiter notices a failed rollout, so it
     is stopped REACTION_LIMIT_S after the failure).

    python3 scripts/bench.py --binary target/x86_64-unknown-linux-musl/release/ecs-deploy \\
        --fake-server target/debug/fake-ecs-server

--quick makes fewer runs, measures the peers at one service only, ecs-deploy
at RTT_S at 1 and 10 services only, and writes target/bench-quick.md (not
bench/results.md). The 50-service loops of the peers take about four minutes
more than the rest together, so they run only with --peers-at-50. Installs
what is missing when it can (fabfuel's tool into target/bench-venv, aws-cli
v1 with pip, jq and GNU time with apt-get as root). Exit status 1 when a run
fails (at RTT_S with the fake throttling, a failed run is reported in its row
instead) or a target of ecs-deploy is missed.
"""

import argparse
import contextlib
import datetime
import math
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import Counter

import bench_tools as tools
import harness as h

NAME = "bench"
RTT_S = 0.040
FLOOR_CALLS = 4                 # describe-services, describe-task-definition, register, update
# ecs-deploy's check that the image is in ECR (DescribeImages, before it
# registers anything): a call it really makes, so its floor has it.
CHECK_CALLS = 1
ROLLOUT_S = 2.0                 # how long each rollout takes in the fake (tables 3 and 4)
POLL_S = 1                      # every tool's poll interval (tables 3 and 4)
DESIRED = 2                     # tasks per service (tables 3 and 4)
REACTION_LIMIT_S = 20           # how long a tool that does not notice a failure is given
POLL_GAP_S = 0.3                # a pause this long between requests ends a poll
TARGET_RATIO = 20
TARGET_SIZE = 4 * 1024 * 1024   # bytes
TARGET_RSS = 10 * 1000 * 1000   # bytes
TARGET_SCALE = 1.5              # 50 services against one
# Services ecs-deploy deploys at RTT_S with the fake's throttling on (table 3),
# and how many times one service's wall time each may take.
FAR_COUNTS, FAR_COUNTS_QUICK = (1, 10, 50, 200), (1, 10)
TARGET_FAR_SCALE = {50: 1.5, 200: 2.0}
# AWS's token buckets (burst, refill per second) of the calls whose number
# grows with the services, in the order a deploy makes them ("Request
# throttling for the Amazon ECS API").
BUCKETS = {"DescribeTaskDefinition": (50, 20), "RegisterTaskDefinition": (20, 1),
           "UpdateService": (50, 5)}
# fake-ecs-server's services have the three containers of harness.three_containers.
REPO, SIDECARS, CLUSTER = h.REPO, h.SIDECARS, h.CLUSTER


# --- runs ------------------------------------------------------------------

class Images:
    """A new tag for each deploy, so that each must register a revision,
    pushed to the fake's ECR (ecs-deploy checks that it is there)."""

    def __init__(self):
        self.tag = 1

    def next(self, fake):
        self.tag += 1
        image = f"{REPO}:v{self.tag}"
        fake.push(image)
        return image


class Run:
    """One finished run: seconds, exit code (None: killed), output, peak RSS
    in KiB (when run under GNU time) and the time it started (time.time())."""

    def __init__(self, took, code, out, rss_kib, started):
        self.took, self.code, self.out, self.rss_kib, self.started = (
            took, code, out, rss_kib, started)


def run(contender, endpoint, services, image, bench, wait=True, timeout=h.RUN_TIMEOUT_S,
        rss=False):
    """Runs `contender` once; under GNU time -v when `rss`."""
    argv = contender.argv(endpoint, CLUSTER, services, image, wait)
    report = os.path.join(bench.tmp, "time-v.txt")
    prefix = (bench.gnu_time, "-v", "-o", report) if rss else ()
    started = time.time()
    code, out, took = h.run_binary(argv[0], argv[1:], contender.environment(endpoint),
                                   timeout=timeout, prefix=prefix, home=bench.home)
    rss_kib = None
    if rss and os.path.exists(report):
        with open(report) as f:
            found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
        rss_kib = int(found.group(1)) if found else None
        os.unlink(report)
    return Run(took, code, out, rss_kib, started)


def deployed(stats, services, image, state):
    """'' when every service runs a revision with `image` in `app`, the
    sidecars untouched, and its newest deployment's rolloutState is `state`
    (None: any); else what is wrong."""
    want = dict(SIDECARS, app=image)
    for name in services:
        service = stats["services"][name]
        if service["images"] != want:
            return f"{name} runs {service['taskDefinition']} with {service['images']}"
        if state and service["rolloutState"] != state:
            return f"{name}'s deployment is {service['rolloutState']}, not {state}"
    return ""


def checked(contender, result, fake, services, image, state="COMPLETED", code=0):
    """`result`, or RuntimeError when the run did not do its job: a benchmark
    of a broken deploy means nothing. (`state` None: a desired count of 0,
    whose deployment the fake completes only when it is next described.)"""
    wrong = deployed(fake.stats(), services, image, state)
    if "could not check" in result.out:
        # The image check must reach the fake's ECR, or table 1 counts a
        # call that went nowhere.
        wrong = (wrong + "; " if wrong else "") + "it could not check the image"
    if result.code != code or wrong:
        raise RuntimeError(f"{contender.label} failed (exit {result.code}, expected {code}); "
                           f"{wrong}\n" + h.indent(result.out[-3000:]))
    return result


def deploy_once(bench, c, fake, endpoint, rss=False):
    """One checked desired-0 deploy of a new image to s1 by `c`."""
    image = bench.images.next(fake)
    result = run(c, endpoint, ["s1"], image, bench, wait=False, rss=rss)
    return checked(c, result, fake, ["s1"], image, None)


def warm_up(bench, fake, endpoint):
    """One untimed deploy by each tool: page cache, Python bytecode caches."""
    for c in bench.contenders:
        deploy_once(bench, c, fake, endpoint)


@contextlib.contextmanager
def fake_behind_front(bench, *args, rtt=0.0):
    """A fresh fake-ecs-server with `args` and a LatencyFront before it."""
    with h.FakeEcsServer(bench.fake_server, *args) as fake, \
            h.LatencyFront(fake.port, rtt) as front:
        yield fake, front


# --- 1. round trips against the floor ---------------------------------------

def round_trips(bench, runs):
    """{label: {"t0", "t40" (seconds), "connections", "requests"}} for one
    desired-0 deploy; run i of a tool at RTT 0 and run i at 40 ms come one
    right after the other (their order alternating), so that the pairs'
    differences do not pick up slow drifts of the machine."""
    found = {c.label: {"t0": [], "t40": [], "connections": 0, "requests": 0}
             for c in bench.contenders}
    with h.FakeEcsServer(bench.fake_server, "--services", "1") as fake, \
            h.LatencyFront(fake.port, 0.0) as near, h.LatencyFront(fake.port, RTT_S) as far:
        warm_up(bench, fake, near.url)
        for i in range(runs):
            for c in alternate(bench.contenders, i):
                for front, key in alternate(((near, "t0"), (far, "t40")), i):
                    front.take()
                    found[c.label][key].append(deploy_once(bench, c, fake, front.url).took)
                    if key == "t40":
                        records = front.take()
                        found[c.label]["connections"] = len({r["connection"] for r in records})
                        found[c.label]["requests"] = len(records)
            say_progress("round trips", i, runs, found, "t40")
    return found


def alternate(items, i):
    return items if i % 2 == 0 else items[::-1]


def say_progress(what, i, runs, found, key):
    print(f"{NAME}: {what}: run {i + 1}/{runs}: " + ", ".join(
        f"{label} {seconds(v[key][-1])}" for label, v in found.items()), flush=True)


def floor(label):
    """One connection and the dependent calls `label` makes: the four of a
    deploy, and ecs-deploy's image check."""
    return 1 + FLOOR_CALLS + (CHECK_CALLS if label == tools.OURS else 0)


def table_round_trips(found):
    lines = [
        "| | wall time, RTT 0 | wall time, RTT 40 ms | round trips used (min–max) "
        "| connections | requests | connections + requests | floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdict = None
    for label, v in found.items():
        trips = [(b - a) / RTT_S for a, b in zip(v["t0"], v["t40"])]
        median = statistics.median(trips)
        counted = v["connections"] + v["requests"]
        lines.append(f"| {label} | {seconds(statistics.median(v['t0']))} "
                     f"| {seconds(statistics.median(v['t40']))} "
                     f"| **{median:.1f}** ({min(trips):.1f}–{max(trips):.1f}) "
                     f"| {v['connections']} | {v['requests']} | {counted} | {floor(label)} |")
        if verdict is None:  # ecs-deploy comes first
            verdict = (v["connections"] == 1, median <= floor(label) + 0.5)
    ours = floor(tools.OURS) + 0.5
    targets = [("one connection", verdict[0]), (f"round trips ≤ {ours}", verdict[1])]
    return lines, targets


# --- 2. one deploy, every tool -----------------------------------------------

def one_deploy(bench, runs, rss_runs, https):
    """{label: {"times": [...], "rss": [...]}} for one desired-0 deploy."""
    found = {c.label: {"times": [], "rss": []} for c in bench.contenders}
    with h.FakeEcsServer(bench.fake_server, "--services", "1") as fake, \
            contextlib.ExitStack() as fronts:
        endpoint = fake.url
        if https:
            endpoint = fronts.enter_context(h.TlsFront(fake.port, bench.cert, bench.key)).url
        warm_up(bench, fake, endpoint)
        for i in range(runs + rss_runs):
            for c in alternate(bench.contenders, i):
                result = deploy_once(bench, c, fake, endpoint, rss=i >= runs)
                key, value = ("rss", result.rss_kib) if i >= runs else ("times", result.took)
                found[c.label][key].append(value)
            if i < runs:
                say_progress("one deploy", i, runs, found, "times")
    return found


def table_one_deploy(found, size, interpreter):
    labels = list(found)
    ours = statistics.median(found[labels[0]]["times"])
    lines = ["| | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]

    def row(title, cell):
        lines.append(f"| {title} | " + " | ".join(cell(found[label]) for label in labels) + " |")

    row("wall time, median", lambda v: f"**{seconds(statistics.median(v['times']))}**")
    row("wall time, min / max",
        lambda v: f"{seconds(min(v['times']))} / {seconds(max(v['times']))}")
    row("peak RSS (largest process)", lambda v: megabytes(max(v["rss"])))
    row("median against ecs-deploy",
        lambda v: f"**{statistics.median(v['times']) / ours:.0f}×**")
    static = "static" if interpreter == "" else f"NOT static: needs {interpreter}"
    lines.append(f"| binary size | {size / 1048576:.2f} MiB ({size:,} bytes, {static}) |"
                 + " |" * (len(labels) - 1))
    ratio = statistics.median(found[tools.AWS_JQ]["times"]) / ours
    targets = [(f"aws ecs + jq ≥ {TARGET_RATIO}× slower", ratio >= TARGET_RATIO),
               ("binary ≤ 4 MiB and static", size <= TARGET_SIZE and interpreter == ""),
               ("peak RSS ≤ 10 MB", max(found[labels[0]]["rss"]) * 1024 <= TARGET_RSS)]
    return lines, targets


# --- 3. many services ----------------------------------------------------------

def many_services(bench, counts, peer_counts):
    """[(N, label, Run, records, stats)] with all N services deployed."""
    found = []
    for n in counts:
        for c in bench.contenders:
            if c is not bench.contenders[0] and n not in peer_counts:
                continue
            result, records, stats, problem = many_run(bench, c, n, timeout=60 + n * 30)
            if problem:
                raise RuntimeError(problem)
            found.append((n, c.label, result, records, stats))
            print(f"{NAME}: {n} services: {c.label} {seconds(result.took)}", flush=True)
    return found


def many_services_far(bench, counts):
    """{N: (Run, records, stats, what went wrong or '')}: ecs-deploy deploying
    N services through the front at RTT_S, the fake throttling as ECS does. A
    run that fails is reported, not fatal: being throttled into a failure is
    one of the things measured."""
    ours = bench.contenders[0]
    found = {}
    for n in counts:
        found[n] = many_run(bench, ours, n, "--throttle", rtt=RTT_S, timeout=120 + n * 3)
        result, records, stats, problem = found[n]
        print(f"{NAME}: {n} services at {RTT_S * 1000:.0f} ms, throttled like ECS: "
              f"{ours.label} {seconds(result.took)}{' FAILED' if problem else ''}, "
              f"{stats['throttled']} ThrottlingException, at most {in_flight(records)} "
              "requests in flight", flush=True)
        if problem:
            print(f"{NAME}: {problem}", file=sys.stderr, flush=True)
    return found


def many_run(bench, c, n, *args, rtt=0.0, timeout):
    """`c` deploying a new image to N services (DESIRED tasks each, every
    rollout taking ROLLOUT_S) of a fresh fake-ecs-server with `args` too,
    through a front `rtt` away: (Run, the front's records, the fake's stats,
    why the run did not do its job or '')."""
    services = [f"s{i}" for i in range(1, n + 1)]
    args = ("--services", str(n), "--desired", str(DESIRED),
            "--complete-after", str(ROLLOUT_S), *args)
    with fake_behind_front(bench, *args, rtt=rtt) as (fake, front):
        image = bench.images.next(fake)
        result = run(c, front.url, services, image, bench, rss=True, timeout=timeout)
        try:
            checked(c, result, fake, services, image)
            problem = ""
        except RuntimeError as e:
            problem = str(e)
        return result, front.take(), fake.stats(), problem


def in_flight(records):
    """The most requests the front held at once."""
    return max((r["in_flight"] for r in records), default=0)


def polls(records):
    """The requests after the last UpdateService, one Counter of operations
    per poll; a poll begins with a DescribeServices after a pause."""
    updates = [i for i, r in enumerate(records) if r["operation"] == "UpdateService"]
    after = records[updates[-1] + 1:] if updates else []
    found, last = [], None
    for r in after:
        pause = last is None or r["t"] - last >= POLL_GAP_S
        if r["operation"] == "DescribeServices" and pause:
            found.append(Counter())
        if found:
            found[-1][r["operation"]] += 1
        last = r["t"]
    return found


# How table 3 names the operations of a poll.
SHORT = {"DescribeServices": "DS", "DescribeServiceDeployments": "DSD", "ListTasks": "LT",
         "DescribeTasks": "DT"}


def poll_cell(counter):
    return " + ".join(f"{n} {SHORT.get(op, op)}" for op, n in counter.items()) or "–"


def table_many(found, far):
    ms = f"{RTT_S * 1000:.0f} ms"
    lines = [
        "| services | | wall time to all complete | against 1 service | API requests "
        f"| busiest poll of the last wait | peak RSS | wall time at {ms}, throttled "
        f"| ECS's floor | beyond it, against 1 service | most requests in flight "
        "| ThrottlingException |",
        "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    one = {label: r.took for n, label, r, _, _ in found if n == 1}
    rows = {(n, label): (result, records) for n, label, result, records, _ in found}
    rows.update({(n, tools.OURS): None for n in far if (n, tools.OURS) not in rows})
    for (n, label), near in sorted(rows.items(), key=lambda row: row[0][0]):
        cells = ["–"] * 4
        rss = []
        if near:
            result, records = near
            busiest = max(polls(records), key=lambda c: sum(c.values()), default=Counter())
            cells = [f"**{seconds(result.took)}**", f"{result.took / one[label]:.2f}×",
                     str(len(records)), poll_cell(busiest)]
            rss.append(result.rss_kib)
        far_cells = ["–"] * 5
        if label == tools.OURS and n in far:
            result, records, stats, _ = far[n]
            far_cells = [f"**{far_time(far[n])}**", seconds(bucket_floor(n)), far_ratio(far, n),
                         str(in_flight(records)), str(stats["throttled"])]
            rss.append(result.rss_kib)
        peak = max(rss, key=lambda kib: kib or 0)
        lines.append(f"| {n} | {label} | " + " | ".join(cells) + f" | {megabytes(peak)} | "
                     + " | ".join(far_cells) + " |")
    return lines, many_targets([f for f in found if f[1] == tools.OURS]) + far_targets(far)


def bucket_floor(n):
    """The least time ECS's token buckets allow a deploy of N services, each
    its own family (as fake-ecs-server makes them): their revisions read,
    the new ones registered, the services updated, each at its action's
    sustained rate once its burst is spent; the phases follow each other,
    since every revision is registered before any service is updated."""
    return sum(max(0, n - burst) / rate for burst, rate in BUCKETS.values())


def far_time(run_found):
    result, _, _, problem = run_found
    return f"failed ({seconds(result.took)})" if problem else seconds(result.took)


def far_scale(far, n):
    """N services' wall time at RTT_S beyond ECS's floor against one
    service's; None if either run failed."""
    if far[n][3] or far[1][3]:
        return None
    return (far[n][0].took - bucket_floor(n)) / far[1][0].took


def far_ratio(far, n):
    scale = far_scale(far, n)
    return "–" if scale is None else f"{scale:.2f}×"


def many_targets(ours):
    """Whether ecs-deploy's runs met the targets of table 3."""
    by_n = {n: (result, records, stats) for n, _, result, records, stats in ours}
    largest = max(by_n)
    per_poll, lookups = True, True
    for n, (_, records, stats) in by_n.items():
        for counter in polls(records):
            per_poll &= (counter["DescribeServices"] <= math.ceil(n / 10)
                         and counter["DescribeServiceDeployments"] <= math.ceil(n / 20))
        stops = sum(s["stoppedEvents"] for s in stats["services"].values())
        lookups &= stats["counts"].get("ListTasks", 0) <= stops
    # ecs-deploy keeps to ECS's buckets whether or not the fake enforces them.
    scale = (by_n[largest][0].took - bucket_floor(largest)) / by_n[1][0].took
    return [(f"{largest} services ≤ {TARGET_SCALE}× one beyond ECS's floor of "
             f"{seconds(bucket_floor(largest))} ({scale:.2f}×)", scale <= TARGET_SCALE),
            ("per poll ≤ ⌈N/10⌉ DescribeServices and ≤ ⌈N/20⌉ DescribeServiceDeployments",
             per_poll),
            ("stopped-task lookups only after tasks stopped", lookups),
            (f"peak RSS ≤ 10 MB at {largest} services",
             by_n[largest][0].rss_kib * 1024 <= TARGET_RSS)]


def far_targets(far):
    """Whether ecs-deploy's runs at RTT_S, the fake throttling, met theirs."""
    ms = f"{RTT_S * 1000:.0f} ms"
    targets = []
    for n, limit in TARGET_FAR_SCALE.items():
        if n in far:
            scale = far_scale(far, n)
            told = "a run failed" if scale is None else f"{scale:.2f}×"
            targets.append((f"{n} services ≤ {limit}× one at {ms} beyond ECS's floor of "
                            f"{seconds(bucket_floor(n))} ({told})",
                            scale is not None and scale <= limit))
    throttled = sum(stats["throttled"] for _, _, stats, _ in far.values())
    failed = [str(n) for n, (_, _, _, problem) in far.items() if problem]
    targets.append((f"no ThrottlingException with the fake's buckets on ({throttled})",
                    throttled == 0))
    if failed:
        targets.append((f"every run at {ms} done (failed at {', '.join(failed)} services)",
                        False))
    largest = max(far)
    rss = far[largest][0].rss_kib
    targets.append((f"peak RSS ≤ 10 MB at {largest} services at {ms}",
                    bool(rss) and rss * 1024 <= TARGET_RSS))
    return targets


# --- 4. wait reaction ----------------------------------------------------------

class Unnoticed:
    """A run stopped `after` seconds past the rollout's end, which the tool
    had not noticed."""

    def __init__(self, after):
        self.after = after


class Reaction:
    """Seconds from the rollout's end to the exit (`after_end`), and from the
    poll that saw it (the tool's last DescribeServices) to the exit
    (`after_seen`)."""

    def __init__(self, after_end, after_seen):
        self.after_end, self.after_seen = after_end, after_seen


def reactions(bench, runs, with_aws_failure):
    """{(label, outcome): [Reaction or Unnoticed]}."""
    found = {}
    for i in range(runs):
        # Rollouts that end between two polls, at a different point of the
        # interval in each run, as real ones do: a rollout that took a whole
        # number of intervals would end just before a poll.
        rollout_s = ROLLOUT_S + (i + 0.5) / runs * POLL_S
        for outcome, flag, state, code in (("completes", "--complete-after", "COMPLETED", 0),
                                           ("fails", "--fail-after", "FAILED", 1)):
            for c in alternate(bench.contenders, i):
                waiter_only = c.label == tools.AWS_JQ
                if waiter_only and (i > 0 or (outcome == "fails" and not with_aws_failure)):
                    continue  # its fixed 15 s poll: one run says it all
                found.setdefault((c.label, outcome), []).append(
                    reaction(bench, c, (flag, rollout_s), (state, code), waiter_only))
        print(f"{NAME}: wait reaction: run {i + 1}/{runs}", flush=True)
    return found


def reaction(bench, c, rollout, expected, waiter_only):
    """One run of `c` on one service whose rollout ends as `rollout` (the
    fake's flag and seconds) says, ending as `expected` (rolloutState, exit
    code)."""
    (flag, rollout_s), (state, code) = rollout, expected
    args = ("--services", "1", "--desired", str(DESIRED), flag, f"{rollout_s:.3f}")
    with fake_behind_front(bench, *args) as (fake, front):
        image = bench.images.next(fake)
        # No waiter notices a failed rollout: the run is stopped instead.
        never = waiter_only and state == "FAILED"
        limit = 10 + rollout_s + REACTION_LIMIT_S if never else 120
        result = run(c, front.url, ["s1"], image, bench, timeout=limit)
        exited = result.started + result.took
        due = fake.stats()["services"]["s1"]["due"]
        if never:
            if result.code is not None:
                raise RuntimeError(f"{c.label} ended (exit {result.code}) on a failed rollout:"
                                   f"\n{h.indent(result.out[-2000:])}")
            return Unnoticed(exited - due)
        checked(c, result, fake, ["s1"], image, state, code)
        seen = [r["at"] for r in front.take() if r["operation"] == "DescribeServices"][-1]
        return Reaction(exited - due, exited - seen)


def table_reactions(found, labels):
    lines = ["| rollout | from | " + " | ".join(labels) + " |",
             "|---|---|" + "---:|" * len(labels)]
    for outcome in ("completes", "fails"):
        for start, attribute in (("its end", "after_end"), ("the poll that saw it", "after_seen")):
            cells = [reaction_cell(found.get((label, outcome)), attribute) for label in labels]
            lines.append(f"| {outcome} | {start} | " + " | ".join(cells) + " |")
    return lines


def reaction_cell(values, attribute):
    if not values:
        return "not run"
    if isinstance(values[0], Unnoticed):
        if attribute == "after_seen":
            return "–"  # no poll saw it
        return f"never: not noticed {seconds(values[0].after)} after the end, then stopped"
    return spread([getattr(v, attribute) for v in values])


# --- the report ------------------------------------------------------------------

def seconds(t):
    return f"{t * 1000:.0f} ms" if t < 1 else f"{t:.2f} s"


def megabytes(kib):
    return f"{kib * 1024 / 1e6:.1f} MB" if kib else "?"


def spread(values):
    """'median (min–max)' of a list of seconds."""
    if len(values) == 1:
        return seconds(values[0])
    return (f"{seconds(statistics.median(values))} "
            f"({seconds(min(values))}–{seconds(max(values))})")


def verdicts(targets):
    return ", ".join(f"{what} {'met' if ok else '**MISSED**'}" for what, ok in targets)


def report(bench, opts, sections, versions):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mode = " (--quick: fewer runs)" if opts.quick else ""
    head = [f"Measured {now}{mode} on {h.machine()}, {platform.system()} {platform.release()}, "
            f"by `make bench` (`scripts/bench.py`), every tool against the same fake ECS "
            f"(`fake-ecs-server`) on loopback, runs of different tools alternating.  ",
            f"Versions: {'; '.join(versions)}.  ",
            f"Not measured: {'; '.join(bench.unavailable)}."]
    text = "\n".join(head)
    for title, lines, targets in sections:
        text += f"\n\n**{title}**\n\n" + "\n".join(lines)
        if targets:
            text += f"\n\nTargets for ecs-deploy: {verdicts(targets)}."
    return text + "\n"


# --- main ------------------------------------------------------------------------

class Bench:
    """What every table needs: the contenders, the fake's executable, GNU
    time, a temporary directory, an empty HOME, the TLS files, the images."""


def prepare(opts, tmp):
    bench = Bench()
    bench.binary = h.executable(opts.binary, NAME)
    bench.fake_server = h.executable(opts.fake_server, NAME)
    aws, jq, gnu_time = tools.find_aws(), tools.find_tool("jq", "jq", "/usr/bin/jq"), \
        tools.gnu_time()
    missing = [what for what, found in (("aws-cli (python3 -m pip install awscli)", aws),
                                        ("jq (apt-get install -y jq)", jq),
                                        ("GNU time (apt-get install -y time)", gnu_time))
               if not found]
    if missing:
        sys.exit(f"{NAME}: missing: {'; '.join(missing)}")
    fabfuel, why = tools.find_fabfuel()
    bench.unavailable = [tools.AVAILABILITY]
    if not fabfuel:
        print(f"{NAME}: fabfuel's ecs-deploy left out: {why}", file=sys.stderr)
        bench.unavailable.append(f"fabfuel's ecs-deploy: not available ({why})")
    bench.gnu_time, bench.tmp = gnu_time, tmp
    bench.home = os.path.join(tmp, "home")
    os.mkdir(bench.home)
    bench.ca, bench.cert, bench.key = h.make_tls_files(tmp)
    bench.images = Images()
    bench.versions = [tools.version([bench.binary, "--version"])]
    if fabfuel:
        bench.versions.append(f"fabfuel {tools.version([fabfuel, '--version'])} "
                              f"(Python {platform.python_version()})")
    bench.versions += [tools.version([aws, "--version"]), tools.version([jq, "--version"])]
    return bench, {"aws": aws, "jq": jq, "fabfuel": fabfuel}


def measure(bench, opts):
    """The four sections: (title, table lines, targets)."""
    return [section_round_trips(bench, opts), section_one_deploy(bench, opts),
            section_many(bench, opts), section_reactions(bench, opts)]


def section_round_trips(bench, opts):
    runs = 1 if opts.quick else 5
    lines, targets = table_round_trips(round_trips(bench, runs))
    return (f"1. Round trips against the physical floor: one deploy (desired count 0: "
            f"{FLOOR_CALLS} dependent calls; ecs-deploy makes one more, DescribeImages: it "
            "checks that the image is in ECR before it registers anything, which is part of "
            "what it does), through a keep-alive front adding "
            f"{RTT_S * 1000:.0f} ms per connection and per request; round trips used = (wall "
            f"time at 40 ms − at 0) / 40 ms, median of {runs} pairs of runs; for a tool that "
            "sends one request at a time the front adds exactly connections + requests (the "
            "Python tools' start-up varies by more than that); floor = 1 connection + the "
            f"dependent calls the tool makes ({FLOOR_CALLS}, ecs-deploy "
            f"{FLOOR_CALLS + CHECK_CALLS})", lines, targets)


def section_one_deploy(bench, opts):
    runs = 3 if opts.quick else opts.runs
    found = one_deploy(bench, runs, 1 if opts.quick else 3, not opts.http)
    lines, targets = table_one_deploy(found, os.stat(bench.binary).st_size,
                                      h.elf_interpreter(bench.binary))
    return (f"2. One deploy (desired count 0) over {'HTTP' if opts.http else 'HTTPS'}, "
            f"{runs} runs of each after a warm-up", lines, targets)


def section_many(bench, opts):
    peers = (1,) if opts.quick else (1, 10, 50) if opts.peers_at_50 else (1, 10)
    far_counts = FAR_COUNTS_QUICK if opts.quick else FAR_COUNTS
    lines, targets = table_many(many_services(bench, (1, 10, 50), peers),
                                many_services_far(bench, far_counts))
    left_out = [str(n) for n in (10, 50) if n not in peers]
    skipped = (f"; the other tools at {' and '.join(left_out)} services: not run "
               "(--peers-at-50 runs them)") if left_out else ""
    ms = f"{RTT_S * 1000:.0f} ms"
    far = ", ".join(map(str, far_counts[:-1])) + f" and {far_counts[-1]}"
    return (f"3. Many services, {DESIRED} tasks each, every rollout taking {ROLLOUT_S:.0f} s "
            f"in the fake, polling every {POLL_S} s; ecs-deploy in one run, the others in a "
            f"loop{skipped}. A poll: the requests between two pauses, DS DescribeServices, DSD "
            "DescribeServiceDeployments, LT ListTasks, DT DescribeTasks. Throttled: ecs-deploy "
            f"alone at {far} services through the front of table 1 ({ms} per connection and "
            "per request), the fake throttling as ECS does (AWS's token bucket per category "
            "of actions); ECS's floor: the least time those buckets allow N services of N "
            "families (their revisions read, at 50 then 20 a second; registered, at 20 then 1 "
            "a second; updated, at 50 then 5 a second); beyond it: the wall time less the "
            "floor, against one service's; requests in flight as the front saw them, "
            "ThrottlingException as the fake answered them; peak RSS: the larger of a row's "
            "runs", lines, targets)


def section_reactions(bench, opts):
    found = reactions(bench, 1 if opts.quick else 3, not opts.quick)
    lines = table_reactions(found, [c.label for c in bench.contenders])
    return ("4. Wait reaction: time to the tool's exit from the rollout's end in the fake, "
            f"and from the poll that saw it, polling every {POLL_S} s (the aws waiter: every "
            "15 s, fixed), one service, rollouts ending at different points between two "
            "polls; median (min–max)", lines, [])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the static ecs-deploy (make musl)")
    parser.add_argument("--fake-server", required=True,
                        help="fake-ecs-server (cargo build -p fake-ecs --bin fake-ecs-server)")
    parser.add_argument("--runs", type=int, default=9,
                        help="timed runs of each tool in table 2 (default 9)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs, the peers at one service; writes target/bench-quick.md")
    parser.add_argument("--peers-at-50", action="store_true",
                        help="also run the other tools' loops over 50 services "
                        "(about 4 min more)")
    parser.add_argument("--http", action="store_true",
                        help="table 2 over plain HTTP instead of HTTPS")
    parser.add_argument("--out", help="where to write the tables (default bench/results.md, "
                        "with --quick target/bench-quick.md)")
    opts = parser.parse_args()
    if not 1 <= opts.runs <= 1000:
        parser.error("--runs must be 1..1000")
    out = opts.out or os.path.join(tools.REPO_ROOT, *(
        ("target", "bench-quick.md") if opts.quick else ("bench", "results.md")))
    h.die_on_sigterm()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        bench, found = prepare(opts, tmp)
        scripts = tools.write_scripts(tmp)
        path_dirs = [os.path.dirname(found["aws"]), os.path.dirname(found["jq"])]
        print(f"{NAME}: {'; '.join(bench.versions)}", flush=True)
        try:
            bench.contenders = contender_list(bench, found, scripts, path_dirs)
            sections = measure(bench, opts)
        except KeyboardInterrupt:
            print(f"{NAME}: interrupted", file=sys.stderr)
            return 1
        except Exception as e:  # noqa: BLE001 - a message, not a traceback
            print(f"{NAME}: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
    text = report(bench, opts, sections, bench.versions)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    print("\n" + text + f"\n(written to {out} in {time.monotonic() - started:.0f} s)", flush=True)
    missed = [what for _, _, targets in sections for what, ok in targets if not ok]
    if missed:
        print(f"{NAME}: targets missed: {'; '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


def contender_list(bench, found, scripts, path_dirs):
    """The contenders, with an environment that holds the fake's keys (any
    fake-ecs-server accepts the same)."""
    with h.FakeEcsServer(bench.fake_server) as fake:
        env = tools.base_environment(bench.home, path_dirs, fake, bench.ca)
    return tools.contenders(bench.binary, found, scripts, env, POLL_S)


if __name__ == "__main__":
    sys.exit(main())
