"""The contenders of scripts/bench.py: ecs-deploy and the ways people deploy
to ECS without it, each as the command its users run, and how the bench
finds or installs them.

  ecs-deploy       this project's static binary: every service in one run
                   (-n s1 … -n sN).
  fabfuel          fabfuel's Python ecs-deploy (PyPI `ecs-deploy`, command
                   `ecs deploy CLUSTER SERVICE -i CONTAINER IMAGE`), installed
                   into target/bench-venv when missing; one run per service, in
                   a bash loop, each waiting for its rollout (--sleep-time 1).
  aws ecs + jq     the bash function people write (below, verbatim): describe
                   the service and its task definition, swap the image with
                   jq, register, update; in a loop over the services, then
                   `aws ecs wait services-stable` ten services at a time (the
                   waiter's limit), when there is a rollout to wait for.

The silinternational bash script would be a fourth, but it is in no package
registry, so the bench cannot install it; AVAILABILITY says so in the tables.

Every contender reaches the endpoint it is given (the fake on loopback)
through AWS_ENDPOINT_URL_ECS or --endpoint-url, and every other AWS service
there too through AWS_ENDPOINT_URL (ecs-deploy's image check goes to the
fake's ECR), with the fake's keys, an empty HOME and dead proxies, so nothing
reads the user's configuration or leaves the machine.
"""

import os
import shutil
import subprocess
import sys
import sysconfig

import harness as h

NAME = "bench"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(REPO_ROOT, "target", "bench-venv")
# Pinned, so that a rerun measures the same peer; the tables name the version.
FABFUEL_PACKAGE = "ecs-deploy==1.17.0"
# The container every service's task definition deploys to (fake-ecs-server's `app`).
CONTAINER = "app"
# The contenders' names in the tables.
OURS, FABFUEL, AWS_JQ = "ecs-deploy", "fabfuel ecs-deploy", "aws ecs + jq"
AVAILABILITY = ("the silinternational bash script: not available (no copy on this machine, "
                "and no package registry carries it)")

# What users write today. `aws` is wrapped only to add the loopback endpoint,
# so that no call can reach real AWS. WAIT=wait adds the waiter.
AWS_JQ_SCRIPT = r'''
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
    --task-definition "$arn" > /dev/null
}

cluster=$1 image=$2 wait=$3
shift 3
for service in "$@"; do
  deploy "$cluster" "$service" "$image"
done
if [ "$wait" = wait ]; then
  while [ $# -gt 0 ]; do
    aws ecs wait services-stable --cluster "$cluster" --services "${@:1:10}"
    shift $(( $# < 10 ? $# : 10 ))
  done
fi
'''

# fabfuel's tool as its users run it over several services.
FABFUEL_SCRIPT = r'''
set -euo pipefail
cluster=$1 container=$2 image=$3 sleep=$4
shift 4
for service in "$@"; do
  ecs deploy "$cluster" "$service" -i "$container" "$image" \
    --region "$AWS_DEFAULT_REGION" --sleep-time "$sleep" --timeout 300
done
'''


# --- finding and installing -------------------------------------------------

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
    if not found and os.geteuid() == 0 and shutil.which("apt-get") and apt_install(package):
        found = path if os.access(path, os.X_OK) else shutil.which(name)
    return found


def gnu_time():
    """GNU time, which reports the peak RSS (-v), or None."""
    found = find_tool("time", "time", "/usr/bin/time")
    if found:
        probe = subprocess.run([found, "-v", "true"], capture_output=True, text=True)
        if "Maximum resident set size" in probe.stderr:
            return found
    return None


def find_fabfuel():
    """fabfuel's `ecs` in target/bench-venv, installed there when missing;
    (path or None, why it is missing)."""
    ecs = os.path.join(VENV, "bin", "ecs")
    if os.access(ecs, os.X_OK):
        return ecs, ""
    print(f"{NAME}: installing {FABFUEL_PACKAGE} into {VENV}", flush=True)
    steps = [[sys.executable, "-m", "venv", VENV],
             [os.path.join(VENV, "bin", "pip"), "install", "--quiet", FABFUEL_PACKAGE]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["?"])[-1]
            return None, f"{' '.join(step[:3])} failed: {why}"
    return (ecs, "") if os.access(ecs, os.X_OK) else (None, "pip installed no `ecs` command")


def version(argv):
    """The first line a `--version` prints, or '?'."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return (p.stdout.strip() or p.stderr.strip()).splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


# --- the contenders ----------------------------------------------------------

class Contender:
    """One way to deploy: `argv(endpoint, cluster, services, image, wait)`
    is the command that deploys `image` to every service (and waits for the
    rollouts when `wait`), run with `env` plus the endpoint."""

    def __init__(self, label, argv, env):
        self.label = label
        self.argv = argv
        self.env = env

    def environment(self, endpoint):
        return dict(self.env, BENCH_ENDPOINT=endpoint, AWS_ENDPOINT_URL_ECS=endpoint,
                    AWS_ENDPOINT_URL=endpoint)


def base_environment(home, path_dirs, fake, ca=None):
    """What every contender runs with: the fake's keys, no user configuration
    (an empty HOME, no instance metadata) and proxies that lead nowhere."""
    env = {
        "PATH": os.pathsep.join(dict.fromkeys([*path_dirs, "/usr/bin", "/bin"])),
        "HOME": home, "LANG": "C.UTF-8",
        "AWS_ACCESS_KEY_ID": fake.access_key, "AWS_SECRET_ACCESS_KEY": fake.secret_key,
        "AWS_DEFAULT_REGION": h.REGION, "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "",
        # Belt and braces: should anything try a real AWS endpoint after all,
        # it meets a dead loopback port, not the internet.
        "HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1",
    }
    if ca:
        env["AWS_CA_BUNDLE"] = ca
    return env


def contenders(binary, tools, scripts, env, poll_s):
    """ecs-deploy, then fabfuel's tool (where it could be installed), then
    aws ecs + jq. `tools` holds the paths found, `scripts` the two bash files."""
    def ours(endpoint, cluster, services, image, wait):
        names = [arg for service in services for arg in ("-n", service)]
        return [binary, "-c", cluster, *names, "-i", image, "--poll-interval", str(poll_s),
                "-t", "300", "-r", h.REGION, "--endpoint-url", endpoint]

    def fabfuel(endpoint, cluster, services, image, wait):
        return ["/bin/bash", scripts["fabfuel"], cluster, CONTAINER, image,
                str(max(1, round(poll_s))), *services]

    def aws_jq(endpoint, cluster, services, image, wait):
        return ["/bin/bash", scripts["aws_jq"], cluster, image,
                "wait" if wait else "no", *services]

    found = [Contender(OURS, ours, env)]
    if tools["fabfuel"]:
        venv_env = dict(env, PATH=os.pathsep.join([os.path.dirname(tools["fabfuel"]),
                                                   env["PATH"]]))
        found.append(Contender(FABFUEL, fabfuel, venv_env))
    found.append(Contender(AWS_JQ, aws_jq, env))
    return found


def write_scripts(directory):
    """The two bash files, written to `directory`; {name: path}."""
    paths = {}
    for name, text in (("aws_jq", AWS_JQ_SCRIPT), ("fabfuel", FABFUEL_SCRIPT)):
        paths[name] = os.path.join(directory, f"{name}.sh")
        with open(paths[name], "w") as f:
            f.write(text)
    return paths
