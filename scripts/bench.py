#!/usr/bin/env python3
"""Benchmark one deploy with ecs-deploy against the same job done with aws-cli and jq.

Starts moto_server on a free loopback port and creates a cluster, a task
definition with three containers and a service with desired count 0 (so no
rollout has to be waited for: both ways are done right after UpdateService).
Both reach it over HTTPS, as they reach real AWS, through a TLS front with a
throwaway CA that both trust through AWS_CA_BUNDLE (--http: plain HTTP).
Then, after one untimed warm-up run of each, it times --runs deploys of each,
alternating which goes first:

  (a) ecs-deploy -c ci -n web -i …/shop/web:vK -D 0
  (b) the bash function below: aws ecs describe-services, describe-task-definition,
      a jq edit that drops the read-only keys and swaps the image,
      register-task-definition, update-service --desired-count 0.

Every run deploys a new tag and is checked afterwards (outside the timing):
the service must run a new revision with the new image in `app` and the two
sidecars untouched. Peak RSS comes from `/usr/bin/time -v` over --rss-runs
more runs of each; for (b) it is the largest single process (an aws-cli
Python), not the sum. The result is a Markdown table with the date and the
machine, printed and written to bench/results.md.

    python3 scripts/bench.py --binary target/x86_64-unknown-linux-musl/release/ecs-deploy

Installs what is missing when it can (aws-cli v1 with pip; jq and GNU time with
apt-get as root), else says what to install. Both contenders get dummy keys,
AWS_EC2_METADATA_DISABLED=true, an explicit loopback endpoint and an empty
HOME, so no user configuration is read and nothing leaves the machine.
Exit status 1 when a run fails or a target (ratio >= 20x, static binary
<= 4 MiB, peak RSS <= 10 MB) is missed.
"""

import contextlib
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile

import harness as h

NAME = "bench"
TARGET_RATIO = 20
TARGET_SIZE = 4 * 1024 * 1024      # bytes
TARGET_RSS = 10 * 1000 * 1000      # bytes
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (b): what users write today. `aws` is wrapped only to add the loopback
# endpoint, so that no call can reach real AWS.
AWS_JQ_DEPLOY = r'''
set -euo pipefail
aws() { command aws --endpoint-url "$BENCH_ENDPOINT" "$@"; }

deploy() {
  local cluster=$1 service=$2 image=$3
  local repo=${image%:*} current taskdef arn
  current=$(aws ecs describe-services --cluster "$cluster" --services "$service" \
    | jq -r '.services[0].taskDefinition')
  taskdef=$(aws ecs describe-task-definition --task-definition "$current" \
    | jq --arg image "$image" --arg repo "$repo" '.taskDefinition
        | del(.taskDefinitionArn, .revision, .status, .requiresAttributes,
              .compatibilities, .registeredAt, .registeredBy, .deregisteredAt)
        | .containerDefinitions |= map(
            if (.image | startswith($repo + ":")) then .image = $image else . end)')
  arn=$(aws ecs register-task-definition --cli-input-json "$taskdef" \
    | jq -r '.taskDefinition.taskDefinitionArn')
  aws ecs update-service --cluster "$cluster" --service "$service" \
    --task-definition "$arn" --desired-count 0 > /dev/null
}

deploy "$@"
'''


def is_root():
    return os.geteuid() == 0


def apt_install(package):
    print(f"{NAME}: installing {package} with apt-get", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False, timeout=600)
    return subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False,
                          timeout=600).returncode == 0


def find_aws():
    found = h.which("aws")
    if found:
        return found
    print(f"{NAME}: aws-cli is missing; installing aws-cli v1 with pip", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "awscli"],
                   check=False, timeout=900)
    for scripts in (sysconfig.get_path("scripts"), sysconfig.get_path("scripts", "posix_user")):
        candidate = os.path.join(scripts, "aws")
        if os.access(candidate, os.X_OK):
            return candidate
    return h.which("aws")


def find_tool(name, package, path):
    """`path` (or `name` on PATH), installing `package` with apt-get as root."""
    found = path if os.access(path, os.X_OK) else shutil.which(name)
    if not found and is_root() and shutil.which("apt-get") and apt_install(package):
        found = path if os.access(path, os.X_OK) else shutil.which(name)
    return found


def prerequisites(opts):
    h.require_moto(NAME, opts.moto_server)
    missing = []
    aws = find_aws()
    if not aws:
        missing.append("aws-cli (python3 -m pip install awscli)")
    jq = find_tool("jq", "jq", "/usr/bin/jq")
    if not jq:
        missing.append("jq (apt-get install -y jq)")
    gnu_time = find_tool("time", "time", "/usr/bin/time")
    if gnu_time:
        probe = subprocess.run([gnu_time, "-v", "true"], capture_output=True, text=True)
        if "Maximum resident set size" not in probe.stderr:
            gnu_time = None
    if not gnu_time:
        missing.append("GNU time at /usr/bin/time (apt-get install -y time)")
    if missing:
        sys.exit(f"{NAME}: missing: {'; '.join(missing)}")
    return aws, jq, gnu_time


def version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return (p.stdout.strip() or p.stderr.strip()).splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


class Contender:
    def __init__(self, label, argv_for, env):
        self.label = label
        self.argv_for = argv_for  # image -> argv
        self.env = env
        self.times = []
        self.rss_kib = []

    def run(self, web, prefix=()):
        """One deploy of a new image, in seconds. Raises on a failed run: a
        benchmark of a broken deploy means nothing."""
        image = web.next_image()
        argv = [*prefix, *self.argv_for(image)]
        code, out, took = h.run_binary(argv[0], argv[1:], self.env, home=self.env["HOME"])
        wrong = web.runs(image)
        if code != 0 or wrong:
            raise RuntimeError(f"{self.label} failed (exit {code}); {wrong}\n" + h.indent(out))
        return took


def measure(contenders, web, runs, rss_runs, gnu_time, tmp):
    for c in contenders:
        c.run(web)  # warm-up: page cache, Python bytecode caches
    for i in range(runs):
        order = contenders if i % 2 == 0 else contenders[::-1]
        for c in order:
            c.times.append(c.run(web))
        print(f"{NAME}: run {i + 1}/{runs}: " + ", ".join(
            f"{c.label} {c.times[-1] * 1000:.0f} ms" for c in contenders), flush=True)
    report = os.path.join(tmp, "time-v.txt")
    for _ in range(rss_runs):
        for c in contenders:
            c.run(web, prefix=(gnu_time, "-v", "-o", report))
            with open(report) as f:
                found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
            if not found:
                raise RuntimeError(f"no 'Maximum resident set size' in {gnu_time} -v output")
            c.rss_kib.append(int(found.group(1)))


def seconds(t):
    return f"{t * 1000:.0f} ms" if t < 1 else f"{t:.2f} s"


def megabytes(kib):
    return f"{kib * 1024 / 1e6:.1f} MB"


def table(contenders, size, interpreter, opts, versions, scheme):
    a, b = contenders
    med_a, med_b = statistics.median(a.times), statistics.median(b.times)
    ratio = med_b / med_a
    rss_a, rss_b = max(a.rss_kib), max(b.rss_kib)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    static = "static" if interpreter == "" else f"NOT static: needs {interpreter}"
    checks = [ratio >= TARGET_RATIO, size <= TARGET_SIZE, rss_a * 1024 <= TARGET_RSS]
    mark = ["met" if ok else "**MISSED**" for ok in checks]
    lines = [
        f"Measured {now} on {h.machine()}, {platform.system()} {platform.release()}; "
        f"one deploy (describe, register, update; desired count 0) to moto_server "
        f"on loopback over {scheme}, {opts.runs} runs each after a warm-up.",
        "",
        "| | ecs-deploy | aws ecs + jq (bash) |",
        "|---|---:|---:|",
        f"| wall time, median | **{seconds(med_a)}** | **{seconds(med_b)}** |",
        f"| wall time, min / max | {seconds(min(a.times))} / {seconds(max(a.times))} "
        f"| {seconds(min(b.times))} / {seconds(max(b.times))} |",
        f"| peak RSS (largest process) | {megabytes(rss_a)} | {megabytes(rss_b)} |",
        f"| median ratio b/a | **{ratio:.0f}×** | |",
        f"| binary size | {size / 1048576:.2f} MiB ({size:,} bytes, {static}) | |",
        "",
        f"Targets: ratio ≥ {TARGET_RATIO}× {mark[0]}, binary ≤ 4 MiB {mark[1]}, "
        f"peak RSS ≤ 10 MB {mark[2]}.  ",
        f"Versions: {'; '.join(versions)}.",
    ]
    return "\n".join(lines) + "\n", all(checks)


def main():
    parser = h.argument_parser(__doc__, "the static ecs-deploy (make musl builds it)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each (default 15)")
    parser.add_argument("--rss-runs", type=int, default=3,
                        help="extra runs of each under /usr/bin/time -v (default 3)")
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "bench", "results.md"),
                        help="where to write the table (default bench/results.md)")
    parser.add_argument("--http", action="store_true",
                        help="talk plain HTTP to moto_server instead of HTTPS")
    opts = parser.parse_args()
    if not 1 <= opts.runs <= 1000 or not 1 <= opts.rss_runs <= 100:
        parser.error("--runs must be 1..1000 and --rss-runs 1..100")
    binary = h.executable(opts.binary, NAME)
    aws, jq, gnu_time = prerequisites(opts)
    h.die_on_sigterm()

    import moto
    versions = [version([binary, "--version"]), version([aws, "--version"]),
                version([jq, "--version"]), f"moto {moto.__version__}"]
    print(f"{NAME}: {'; '.join(versions)}", flush=True)

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        home = os.path.join(tmp, "home")
        os.mkdir(home)
        script = os.path.join(tmp, "aws-jq-deploy.sh")
        with open(script, "w") as f:
            f.write(AWS_JQ_DEPLOY)
        try:
            moto_server = servers.enter_context(h.MotoServer(opts.moto_server))
            web = h.WebService(moto_server.url)
            endpoint = moto_server.url
            ca, cert, key = h.make_tls_files(tmp)
            if not opts.http:
                endpoint = servers.enter_context(h.TlsFront(moto_server.port, cert, key)).url
            path = os.pathsep.join(dict.fromkeys(
                [os.path.dirname(aws), os.path.dirname(jq), "/usr/bin", "/bin"]))
            env = {
                "PATH": path, "HOME": home, "LANG": "C.UTF-8",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": h.REGION, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_PAGER": "", "BENCH_ENDPOINT": endpoint, "AWS_CA_BUNDLE": ca,
                # Belt and braces: should anything try a real AWS endpoint
                # after all, it meets a dead loopback port, not the internet.
                "HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
                "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1",
            }
            contenders = [
                Contender("ecs-deploy", lambda image: [
                    binary, "-c", h.CLUSTER, "-n", h.SERVICE, "-i", image, "-D", "0",
                    "-r", h.REGION, "--endpoint-url", endpoint], env),
                Contender("aws+jq", lambda image: [
                    "/bin/bash", script, h.CLUSTER, h.SERVICE, image], env),
            ]
            measure(contenders, web, opts.runs, opts.rss_runs, gnu_time, tmp)
        except KeyboardInterrupt:
            print(f"{NAME}: interrupted", file=sys.stderr)
            return 1
        except Exception as e:  # noqa: BLE001 - a message, not a traceback
            print(f"{NAME}: {type(e).__name__}: {e}", file=sys.stderr)
            return 1

    size = os.stat(binary).st_size
    text, met = table(contenders, size, h.elf_interpreter(binary), opts, versions,
                      "HTTP" if opts.http else "HTTPS")
    os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
    with open(opts.out, "w") as f:
        f.write(text)
    print("\n" + text + f"\n(written to {opts.out})", flush=True)
    if not met:
        print(f"{NAME}: a target was missed", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
