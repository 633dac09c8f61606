#!/usr/bin/env python3
"""Check ecs-deploy's SigV4 signing and error handling against moto_server.

Our own tests talk to a fake ECS that we wrote, so they cannot prove that the
signatures are right: a bug in our signer and the same misunderstanding in our
fake would cancel out. moto re-computes every signature with botocore and
evaluates IAM policies once its auth is switched on, so it is an independent
verifier. It does not roll deployments forward, which is why the deploy below
uses desired count 0 (ecs-deploy is done right after UpdateService then).

    python3 scripts/moto_check.py --binary target/debug/ecs-deploy

Needs Python 3.9+ and `pip install 'moto[server]'` (brings boto3 and requests).
Exit status 0 when every check passed, 1 otherwise.

Facts about moto 5.2.1 this script relies on (read from its source and tried):
- Auth is off until `POST /moto-api/reset-auth` with body `0`; from then on every
  request is signature-checked and its `<service>:<Action>` is evaluated
  against the caller's IAM policies. ECS actions are checked against resource
  `*` only, so policies must say `"Resource": "*"`. No environment variable is
  needed in server mode (INITIAL_NO_AUTH_ACTION_COUNT is what the endpoint sets).
- Auth errors on a JSON-1.1 call come back as HTTP 403 with an XML body
  (`<ErrorResponse><Errors><Error><Code>…`), `Content-Type: text/html`, and no
  `x-amzn-errortype` header, so the binary has to find the code in the body.
- moto takes region and service from the request's own credential scope and
  ignores unsigned headers, so it would accept a request whose X-Amz-Target is
  not signed. The requests are therefore relayed through a small recording
  pass-through that checks the scope and the signed headers itself.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The minimal IAM policy for a plain image deploy. The README quotes this list;
# if ecs-deploy starts calling another action, this check fails with
# AccessDenied until both are updated together.
DEPLOYER_ACTIONS = [
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "ecs:UpdateService",
    "ecs:ListTasks",
    "ecs:DescribeTasks",
    "ecs:ListTaskDefinitions",
    "ecs:DeregisterTaskDefinition",
]
# Enough to get past the first call of a deploy, so the denial happens mid-run.
NOBODY_ACTIONS = ["ecs:DescribeServices"]

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
CLUSTER = "ci"
SERVICE = "web"
FAMILY = "web"
REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/acct/repo"
OLD_IMAGE = f"{REPO}:v1"
NEW_IMAGE = f"{REPO}:v2"
SIDECAR_IMAGE = "nginx:1.25"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
# Headers whose absence from SignedHeaders would let a request be altered
# in flight (x-amz-target picks the operation) or make real AWS refuse it.
MUST_SIGN = {"host", "x-amz-date", "x-amz-target"}
RUN_TIMEOUT_S = 90  # the binary gets -t 30; this only guards against a hang


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail="", output=None):
        if ok:
            self.passed += 1
            print(f"ok   {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""), flush=True)
            if output is not None:
                print(indent(output or "(no output)"), flush=True)
        return ok


def indent(text):
    return "\n".join("     | " + line for line in text.rstrip("\n").splitlines())


def free_port():
    # Small race with other processes grabbing the port; fine for CI.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """moto_server in its own session, so Ctrl-C in a terminal reaches us
    first and the server is stopped by us, never left behind."""

    def __init__(self, exe):
        self.exe = exe
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = tempfile.TemporaryFile()

    def start(self, wait_s=30):
        self.proc = subprocess.Popen(
            [self.exe, "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # any HTTP answer means it is serving
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"moto_server did not answer within {wait_s} s:\n{self.output()}")

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        # The pyenv/pip wrapper may have children; the session we created is
        # exactly this server's process group.
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


class RecordingProxy:
    """Loopback pass-through to moto that remembers each request's headers.

    The Host header is forwarded unchanged: it is signed, and moto recomputes
    the signature from the headers it receives."""

    HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                  "te", "trailer", "upgrade", "content-length"}

    def __init__(self, upstream_port):
        self.records = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def read_body(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return body
                        body += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def relay(self):
                body = self.read_body()
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in RecordingProxy.HOP_BY_HOP}
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                with proxy.lock:
                    proxy.records.append({
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "status": resp.status,
                    })
                self.send_response(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in RecordingProxy.HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def take(self):
        with self.lock:
            records, self.records = self.records, []
        return records


def boto(service, endpoint, key="testing", secret="testing"):
    import boto3

    return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id=key, aws_secret_access_key=secret)


def set_up(endpoint):
    """Create the ECS objects and the two IAM users while auth is still off.
    Returns {user: (access_key_id, secret)}."""
    ecs = boto("ecs", endpoint)
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(family=FAMILY, containerDefinitions=[
        {"name": "app", "image": OLD_IMAGE, "memory": 128, "essential": True},
        {"name": "sidecar", "image": SIDECAR_IMAGE, "memory": 64, "essential": False},
    ])
    ecs.create_service(cluster=CLUSTER, serviceName=SERVICE,
                       taskDefinition=f"{FAMILY}:1", desiredCount=1)

    iam = boto("iam", endpoint)
    keys = {}
    for user, actions in (("deployer", DEPLOYER_ACTIONS), ("nobody", NOBODY_ACTIONS)):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="ecs-deploy", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
    return keys


def enable_auth(endpoint):
    # The body is the number of further requests to let through unchecked. Not
    # form-encoded: moto reads the raw body, which werkzeug empties for forms.
    req = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def error_code(exc):
    err = getattr(exc, "response", {}).get("Error", {})
    # botocore cannot parse moto's XML auth errors on a JSON service: it
    # reports the HTTP status as the code and the whole XML as the message.
    message = err.get("Message", "")
    if "<Code>" in message:
        return message.split("<Code>", 1)[1].split("</Code>", 1)[0]
    return err.get("Code", type(exc).__name__)


def run_binary(binary, endpoint, key, secret):
    """Run ecs-deploy with nothing from our environment but PATH, so no
    profile, proxy variable or real credential of the CI machine leaks in."""
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        args = [binary, "-c", CLUSTER, "-n", SERVICE, "-i", NEW_IMAGE, "-D", "0",
                "-r", REGION, "--endpoint-url", endpoint,
                "--poll-interval", "0.2", "-t", "30"]
        started = time.monotonic()
        # Own process group: on a hang, Ctrl-C or SIGTERM we kill the binary
        # and anything it started, instead of leaving it running.
        proc = subprocess.Popen(args, env=env, cwd=home, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, _ = proc.communicate()
            code, out = None, out + f"\n[killed after {RUN_TIMEOUT_S} s]".encode()
        finally:
            kill_group(proc)
        return code, out.decode(errors="replace"), time.monotonic() - started


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def signing_problems(records):
    """What is wrong with the recorded requests' SigV4 headers, as text."""
    problems = []
    for i, rec in enumerate(records, 1):
        h = rec["headers"]
        target = h.get("x-amz-target", "")
        auth = h.get("authorization", "")
        where = f"request {i} ({target or 'no X-Amz-Target'})"
        if not target.startswith(TARGET_PREFIX):
            problems.append(f"{where}: X-Amz-Target is not {TARGET_PREFIX}<Op>")
        if h.get("content-type") != "application/x-amz-json-1.1":
            problems.append(f"{where}: Content-Type is {h.get('content-type')!r}")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            problems.append(f"{where}: Authorization is not AWS4-HMAC-SHA256")
            continue
        fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(",")
                      if "=" in part)
        scope = fields.get("Credential", "").split("/")[1:]
        date = h.get("x-amz-date", "")
        if scope != [date[:8], REGION, "ecs", "aws4_request"]:
            problems.append(f"{where}: credential scope {'/'.join(scope)!r} "
                            f"is not {date[:8]}/{REGION}/ecs/aws4_request")
        missing = MUST_SIGN - set(fields.get("SignedHeaders", "").split(";"))
        if missing:
            problems.append(f"{where}: not signed: {', '.join(sorted(missing))}")
    return problems


def ops(records):
    return [r["headers"].get("x-amz-target", "?").replace(TARGET_PREFIX, "") for r in records]


def check_deploy(report, binary, moto, proxy, keys):
    key, secret = keys["deployer"]
    code, out, took = run_binary(binary, proxy.url, key, secret)
    records = proxy.take()
    report.check(code == 0, f"deploy as deployer exits 0 ({took:.1f} s)",
                 f"exit status {code}", out)
    report.check(secret not in out, "deploy output does not contain the secret key")

    problems = signing_problems(records)
    report.check(records and not problems,
                 f"deploy requests are SigV4 for {REGION}/ecs with host, x-amz-date, "
                 f"x-amz-target signed ({', '.join(ops(records)) or 'none'})",
                 "; ".join(problems) or "no request reached the server")

    # Verify as deployer: auth stays on, and these two calls are in its policy.
    ecs = boto("ecs", moto.url, key, secret)
    try:
        td = ecs.describe_task_definition(taskDefinition=f"{FAMILY}:2")["taskDefinition"]
        images = {c["name"]: c["image"] for c in td["containerDefinitions"]}
        report.check(images == {"app": NEW_IMAGE, "sidecar": SIDECAR_IMAGE},
                     f"{FAMILY}:2 runs app={NEW_IMAGE}, sidecar={SIDECAR_IMAGE}",
                     f"containers are {images}")
    except Exception as e:  # noqa: BLE001 - any failure is a failed check
        report.check(False, f"{FAMILY}:2 was registered", f"{error_code(e)}: {e}")
    try:
        svc = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
        # moto stores the string UpdateService was given, so accept the short form.
        want = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{FAMILY}:2"
        report.check(svc["taskDefinition"] in (want, f"{FAMILY}:2") and svc["desiredCount"] == 0,
                     f"service {SERVICE} points at {FAMILY}:2 with desired count 0",
                     f"taskDefinition={svc['taskDefinition']} desiredCount={svc['desiredCount']}")
    except Exception as e:  # noqa: BLE001
        report.check(False, f"service {SERVICE} can be described", f"{error_code(e)}: {e}")


def check_refused(report, binary, proxy, label, key, secret, expect_code, denied_op, secrets):
    """A run AWS refuses: exit 2, the real error code shown, no secret shown,
    and the refused call made once (the design says auth errors are not retried)."""
    code, out, took = run_binary(binary, proxy.url, key, secret)
    records = proxy.take()
    shown = False

    def check(ok, what, detail=""):
        nonlocal shown
        ok = report.check(ok, what, detail, None if shown else out)
        shown = shown or not ok

    check(code == 2, f"{label} exits 2 ({took:.1f} s)", f"exit status {code}")
    check(expect_code in out, f"{label} output names {expect_code}")
    leaked = [s for s in secrets if s in out]
    check(not leaked, f"{label} output does not contain a secret key",
          f"{len(leaked)} secret(s) printed")
    tries = ops(records).count(denied_op)
    refused = [r["status"] for r in records if r["status"] == 403]
    check(tries == 1 and len(refused) == 1,
          f"{label}: {denied_op} refused once, not retried",
          f"{tries} {denied_op} request(s), {len(refused)} refused; calls: {', '.join(ops(records))}")


def check_nothing_registered(report, moto, keys):
    ecs = boto("ecs", moto.url, *keys["deployer"])
    try:
        arns = ecs.list_task_definitions(familyPrefix=FAMILY, status="ACTIVE")["taskDefinitionArns"]
        revs = sorted(int(a.rsplit(":", 1)[1]) for a in arns)
        report.check(revs == [1, 2], "refused runs registered no task definition",
                     f"ACTIVE revisions of {FAMILY}: {revs}")
    except Exception as e:  # noqa: BLE001
        report.check(False, "task definitions can be listed", f"{error_code(e)}: {e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="path to the ecs-deploy binary")
    parser.add_argument("--moto-server", default=shutil.which("moto_server"),
                        help="moto_server executable (default: from PATH)")
    opts = parser.parse_args()

    if not opts.moto_server:
        print("moto-check: moto_server not found on PATH; install it with "
              "pip install 'moto[server]'", file=sys.stderr)
        return 1
    try:
        import boto3  # noqa: F401
    except ImportError:
        print("moto-check: boto3 is missing; install it with pip install 'moto[server]'",
              file=sys.stderr)
        return 1
    binary = os.path.abspath(opts.binary)
    if not os.access(binary, os.X_OK):
        print(f"moto-check: {opts.binary} is not an executable file (cargo build first)",
              file=sys.stderr)
        return 1

    # CI cancelling the job (SIGTERM) must stop moto_server just like Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    report = Report()
    moto = MotoServer(opts.moto_server)
    proxy = None
    try:
        moto.start()
        keys = set_up(moto.url)
        enable_auth(moto.url)
        # Everything below depends on auth really being on: the deployer may
        # not list clusters, so this must be refused.
        try:
            boto("ecs", moto.url, *keys["deployer"]).list_clusters()
            denied = "allowed"
        except Exception as e:  # noqa: BLE001
            denied = error_code(e)
        if not report.check(denied == "AccessDenied",
                            "moto auth is on (deployer is refused ecs:ListClusters)",
                            f"got {denied}"):
            return 1

        proxy = RecordingProxy(moto.port)
        proxy.start()
        deployer_key, deployer_secret = keys["deployer"]
        nobody_key, nobody_secret = keys["nobody"]
        # A plausible wrong secret: same length and alphabet as a real one.
        wrong = deployer_secret[:-4] + ("AAAA" if not deployer_secret.endswith("AAAA") else "BBBB")

        check_deploy(report, binary, moto, proxy, keys)
        check_refused(report, binary, proxy, "wrong secret", deployer_key, wrong,
                      "SignatureDoesNotMatch", "DescribeServices",
                      [wrong, deployer_secret])
        check_refused(report, binary, proxy, "user without ecs:DescribeTaskDefinition",
                      nobody_key, nobody_secret, "AccessDenied", "DescribeTaskDefinition",
                      [nobody_secret])
        check_nothing_registered(report, moto, keys)
    except KeyboardInterrupt:
        print("moto-check: interrupted", file=sys.stderr)
        report.failed += 1
    except Exception as e:  # noqa: BLE001 - setup trouble is a failure, not a traceback
        report.check(False, "moto setup", f"{type(e).__name__}: {e}")
    finally:
        if proxy is not None:
            proxy.stop()
        moto.stop()
        print(f"moto-check: {report.passed} passed, {report.failed} failed", flush=True)
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
