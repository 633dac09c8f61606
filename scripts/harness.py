"""Shared pieces of the scripts that drive the real ecs-deploy binary against
moto_server and small fakes on loopback: bench.py, empty_root_check.py,
moto_check.py and proxy_check.py; bench.py also runs the project's fake ECS
as a process (FakeEcsServer) behind a front that adds round trips
(LatencyFront).

Rules every piece keeps: servers listen on 127.0.0.1 only, the proxy and the
TLS front connect to loopback only, every wait and loop has a deadline, and
every server and process started here is stopped by whoever started it
(`with` blocks or stop()).

Needs Python 3.9+; `pip install 'moto[server]'` brings moto_server, boto3 and
cryptography (used for the throwaway CA).
"""

import argparse
import contextlib
import datetime
import http.client
import ipaddress
import json
import os
import select
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
RUN_TIMEOUT_S = 90  # guards against a hang; a healthy run takes well under a second

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

IMDS_TOKEN_PATH = "/latest/api/token"
IMDS_CREDS_PATH = "/latest/meta-data/iam/security-credentials/"
IMDS_REGION_PATH = "/latest/meta-data/placement/region"
IMDS_TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
IMDS_TOKEN_HEADER = "x-aws-ec2-metadata-token"
IMDS_ROLE = "ecs-deploy-instance"  # what the fake IMDS lists; any name works
CONTAINER_CREDS_PATH = "/creds"


# --- reporting ---------------------------------------------------------------

class Report:
    """`ok …` / `FAIL …` lines and the closing `<name>: N passed, M failed`."""

    def __init__(self, name="check"):
        self.name = name
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

    def summary(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


def indent(text):
    return "\n".join("     | " + line for line in text.rstrip("\n").splitlines())


@contextlib.contextmanager
def reported(report, what="setup"):
    """Ctrl-C (or SIGTERM, see die_on_sigterm) and setup trouble inside the
    block become a failure in `report`, not a traceback. Put it inside the
    `with` that stops the servers, so the failure is printed first."""
    try:
        yield
    except KeyboardInterrupt:
        print(f"{report.name}: interrupted", file=sys.stderr)
        report.failed += 1
    except Exception as e:  # noqa: BLE001 - setup trouble is a failure, not a traceback
        report.check(False, what, f"{type(e).__name__}: {e}")


def die_on_sigterm():
    """CI cancelling the job (SIGTERM) must stop our servers just like Ctrl-C."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


# --- prerequisites -----------------------------------------------------------

def argument_parser(doc, binary_help="path to the ecs-deploy binary"):
    """The options every script takes: --binary and --moto-server; the
    description is the first paragraph of `doc`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help=binary_help)
    parser.add_argument("--moto-server", default=shutil.which("moto_server"),
                        help="moto_server executable (default: from PATH)")
    return parser


def parse_args(name, parser):
    """(options, the binary's absolute path), once moto is known to be
    installed; from then on SIGTERM stops the script like Ctrl-C."""
    opts = parser.parse_args()
    require_moto(name, opts.moto_server)
    binary = executable(opts.binary, name)
    die_on_sigterm()
    return opts, binary


def executable(path, name):
    """The absolute path of `path` if it is an executable file, else exit with
    a message naming `name`'s usual fix."""
    full = os.path.abspath(path)
    if not (os.path.isfile(full) and os.access(full, os.X_OK)):
        sys.exit(f"{name}: {path} is not an executable file (build it first)")
    return full


def require_moto(name, moto_server):
    """moto_server and boto3 present, or exit with the install command."""
    try:
        import boto3  # noqa: F401
        import cryptography  # noqa: F401
    except ImportError as e:
        sys.exit(f"{name}: {e.name} is missing; install it with pip install 'moto[server]'")
    if not moto_server:
        sys.exit(f"{name}: moto_server not found on PATH; install it with "
                 "pip install 'moto[server]'")


def elf_interpreter(path):
    """The PT_INTERP (dynamic loader) of an ELF executable, '' for a static
    one, None when the file is not a 64-bit little-endian ELF."""
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None
        phoff, = struct.unpack_from("<Q", head, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        for i in range(min(phnum, 256)):
            f.seek(phoff + i * phentsize)
            p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack(
                "<IIQQQQ", f.read(40))
            if p_type == 3:  # PT_INTERP
                f.seek(p_offset)
                return f.read(min(p_filesz, 4096)).rstrip(b"\0").decode(errors="replace")
    return ""


# --- processes ---------------------------------------------------------------

def free_port():
    # Small race with other processes grabbing the port; fine for CI.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def environment(base, **overrides):
    """`base` with `overrides` applied; an override set to None removes the
    variable."""
    env = dict(base, **overrides)
    return {k: v for k, v in env.items() if v is not None}


def run_binary(binary, args, env, timeout=RUN_TIMEOUT_S, prefix=(), home=None,
               stdout_path=None):
    """Run `prefix + [binary, *args]` with `env` as its whole environment plus
    HOME (a fresh empty directory unless `home` is given), so no profile,
    proxy variable or real credential of the machine leaks in. Returns
    (exit code or None when killed, stdout+stderr text, seconds); with
    `stdout_path`, stdout goes to that file instead and the text is stderr's."""
    with tempfile.TemporaryDirectory() as fresh, contextlib.ExitStack() as files:
        env = dict(env, HOME=home or fresh)
        stdout = (files.enter_context(open(stdout_path, "wb")) if stdout_path
                  else subprocess.PIPE)
        started = time.monotonic()
        # Own process group: on a hang, Ctrl-C or SIGTERM we kill the binary
        # and anything it started, instead of leaving it running.
        proc = subprocess.Popen([*prefix, binary, *args], env=env, cwd=fresh,
                                stdin=subprocess.DEVNULL, stdout=stdout,
                                stderr=subprocess.PIPE if stdout_path else subprocess.STDOUT,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            code, out = None, (out or b"") + f"\n[killed after {timeout} s]".encode()
        finally:
            kill_group(proc)
        text = (err or b"") + (out or b"") if stdout_path else out
        return code, text.decode(errors="replace"), time.monotonic() - started


class Started:
    """`with x:` starts x (giving what start() returns) and stops it when the
    block is left, however it is left."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class MotoServer(Started):
    """moto_server (plain HTTP) on a free loopback port, in its own session, so
    Ctrl-C in a terminal reaches us first and the server is stopped by us,
    never left behind."""

    def __init__(self, exe):
        self.exe = exe
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = tempfile.TemporaryFile()

    def start(self, wait_s=30):
        self.proc = subprocess.Popen(
            [self.exe, "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            self._wait_until_serving(wait_s)
        except BaseException:
            # Also on Ctrl-C while waiting: a `with` block whose start()
            # raised never calls stop().
            self.stop()
            raise
        return self

    def _wait_until_serving(self, wait_s):
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


# --- AWS objects in moto -----------------------------------------------------

def boto(service, endpoint, key="testing", secret="testing", verify=None):
    import boto3

    return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id=key, aws_secret_access_key=secret, verify=verify)


def container(name, image, memory, essential=True, **extra):
    return dict({"name": name, "image": image, "memory": memory, "essential": essential},
                **extra)


def create_service(endpoint, cluster, service, family, containers, desired=0):
    """A cluster, a task definition `family:1` with `containers` and a service
    running it. With desired count 0 a deploy is done right after
    UpdateService (moto does not roll deployments forward)."""
    ecs = boto("ecs", endpoint)
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(family=family, containerDefinitions=containers)
    ecs.create_service(cluster=cluster, serviceName=service,
                       taskDefinition=f"{family}:1", desiredCount=desired)


def ecr_push(endpoint, image, key="testing", secret="testing"):
    """Puts `image` (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG, its
    repository created in moto) into moto's ECR, as CI pushes an image before
    deploying it: ecs-deploy checks that the image is there before it
    registers anything. Each image gets a manifest (and so a digest) of its
    own."""
    import hashlib

    repository, tag = image.split("/", 1)[1].rsplit(":", 1)
    layer = "sha256:" + hashlib.sha256(image.encode()).hexdigest()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": 1469, "digest": layer},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 31357624, "digest": layer}],
    })
    boto("ecr", endpoint, key, secret).put_image(repositoryName=repository,
                                                 imageManifest=manifest, imageTag=tag)


def service_state(endpoint, cluster, service):
    """(task definition the service runs, its desired count, {container: image})."""
    ecs = boto("ecs", endpoint)
    svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return (svc["taskDefinition"], svc["desiredCount"],
            {c["name"]: c["image"] for c in td["containerDefinitions"]})


def active_revisions(endpoint, family, key="testing", secret="testing"):
    """The ACTIVE revision numbers of `family`, lowest first, read with the
    given keys (moto with auth on checks them)."""
    arns = boto("ecs", endpoint, key, secret).list_task_definitions(
        familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    return sorted(int(arn.rsplit(":", 1)[1]) for arn in arns)


def revision_count(endpoint, family):
    return len(active_revisions(endpoint, family))


# The service every script deploys to: three containers, of which only `app`
# uses the repository that is deployed.
CLUSTER = "ci"
SERVICE = "web"
FAMILY = "web"
REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop/web"
SIDECARS = {"proxy": "public.ecr.aws/nginx/nginx:1.27",
            "log-router": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4"}


def three_containers(image):
    return [
        container("app", image, 512, portMappings=[{"containerPort": 8080}],
                  environment=[{"name": "PORT", "value": "8080"}],
                  logConfiguration={"logDriver": "awsfirelens"}),
        container("proxy", SIDECARS["proxy"], 128, portMappings=[{"containerPort": 80}],
                  dependsOn=[{"containerName": "app", "condition": "START"}]),
        container("log-router", SIDECARS["log-router"], 64, essential=False,
                  firelensConfiguration={"type": "fluentbit"}),
    ]


class WebService:
    """The fixture service in moto (desired count 0) and the images deployed
    to it: each deploy gets a new tag, so each must register a revision. Each
    new image is pushed to moto's ECR first."""

    def __init__(self, moto_url):
        self.moto_url = moto_url
        self.tag = 1
        create_service(moto_url, CLUSTER, SERVICE, FAMILY, three_containers(f"{REPO}:v1"))
        boto("ecr", moto_url).create_repository(repositoryName=REPO.split("/", 1)[1])
        ecr_push(moto_url, f"{REPO}:v1")

    def next_image(self):
        self.tag += 1
        image = f"{REPO}:v{self.tag}"
        ecr_push(self.moto_url, image)
        return image

    @staticmethod
    def deploy_args(endpoint, image, region=REGION):
        """What a user types, plus the endpoint (and -r unless region is None)."""
        args = ["-c", CLUSTER, "-n", SERVICE, "-i", image, "-D", "0",
                "--endpoint-url", endpoint, "-t", "30", "--poll-interval", "0.2"]
        return args + (["-r", region] if region else [])

    @staticmethod
    def endpoint_env(endpoint):
        """The environment that sends ECR (the image check) and CloudWatch
        Logs to `endpoint` too: --endpoint-url sets ECS's only, and without
        this they would go to AWS."""
        return {"AWS_ENDPOINT_URL": endpoint}

    def runs(self, image):
        """'' when the service runs a revision with `image` in `app` and the
        sidecars untouched, else what is wrong."""
        try:
            td, desired, images = service_state(self.moto_url, CLUSTER, SERVICE)
        except Exception as e:  # noqa: BLE001 - reported, not raised
            return f"cannot read the service: {type(e).__name__}: {e}"
        want = dict(SIDECARS, app=image)
        if images != want or desired != 0:
            return f"service runs {td} (desired {desired}) with {images}"
        return ""


# --- a throwaway CA ----------------------------------------------------------

def make_tls_files(directory, hosts=("localhost",), ips=("127.0.0.1", "::1")):
    """A CA and a server certificate for `hosts` and `ips`, valid for a day,
    written to `directory` as ca.pem, server.pem, server.key. Returns
    (ca, cert, key) paths. The key never leaves the directory, which the
    caller deletes."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def usage(**on):
        names = ("digital_signature", "content_commitment", "key_encipherment",
                 "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                 "encipher_only", "decipher_only")
        return x509.KeyUsage(**{n: on.get(n, False) for n in names})

    def builder(subject, issuer, public_key):
        return (x509.CertificateBuilder()
                .subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                               critical=False))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            f"ecs-deploy throwaway test CA {uuid.uuid4().hex[:8]}")])
    ca = (builder(ca_name, ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(digital_signature=True, key_cert_sign=True, crl_sign=True),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(h) for h in hosts] + [x509.IPAddress(ipaddress.ip_address(i))
                                                for i in ips]
    cert = (builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]), ca_name,
                    key.public_key())
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))

    paths = [os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")]
    pem = serialization.Encoding.PEM
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(os.open(paths[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


# --- byte-level servers: TLS front and CONNECT proxy -------------------------

IDLE_S = 30       # a tunnel with no traffic for this long is closed
CONN_LIFE_S = 120  # no connection lives longer than this


def pipe(a, b, idle=IDLE_S, life=CONN_LIFE_S):
    """Copy bytes both ways between sockets `a` and `b` until one side closes,
    nothing moves for `idle` seconds, or `life` seconds have passed."""
    deadline = time.monotonic() + life
    socks = (a, b)
    while time.monotonic() < deadline:
        # Decrypted bytes an SSLSocket holds are invisible to select().
        ready = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not ready:
            ready, _, _ = select.select(socks, [], [], idle)
            if not ready:
                return
        for s in ready:
            try:
                data = s.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except OSError:
                return
            if not data:
                return
            try:
                (b if s is a else a).sendall(data)
            except OSError:
                return


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Background(Started):
    """A socketserver bound to 127.0.0.1, served from a daemon thread between
    start() and stop() (or a `with` block), that keeps a list of what its
    handlers saw; its handlers reach it as `self.server.owner`."""

    def __init__(self, server):
        self.records = []
        self.lock = threading.Lock()
        self.server = server
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.2}, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def keep(self, record):
        with self.lock:
            self.records.append(record)

    def take(self):
        """What was kept since the last take(), oldest first."""
        with self.lock:
            records, self.records = self.records, []
        return records


class ByteServer(Background):
    """A threaded TCP server on 127.0.0.1 that keeps a list of events."""

    def __init__(self, handler):
        super().__init__(_TcpServer(("127.0.0.1", 0), handler))

    def record(self, event):
        self.keep(event)


class _TlsFrontHandler(socketserver.BaseRequestHandler):
    def handle(self):
        owner = self.server.owner
        self.request.settimeout(10)
        try:
            tls = owner.context.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            owner.record(("handshake failed", getattr(e, "reason", None) or str(e)))
            return
        owner.record(("handshake ok", tls.version()))
        with tls, socket.create_connection(("127.0.0.1", owner.upstream_port),
                                           timeout=10) as upstream:
            pipe(tls, upstream)


class TlsFront(ByteServer):
    """https://127.0.0.1:PORT in front of a plain HTTP server on loopback
    (moto_server): terminates TLS with the given certificate and copies the
    bytes through. Records each handshake as ("handshake ok", version) or
    ("handshake failed", reason)."""

    def __init__(self, upstream_port, cert, key):
        self.upstream_port = upstream_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        super().__init__(_TlsFrontHandler)
        self.url = f"https://127.0.0.1:{self.port}"


def _read_head(sock, limit=65536, timeout=10):
    """The bytes up to and including the blank line ending an HTTP head, and
    whatever came after it."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > limit:
            raise ValueError("request head too large")
        chunk = sock.recv(4096)
        if not chunk:
            raise ValueError("connection closed before the request head ended")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def _split_host_port(authority, default_port):
    if authority.startswith("["):
        host, _, port = authority[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    return host, int(port or default_port)


class _ProxyHandler(socketserver.BaseRequestHandler):
    def refuse(self, status):
        self.request.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n"
                             "Connection: close\r\n\r\n".encode())

    def handle(self):
        owner = self.server.owner
        try:
            head, rest = _read_head(self.request)
        except (ValueError, OSError):
            return
        lines = head.split("\r\n")
        method, target, _version = (lines[0].split(" ") + ["", ""])[:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        owner.record({"method": method, "target": target, "headers": headers})
        if owner.refusing:
            return self.refuse("403 Forbidden")
        if method == "CONNECT":
            host, port = _split_host_port(target, 443)
            path = None
        else:
            url = urllib.parse.urlsplit(target)
            if url.scheme != "http" or not url.hostname:
                return self.refuse("400 Bad Request")
            host, port = url.hostname, url.port or 80
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        # A test proxy: it reaches loopback and the names it was given
        # (which lead to loopback too), nothing else.
        if f"{host}:{port}" in owner.routes:
            address = owner.routes[f"{host}:{port}"]
        elif host in LOOPBACK_HOSTS:
            address = ("::1" if ":" in host else "127.0.0.1", port)
        else:
            return self.refuse("403 Forbidden")
        try:
            upstream = socket.create_connection(address, timeout=10)
        except OSError:
            return self.refuse("502 Bad Gateway")
        with upstream:
            if path is None:
                self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                # Origin form, one request per connection, no proxy headers.
                kept = [line for line in lines[1:]
                        if line.partition(":")[0].strip().lower()
                        not in ("proxy-authorization", "proxy-connection", "connection")]
                upstream.sendall("\r\n".join([f"{method} {path} HTTP/1.1", *kept,
                                              "Connection: close", "", ""]).encode("latin-1"))
            if rest:
                upstream.sendall(rest)
            pipe(self.request, upstream)


class ConnectProxy(ByteServer):
    """An HTTP proxy on 127.0.0.1: CONNECT tunnels and absolute-form requests
    (GET http://host:port/…), to loopback targets and to the names in
    `routes` ({"name:port": ("127.0.0.1", port)}) only, as a corporate proxy
    resolves names its clients cannot. Records every request as {"method",
    "target", "headers"} before acting on it; answers 403 to everything
    while `refusing` is set."""

    def __init__(self, routes=None):
        self.routes = dict(routes or {})
        self.refusing = False
        super().__init__(_ProxyHandler)
        self.url = f"http://127.0.0.1:{self.port}"


# --- HTTP fakes: instance metadata and container credentials -----------------

class Handler(BaseHTTPRequestHandler):
    """Base for the loopback HTTP servers below: quiet, keep-alive, and able
    to read chunked bodies (a client may send them; http.server does not)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    @property
    def owner(self):
        return self.server.owner

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            for _ in range(100000):  # bounded: at most this many chunks
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    for _ in range(100):
                        if self.rfile.readline() in (b"\r\n", b"\n", b""):
                            break
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
            return body
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status, body, content_type="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.owner.record(method=self.command, path=self.path, status=status,
                          headers={k.lower(): v for k, v in self.headers.items()})


class LoopbackServer(Background):
    """A threaded HTTP server on 127.0.0.1 that remembers the requests it got."""

    def __init__(self, handler):
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        super().__init__(server)
        self.url = f"http://127.0.0.1:{self.port}"

    def record(self, **fields):
        self.keep(fields)


class ImdsHandler(Handler):
    # IMDSv2 only (HttpTokens=required), as hardened instances are configured:
    # without a valid token every metadata read is 401.
    def do_PUT(self):
        self.read_body()
        if self.path != IMDS_TOKEN_PATH:
            return self.answer(404, "Not Found")
        if not self.headers.get(IMDS_TTL_HEADER, "").isdigit():
            return self.answer(400, "Bad Request")
        token = uuid.uuid4().hex
        self.owner.tokens.add(token)
        self.answer(200, token)

    def do_GET(self):
        self.read_body()
        if self.headers.get(IMDS_TOKEN_HEADER) not in self.owner.tokens:
            return self.answer(401, "Unauthorized")
        if self.path == IMDS_REGION_PATH and self.owner.region:
            return self.answer(200, self.owner.region)
        if self.path == IMDS_CREDS_PATH:
            return self.answer(200, IMDS_ROLE)
        if self.path == IMDS_CREDS_PATH + IMDS_ROLE:
            return self.answer(200, json.dumps(dict(
                self.owner.creds, Code="Success", Type="AWS-HMAC",
                LastUpdated=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))))
        self.answer(404, "Not Found")


class FakeImds(LoopbackServer):
    """IMDSv2 serving `creds` ({AccessKeyId, SecretAccessKey, Token,
    Expiration}) for one role, and `region` if given."""

    def __init__(self, creds, region=None):
        self.creds = creds
        self.region = region
        self.tokens = set()
        super().__init__(ImdsHandler)


class ContainerHandler(Handler):
    def do_GET(self):
        self.read_body()
        if self.path != CONTAINER_CREDS_PATH:
            return self.answer(404, "Not Found")
        if self.headers.get("Authorization") != self.owner.auth_token:
            return self.answer(403, json.dumps({"code": "AccessDenied",
                                                "message": "bad Authorization"}),
                               "application/json")
        self.answer(200, json.dumps(self.owner.creds), "application/json")


class FakeContainerCredentials(LoopbackServer):
    """What ECS/EKS Pod Identity agents serve at AWS_CONTAINER_CREDENTIALS_FULL_URI."""

    def __init__(self, creds, auth_token):
        self.creds = creds
        self.auth_token = auth_token
        super().__init__(ContainerHandler)


def temporary_credentials(hours=1):
    """Made-up temporary credentials in the JSON shape IMDS and the container
    endpoint serve. moto with auth off (its default) accepts any key."""
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)
    return {"AccessKeyId": "ASIA" + uuid.uuid4().hex[:16].upper(),
            "SecretAccessKey": uuid.uuid4().hex + uuid.uuid4().hex[:8],
            "Token": "FQoG" + uuid.uuid4().hex * 4,
            "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}


def http_get(url, timeout=5, cafile=None, method="GET", headers=None):
    """(status, body bytes) of a request (a GET unless `method` says else;
    a PUT sends an empty body); used to probe the fakes."""
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=b"" if method == "PUT" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# --- the fake ECS as a process, and a front that adds round trips -----------

class FakeEcsServer(Started):
    """fake-ecs-server (fake-ecs/src/bin/fake-ecs-server.rs: the fake the
    tests use, as a process) with `args`, e.g. ("--services", "10",
    "--desired", "2", "--complete-after", "2"). Once started: `url`, `port`
    and the `access_key`/`secret_key` it accepts; stats() is its JSON answer
    to `stats` (requests by operation and each service as it stands), and
    push(image) puts an image into its ECR."""

    def __init__(self, exe, *args):
        self.argv = [exe, *args]
        self.proc = None
        self.log = tempfile.TemporaryFile()
        self.url = self.port = self.access_key = self.secret_key = None

    def start(self, wait_s=30):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, start_new_session=True)
        try:
            ready = self._line(wait_s)
        except BaseException:
            self.stop()
            raise
        self.url, self.access_key, self.secret_key = (
            ready["url"], ready["access_key"], ready["secret_key"])
        self.port = urllib.parse.urlsplit(self.url).port
        return self

    def _line(self, wait_s):
        """The server's next line of JSON, within `wait_s` seconds."""
        ready, _, _ = select.select([self.proc.stdout], [], [], wait_s)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.log.seek(0)
            raise RuntimeError(f"{self.argv[0]} did not answer within {wait_s} s:\n"
                               + self.log.read().decode(errors="replace"))
        return json.loads(line)

    def command(self, line, wait_s=30):
        """The server's JSON answer to one command line."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._line(wait_s)

    def stats(self, wait_s=30):
        return self.command("stats", wait_s)

    def push(self, image):
        """Pushes `image` (a repository of the fake's registry, with a tag) to
        the fake's ECR, as CI pushes an image before deploying it: ecs-deploy
        checks that it is there before it registers anything."""
        answer = self.command(f"push {image}")
        if "digest" not in answer:
            raise RuntimeError(f"fake-ecs-server did not push {image}: {answer}")
        return answer["digest"]

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.close()  # the end of its input stops it
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            kill_group(self.proc)


# Headers that belong to one connection, not to the request or answer.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade", "content-length"}


def relay(handler, upstream_port, body, timeout=60, before_answering=None):
    """Sends the request `handler` (a Handler) is answering, with `body`, to
    the plain HTTP server at 127.0.0.1:`upstream_port`, and that server's
    answer back to the client, headers as they came (the Host header too: it
    is signed). A fresh upstream connection each time: on loopback it costs
    microseconds, and none can go stale between a client's requests.
    `before_answering(status, answer body)` runs before the client can see
    the answer, so what it records is there once the client has exited.
    Returns (status, answer body)."""
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
    upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=timeout)
    try:
        upstream.request(handler.command, handler.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
    finally:
        upstream.close()
    if before_answering:
        before_answering(answer.status, data)
    handler.send_response_only(answer.status, answer.reason)
    for name, value in answer.getheaders():
        if name.lower() not in HOP_BY_HOP:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
    return answer.status, data


class _LatencyHandler(Handler):
    timeout = 60  # a connection idle this long is closed
    # An answer's head and body are two writes: with Nagle's algorithm the
    # body would wait for the client's delayed ACK of the head (40 ms).
    disable_nagle_algorithm = True

    def handle(self):
        owner = self.owner
        self.connection_number = owner.opened()
        time.sleep(owner.rtt)  # the round trip of the TCP handshake
        super().handle()

    def forward(self):
        owner = self.owner
        body = self.read_body()
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        in_flight = owner.arrived()
        try:
            owner.keep({"t": time.monotonic(), "at": time.time(),
                        "connection": self.connection_number, "operation": operation,
                        "in_flight": in_flight})
            time.sleep(owner.rtt)  # the request's round trip
            relay(self, owner.upstream_port, body)
        finally:
            owner.answered()

    do_GET = do_POST = do_PUT = forward


class _LatencyServer(ThreadingHTTPServer):
    daemon_threads = True
    # A client with a pool opens several connections at once: past a full
    # listen queue Linux drops the SYN, and the client tries again a second
    # later, which would be counted as round trips.
    request_queue_size = 128


class LatencyFront(Background):
    """http://127.0.0.1:PORT in front of a plain HTTP server on loopback that
    keeps connections alive and adds `rtt` seconds to each new connection
    (its handshake) and to each request, as a network `rtt` away would. Each
    connection has a thread of its own, so requests on several connections
    are in flight at once, as they would be on the network. Records every
    request as {"t" (time.monotonic()), "at" (time.time()), "connection" (1,
    2, … in the order they were opened), "operation" (the X-Amz-Target's
    operation), "in_flight" (the requests it held when this one arrived, this
    one included, until their answers were sent: the most of a run is the
    most at once)}; take() hands them over."""

    def __init__(self, upstream_port, rtt=0.0):
        self.upstream_port = upstream_port
        self.rtt = rtt
        self.connections = 0
        self.in_flight = 0
        super().__init__(_LatencyServer(("127.0.0.1", 0), _LatencyHandler))
        self.url = f"http://127.0.0.1:{self.port}"

    def opened(self):
        """Counts a new connection; its number."""
        with self.lock:
            self.connections += 1
            return self.connections

    def arrived(self):
        """Counts a request in flight; how many are, this one included."""
        with self.lock:
            self.in_flight += 1
            return self.in_flight

    def answered(self):
        """A request's answer is sent (or failed): one fewer in flight."""
        with self.lock:
            self.in_flight -= 1


# --- the machine and its tools ----------------------------------------------

def machine():
    """'N CPUs, <model>' for result tables."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    return f"{cpus} CPU{'s' if cpus != 1 else ''} (nproc), {model}"


def which(name):
    """The real executable behind `name` on PATH: pyenv shims re-exec through
    a bash script, which would add its own start-up time to a benchmark."""
    found = shutil.which(name)
    if found and "/.pyenv/shims/" in found:
        try:
            real = subprocess.run(["pyenv", "which", name], capture_output=True, text=True,
                                  timeout=30).stdout.strip()
            if real and os.access(real, os.X_OK):
                return real
        except (OSError, subprocess.TimeoutExpired):
            pass
    return found
