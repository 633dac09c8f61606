#!/usr/bin/env python3
"""Check that ecs-deploy sends AWS calls through HTTPS_PROXY/HTTP_PROXY, honours
NO_PROXY, and never sends instance-metadata or container-credential requests
through a proxy.

A small HTTP proxy on 127.0.0.1 (CONNECT tunnels and absolute-form requests,
to loopback only) records every request it gets. The fake ECS is moto_server,
reached over HTTPS through a TLS front with a throwaway CA (trusted with
AWS_CA_BUNDLE) or over plain HTTP. Each run deploys a new image (pushed to
moto's ECR first, and checked there by ecs-deploy through the same endpoint
and proxy as ECS: AWS_ENDPOINT_URL) and must leave the service running it.
Checked:

- HTTPS_PROXY (and https_proxy): every connection is `CONNECT 127.0.0.1:PORT`
  of the TLS front, and the deploy succeeds; user:password in the proxy URL
  becomes a Proxy-Authorization header; an endpoint whose name only the
  proxy can resolve (ecs.proxy-only.invalid, which never resolves anywhere
  else) works, as behind a corporate proxy;
- a proxy that refuses the CONNECT (403) fails the run with exit 2 and is
  never bypassed: the endpoint gets no connection;
- NO_PROXY=127.0.0.1 (and no_proxy): the proxy sees nothing;
- with every proxy variable set, an http:// (loopback) endpoint is reached
  directly: signed requests never cross a proxy in clear text;
- with HTTP_PROXY, HTTPS_PROXY and ALL_PROXY set (both cases), credentials
  and region from a fake IMDSv2, and credentials from a fake container
  endpoint, are fetched directly: the fakes get the requests, the proxy sees
  only the ECS tunnel.

reqwest (0.12, through hyper-util's matcher) does not bypass loopback by
itself, so a loopback endpoint is a fair test of the proxy path; only
NO_PROXY exempts hosts, matched against the host as written in the URL.

    python3 scripts/proxy_check.py --binary target/debug/ecs-deploy

Exit status 0 when every check passed, 1 otherwise. Every server listens on
127.0.0.1 and is stopped on exit.
"""

import base64
import contextlib
import dataclasses
import sys
import tempfile
import uuid

import harness as h

NAME = "proxy-check"
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
# .invalid never resolves (RFC 6761): only our proxy knows where it leads.
PROXY_ONLY_HOST = "ecs.proxy-only.invalid"


@dataclasses.dataclass
class Checks:
    report: h.Report
    binary: str
    web: h.WebService
    front: h.TlsFront
    proxy: h.ConnectProxy
    ca: str  # the throwaway CA's PEM file

    def env(self, **overrides):
        """Keys, IMDS off and our CA, unless overridden (None removes)."""
        return h.environment({"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true",
                              "AWS_ACCESS_KEY_ID": "testing",
                              "AWS_SECRET_ACCESS_KEY": "testing",
                              "AWS_CA_BUNDLE": self.ca}, **overrides)

    def deploy(self, label, env, endpoint=None, region=h.REGION):
        """One deploy that must succeed; returns what the proxy recorded."""
        self.proxy.take()
        image = self.web.next_image()
        endpoint = endpoint or self.front.url
        code, out, took = h.run_binary(self.binary, self.web.deploy_args(
            endpoint, image, region) + ["-v"], dict(env, **self.web.endpoint_env(endpoint)))
        wrong = self.web.runs(image)
        self.report.check(code == 0 and not wrong,
                          f"{label}: deploy exits 0 and the service runs "
                          f"{image.rsplit('/', 1)[1]} ({took:.2f} s)",
                          f"exit {code}; {wrong}", out)
        unchecked = [line for line in out.splitlines() if "could not check" in line]
        self.report.check(not unchecked, f"{label}: the image check was answered by moto's ECR "
                          "(no 'could not check' line)", "; ".join(unchecked))
        return self.proxy.take()

    def tunnelled(self, label, seen, auth=None, target=None):
        target = target or f"127.0.0.1:{self.front.port}"
        lines = [f"{r['method']} {r['target']}" for r in seen]
        self.report.check(seen and all(line == f"CONNECT {target}" for line in lines),
                          f"{label}: the proxy saw only CONNECT {target} ({len(seen)}x)",
                          f"saw {lines or 'nothing'}")
        if auth:
            want = "Basic " + base64.b64encode(auth.encode()).decode()
            got = {r["headers"].get("proxy-authorization") for r in seen}
            self.report.check(got == {want}, f"{label}: each CONNECT carried "
                              "Proxy-Authorization from the proxy URL", f"got {got}")

    def untouched(self, label, seen):
        self.report.check(not seen, f"{label}: the proxy saw nothing",
                          f"saw {[r['method'] + ' ' + r['target'] for r in seen]}")


def check_proxy_variables(c, moto_url):
    for variable in ("HTTPS_PROXY", "https_proxy"):
        label = f"{variable}=proxy"
        c.tunnelled(label, c.deploy(label, c.env(**{variable: c.proxy.url})))

    auth = "deployer:s3cret"
    label = "HTTPS_PROXY with user:password"
    c.tunnelled(label, c.deploy(label, c.env(
        HTTPS_PROXY=c.proxy.url.replace("://", f"://{auth}@"))), auth)

    label = f"HTTPS_PROXY=proxy, endpoint https://{PROXY_ONLY_HOST}"
    c.tunnelled(label, c.deploy(label, c.env(HTTPS_PROXY=c.proxy.url),
                                endpoint=f"https://{PROXY_ONLY_HOST}"),
                target=f"{PROXY_ONLY_HOST}:443")

    label = "HTTPS_PROXY=a proxy that refuses CONNECT"
    revisions = h.revision_count(c.web.moto_url, h.FAMILY)
    c.front.take()
    c.proxy.refusing = True
    try:
        code, out, took = h.run_binary(c.binary, c.web.deploy_args(
            c.front.url, c.web.next_image()), c.env(
                HTTPS_PROXY=c.proxy.url.replace("://", f"://{auth}@"),
                **c.web.endpoint_env(c.front.url)))
    finally:
        c.proxy.refusing = False
    seen = [f"{r['method']} {r['target']}" for r in c.proxy.take()]
    c.report.check(code == 2, f"{label}: exits 2 ({took:.1f} s)", f"exit {code}", out)
    password = auth.split(":", 1)[1]
    c.report.check(password not in out, f"{label}: the output does not show the proxy "
                   "password", "it does", out)
    c.report.check(seen and set(seen) == {f"CONNECT 127.0.0.1:{c.front.port}"},
                   f"{label}: the proxy was asked", f"saw {seen or 'nothing'}")
    c.report.check(not c.front.take(), f"{label}: the endpoint got no connection "
                   "(the proxy is not bypassed)")
    c.report.check(h.revision_count(c.web.moto_url, h.FAMILY) == revisions,
                   f"{label}: registered nothing")

    for proxy_var, no_var in (("HTTPS_PROXY", "NO_PROXY"), ("https_proxy", "no_proxy")):
        label = f"{proxy_var}=proxy {no_var}=127.0.0.1"
        c.front.take()
        c.untouched(label, c.deploy(label, c.env(**{proxy_var: c.proxy.url,
                                                    no_var: "127.0.0.1"})))
        c.report.check(any(e[0] == "handshake ok" for e in c.front.take()),
                       f"{label}: connected to the TLS front directly")

    label = "all proxy variables set, http:// endpoint"
    c.untouched(label, c.deploy(label, c.env(**all_proxies(c.proxy.url)), endpoint=moto_url))


def all_proxies(url):
    return {v: url for name in PROXY_VARIABLES for v in (name, name.lower())}


def check_metadata_not_proxied(c, imds, container):
    label = "credentials and region from IMDS, all proxy variables set"
    imds.take()
    env = c.env(AWS_EC2_METADATA_DISABLED=None, AWS_ACCESS_KEY_ID=None,
                AWS_SECRET_ACCESS_KEY=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url,
                **all_proxies(c.proxy.url))
    seen = c.deploy(label, env, region=None)
    got = imds.take()
    paths = {(r["method"], r["path"]) for r in got if r["status"] == 200}
    want = {("PUT", h.IMDS_TOKEN_PATH), ("GET", h.IMDS_REGION_PATH),
            ("GET", h.IMDS_CREDS_PATH + h.IMDS_ROLE)}
    c.report.check(want <= paths, f"{label}: the fake IMDS served token, region and "
                   "credentials",
                   f"it answered {sorted(paths)}")
    c.tunnelled(label, seen)

    label = "credentials from the container endpoint, all proxy variables set"
    container.take()
    env = c.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                AWS_CONTAINER_CREDENTIALS_FULL_URI=container.url + h.CONTAINER_CREDS_PATH,
                AWS_CONTAINER_AUTHORIZATION_TOKEN=container.auth_token,
                **all_proxies(c.proxy.url))
    seen = c.deploy(label, env)
    got = container.take()
    c.report.check(got and all(r["status"] == 200 for r in got),
                   f"{label}: the fake endpoint served the credentials",
                   f"it answered {[(r['path'], r['status']) for r in got]}")
    c.tunnelled(label, seen)


def main():
    opts, binary = h.parse_args(NAME, h.argument_parser(__doc__))
    report = h.Report(NAME)
    # The ExitStack stops every server once the failure (if any) is reported.
    with tempfile.TemporaryDirectory() as work, contextlib.ExitStack() as servers, \
            h.reported(report):
        ca, cert, key = h.make_tls_files(work, hosts=("localhost", PROXY_ONLY_HOST))
        moto = servers.enter_context(h.MotoServer(opts.moto_server))
        web = h.WebService(moto.url)
        front = servers.enter_context(h.TlsFront(moto.port, cert, key))
        proxy = servers.enter_context(h.ConnectProxy(
            routes={f"{PROXY_ONLY_HOST}:443": ("127.0.0.1", front.port)}))
        imds = servers.enter_context(h.FakeImds(h.temporary_credentials(), region=h.REGION))
        container = servers.enter_context(h.FakeContainerCredentials(
            h.temporary_credentials(), "Bearer " + uuid.uuid4().hex))
        c = Checks(report, binary, web, front, proxy, ca)
        check_proxy_variables(c, moto.url)
        check_metadata_not_proxied(c, imds, container)
    return report.summary()


if __name__ == "__main__":
    sys.exit(main())
