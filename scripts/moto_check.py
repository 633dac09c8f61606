#!/usr/bin/env python3
"""Check ecs-deploy's SigV4 signing, error handling and credential sources against moto_server.

Our own tests talk to a fake ECS that we wrote, so they cannot prove that the
signatures are right: a bug in our signer and the same misunderstanding in our
fake would cancel out. moto re-computes every signature with botocore and
evaluates IAM policies once its auth is switched on, so it is an independent
verifier. It does not roll deployments forward, which is why the deploy below
uses desired count 0 (ecs-deploy is done right after UpdateService then).

The same deploy is then repeated with the credentials coming from each source
of the chain (design §7): a named profile, a fake IMDSv2, a fake container
credentials endpoint, and -a assuming an IAM role through moto's STS. Each run
deploys a new tag, so each must register a revision of its own, and the
recording pass-through shows which access key and session token signed the
ECS, ECR and CloudWatch Logs calls, so a run cannot pass on credentials from
the wrong source.

Before ecs-deploy registers anything it looks the new image up in ECR
(DescribeImages) and each awslogs group the new revision needs in CloudWatch
Logs (DescribeLogGroups); both go to moto through the relay
(AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS), and the users hold
the README's optional statements for them. Each image is pushed to moto's ECR
first by a `pusher` user, as CI would. Checked: the DescribeImages of a plain
deploy is signed for `ecr` in the region of the image (the relay checks the
scope, moto the signature and ecr:DescribeImages) and accepted before
RegisterTaskDefinition; a tag never pushed stops the run with exit 13 and
nothing registered in moto; a user without ecr:DescribeImages gets one
warning line and the deploy succeeds. A service whose app logs with awslogs
to a group moto has deploys; to a group moto has not, exit 1 before any
RegisterTaskDefinition; a user without logs:DescribeLogGroups gets one
warning line, and that deploy goes on.

moto's ECS never starts or stops a task, so a failing deploy cannot happen in
it. For that one the relay sends ECS calls to fake-ecs-server (the project's
fake, as a process: --fail-after 0, --log-group CRASH_GROUP, accepting the
moto users' keys, whose signatures it checks only for shape) and everything
else to moto. When a DescribeTasks answer of the fake, on its way to
ecs-deploy, shows a stopped task whose `app` exited non-zero, the relay first
puts what that container "logged" (FATAL: …) into moto's CloudWatch Logs,
group CRASH_GROUP, stream `ecs/app/<task id>`, as the `app-logger` user: what
the awslogs driver does in AWS. So ecs-deploy's GetLogEvents is answered by
moto, which verifies its signature and logs:GetLogEvents. With the
permission, the FATAL line must be in the text, the JSON and the step
summary; without it, the run still exits 1 with ECS's reason and one line
saying the log could not be read.

Last, a CODE_DEPLOY service is deployed through moto's CodeDeploy by a user
holding exactly the README's CodeDeploy actions: the deployment group is
checked with GetDeploymentGroup, and CreateDeployment must be signed for
`codedeploy` and accepted with an AppSpec naming the new revision. moto never
moves a deployment past `Created`, so that run ends in its -t timeout (exit 1).

At the end, every ECS, CodeDeploy, ECR and CloudWatch Logs request the binary
sent moto in all those runs is held against the pinned botocore's models
(scripts/model_check.py's checks), and so is every answer moto gave with 200,
but for moto's own quirks (moto_quirk).

    target/models-venv/bin/python scripts/moto_check.py --binary target/debug/ecs-deploy \\
        --moto-server target/models-venv/bin/moto_server \\
        --fake-server target/debug/fake-ecs-server                (make moto-check)

Runs on the pinned botocore, boto3 and moto[server] of scripts/models-requirements.txt
(any other botocore is refused, exit 2), with harness.py and model_check.py next to
it (the servers, fakes and helpers the scripts share; the model checks), and
fake-ecs-server (`make moto-check` builds it).
Exit status 0 when every check passed, 1 otherwise. Every server it starts
listens on 127.0.0.1 only, and every run of the binary is pointed at the fake
IMDS (or has IMDS disabled), so nothing reaches a real metadata service.

Facts about moto 5.2.1 this script relies on (read from its source and tried):
- Auth is off until `POST /moto-api/reset-auth` with body `0`; from then on every
  request is signature-checked and its `<service>:<Action>` is evaluated
  against the caller's IAM policies. ECS actions are checked against resource
  `*` only, so policies must say `"Resource": "*"`. No environment variable is
  needed in server mode (INITIAL_NO_AUTH_ACTION_COUNT is what the endpoint sets).
- Auth errors on a JSON-1.1 call come back as HTTP 403 with an XML body
  (`<ErrorResponse><Errors><Error><Code>…`), `Content-Type: text/html`, and no
  `x-amzn-errortype` header, so the binary has to find the code in the body.
  STS errors have the same shape (real STS has no `<Errors>` level).
- moto takes region and service from the request's own credential scope and
  ignores unsigned headers, so it would accept a request whose X-Amz-Target is
  not signed. The requests are therefore relayed through a small recording
  pass-through that checks the scope and the signed headers itself.
- sts:AssumeRole is enforced twice: the caller's policy must allow it on the
  role's ARN (a policy for another role is refused), and the role's trust
  policy must name the caller. Principals are compared as plain strings with
  the caller's ARN, so a trust policy naming the account
  (`arn:aws:iam::ACCOUNT:root` or `ACCOUNT`) admits no user, unlike real AWS:
  it has to name the user. Both refusals are the same 403 AccessDenied.
- AssumeRole answers `text/xml` `AssumeRoleResponse/AssumeRoleResult/Credentials/
  {AccessKeyId (ASIA…), SecretAccessKey, SessionToken, Expiration}`; the
  Expiration has microseconds (`2026-11-27T04:45:54.972058Z`), unlike real STS.
  Calls signed with those credentials are checked against the role's policies.
- CodeDeploy: ListApplications, ListDeploymentGroups, GetDeploymentGroup,
  CreateDeployment, GetDeployment and ListDeployments exist; a deployment stays
  `Created`. GetDeploymentTarget, BatchGetDeploymentGroups and StopDeployment
  do not exist (the check names the group, so BatchGetDeploymentGroups is not
  needed). Its actions are evaluated as `codedeploy:<Action>`.
- ECR and CloudWatch Logs actions are evaluated as `ecr:<Action>` and
  `logs:<Action>` (Resource `*` is enough). DescribeImages of a tag that is not
  there is 400 ImageNotFoundException; PutImage takes a Docker v2 manifest and
  makes the digest from its layers. DescribeLogGroups takes
  logGroupNamePrefix and limit; GetLogEvents with startFromHead false answers
  the last events of the stream.
- A user's long-term key (AKIA…) is refused with InvalidClientTokenId when the
  request also carries X-Amz-Security-Token, as in real AWS. The fake IMDS and
  container endpoint therefore serve temporary credentials of a role with the
  deployer's permissions, which is also what real instance profiles and task
  roles hand out.
"""

import contextlib
import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import botocore.validate

import harness
import model_check
from harness import (ACCOUNT, CLUSTER, CONTAINER_CREDS_PATH, FAMILY, IMDS_CREDS_PATH,
                     IMDS_ROLE, IMDS_TOKEN_HEADER, IMDS_TOKEN_PATH, IMDS_TTL_HEADER, REGION,
                     SERVICE, FakeContainerCredentials, FakeEcsServer, FakeImds, Handler,
                     LoopbackServer, boto)

NAME = "moto-check"
# The services whose requests the model check holds against the pinned models (by
# the signing name of their credential scope): the runs point ECS, CodeDeploy, STS,
# ECR and CloudWatch Logs at moto (the failing deploy all but ECS).
MODELED = ("ecs", "codedeploy", "logs", "ecr")


def moto_quirk(problem):
    """What the pinned models find in moto 5.2.1's answers, which is moto's, not
    ecs-deploy's: its CodeDeploy answers carry null for each member it has no
    value for (real CodeDeploy leaves them out), and GetDeployment's createTime
    as text, not epoch seconds; its DescribeLogGroups answers "nextToken": null
    on the last page (real CloudWatch Logs leaves it out). ecs-deploy reads
    those answers all the same."""
    return (problem.startswith("codedeploy ") and (
        problem.endswith("got null")
        or problem.endswith("deploymentInfo.createTime: expected a timestamp as epoch seconds "
                            "(Timestamp), got a string"))) or (
        problem == "logs DescribeLogGroups: response.nextToken: expected a string (NextToken), "
                   "got null")

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
# What a CODE_DEPLOY service needs on top (the README's CodeDeploy statement).
CODEDEPLOY_ACTIONS = [
    "codedeploy:ListApplications",
    "codedeploy:ListDeploymentGroups",
    "codedeploy:BatchGetDeploymentGroups",
    "codedeploy:GetDeploymentGroup",
    "codedeploy:CreateDeployment",
    "codedeploy:GetDeploymentConfig",
    "codedeploy:RegisterApplicationRevision",
    "codedeploy:GetDeployment",
    "codedeploy:GetDeploymentTarget",
    "codedeploy:ListDeployments",
    "codedeploy:StopDeployment",
]
# Enough to get past the first call of a deploy, so the denial happens mid-run.
NOBODY_ACTIONS = ["ecs:DescribeServices"]
# The README's optional statements: without the first, a warning line and the
# image is not checked; without the other two, a warning line and no log lines.
IMAGE_CHECK_ACTIONS = ["ecr:DescribeImages"]
LOG_ACTIONS = ["logs:DescribeLogGroups", "logs:GetLogEvents"]
OPTIONAL_ACTIONS = IMAGE_CHECK_ACTIONS + LOG_ACTIONS

REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/acct/repo"
OLD_IMAGE = f"{REPO}:v1"
SIDECAR_IMAGE = "nginx:1.25"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
CODEDEPLOY_TARGET_PREFIX = "CodeDeploy_20141006."
ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
LOGS_TARGET_PREFIX = "Logs_20140328."
# Services whose app container logs with awslogs (stream prefix LOG_PREFIX):
# to a group moto has, and to one it does not.
LOGGED, LOGGED_GROUP = "logged", "/ecs/logged"
LOST, LOST_GROUP = "lost-logs", "/ecs/lost-logs"
LOG_PREFIX = "ecs"
# The failing deploy: fake-ecs-server's app logs to CRASH_GROUP (which moto
# has), and what the crashed container "logged" is put into moto.
CRASH_GROUP = "/ecs/crash"
CRASH_LINES = ["Starting the application", "FATAL: DATABASE_URL is not set"]
CRASH_REASON = "Essential container in task exited"  # fake-ecs-server's --fail-after
# The CODE_DEPLOY service, its task-definition family and its deployment group.
CD_SERVICE, CD_FAMILY = "cd-web", "cd-web"
CD_APPLICATION, CD_GROUP = "shop", "cd-web-dg"
# Headers whose absence from SignedHeaders would let a request be altered
# in flight (x-amz-target picks the operation) or make real AWS refuse it.
MUST_SIGN = {"host", "x-amz-date", "x-amz-target"}

# The role -a assumes; it may do exactly what the deployer user may do.
ROLE_NAME = "ecs-deployer"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"


def allow(actions, resource="*"):
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}


USERS = {
    "deployer": allow(DEPLOYER_ACTIONS + OPTIONAL_ACTIONS),
    "cd-deployer": allow(DEPLOYER_ACTIONS + OPTIONAL_ACTIONS + CODEDEPLOY_ACTIONS),
    "nobody": allow(NOBODY_ACTIONS),
    # The README's policy with all but one of its optional statements.
    "no-image-check": allow(DEPLOYER_ACTIONS + LOG_ACTIONS),
    "no-log-groups": allow(DEPLOYER_ACTIONS + IMAGE_CHECK_ACTIONS + ["logs:GetLogEvents"]),
    "no-log-reader": allow(DEPLOYER_ACTIONS + IMAGE_CHECK_ACTIONS + ["logs:DescribeLogGroups"]),
    # Not ecs-deploy: CI pushing the images it deploys, and the awslogs
    # driver of the container that crashes.
    "pusher": allow(["ecr:PutImage"]),
    "app-logger": allow(["logs:CreateLogStream", "logs:PutLogEvents"]),
    # May only become the role, so a deploy signed with its own key is refused
    # at the first ECS call: -a passes only if the role's credentials are used.
    "assumer": allow(["sts:AssumeRole"], ROLE_ARN),
    # The same permission, but the role's trust policy does not name it.
    "outsider": allow(["sts:AssumeRole"], ROLE_ARN),
}
# Names the user, not the account: moto does not match account principals.
ROLE_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:user/assumer"]},
}]}


class ProxyHandler(Handler):
    def relay(self):
        body = self.read_body()
        owner = self.owner
        target = self.headers.get("X-Amz-Target", "")
        to_fake = bool(owner.ecs_port) and target.startswith(TARGET_PREFIX)

        # Bodies are kept too: STS replies carry the credentials the binary
        # goes on to sign with, and they are secrets the output must not show.
        def record(status, reply):
            if owner.on_answer:
                owner.on_answer(target, status, reply)
            owner.record(headers={k.lower(): v for k, v in self.headers.items()},
                         body=body, status=status, reply=reply,
                         upstream="fake ECS" if to_fake else "moto")

        harness.relay(self, owner.ecs_port if to_fake else owner.upstream_port, body,
                      timeout=30, before_answering=record)

    do_POST = do_GET = do_PUT = relay


class RecordingProxy(LoopbackServer):
    """Loopback pass-through to moto that remembers each request.

    The Host header is forwarded unchanged: it is signed, and moto recomputes
    the signature from the headers it receives. `seen` keeps every record,
    which take() does not empty, for the model check at the end. With
    `ecs_port`, ECS calls go to the fake ECS there instead, everything else
    still to moto; `on_answer(target, status, reply)` sees each answer before
    the client does."""

    def __init__(self, upstream_port, ecs_port=None, on_answer=None):
        self.upstream_port = upstream_port
        self.seen = []
        self.ecs_port = ecs_port
        self.on_answer = on_answer
        super().__init__(ProxyHandler)

    def record(self, **fields):
        with self.lock:
            self.seen.append(fields)
        super().record(**fields)


class CrashLogger:
    """The awslogs driver of the container that crashes in the fake ECS: when
    a DescribeTasks answer (from the fake, on its way to ecs-deploy) shows a
    STOPPED task whose `app` exited non-zero, puts CRASH_LINES into moto's
    CloudWatch Logs, group CRASH_GROUP, stream LOG_PREFIX/app/<task id> (as
    the app-logger user), before ecs-deploy sees the answer, so its
    GetLogEvents finds them there."""

    def __init__(self, moto_url, keys):
        self.logs = boto("logs", moto_url, *keys)
        self.lock = threading.Lock()
        self.streams = []
        self.problems = []

    def __call__(self, target, status, reply):
        if not target.endswith(".DescribeTasks") or status != 200:
            return
        try:
            tasks = json.loads(reply).get("tasks", [])
        except ValueError as e:
            self.problems.append(f"DescribeTasks answer is not JSON: {e}")
            return
        for task in tasks:
            task_id = task.get("taskArn", "").rsplit("/", 1)[-1]
            for c in task.get("containers", []):
                if (task.get("lastStatus") == "STOPPED" and c.get("name") == "app"
                        and c.get("exitCode") not in (None, 0)):
                    self.write(f"{LOG_PREFIX}/app/{task_id}")

    def write(self, stream):
        with self.lock:
            if stream in self.streams:
                return
            try:
                self.logs.create_log_stream(logGroupName=CRASH_GROUP, logStreamName=stream)
                now = int(time.time() * 1000)
                self.logs.put_log_events(
                    logGroupName=CRASH_GROUP, logStreamName=stream,
                    logEvents=[{"timestamp": now + i, "message": line}
                               for i, line in enumerate(CRASH_LINES)])
                self.streams.append(stream)
            except Exception as e:  # noqa: BLE001 - reported by the check
                self.problems.append(f"{stream}: {error_code(e)}: {e}")


def set_up(endpoint):
    """Create the ECS objects, the ECR repository with the image the service
    runs, the log groups, the IAM users and the role while auth is still off.
    Returns {user: (access_key_id, secret)}."""
    harness.create_service(endpoint, CLUSTER, SERVICE, FAMILY, [
        harness.container("app", OLD_IMAGE, 128),
        harness.container("sidecar", SIDECAR_IMAGE, 64, essential=False),
    ], desired=1)
    boto("ecr", endpoint).create_repository(repositoryName=REPO.split("/", 1)[1])
    harness.ecr_push(endpoint, OLD_IMAGE)

    set_up_codedeploy(endpoint)
    set_up_logging(endpoint)

    iam = boto("iam", endpoint)
    keys = {}
    for user, policy in USERS.items():
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="ecs-deploy",
                            PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(ROLE_TRUST))
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="ecs-deploy",
                        PolicyDocument=json.dumps(allow(DEPLOYER_ACTIONS + OPTIONAL_ACTIONS)))
    return keys


def set_up_logging(endpoint):
    """Two services whose app logs with awslogs: LOGGED to a group moto has,
    LOST to one it has not (and ECS would not create: no
    awslogs-create-group); and CRASH_GROUP, where the fake ECS's app logs."""
    logs = boto("logs", endpoint)
    for group in (LOGGED_GROUP, CRASH_GROUP):
        logs.create_log_group(logGroupName=group)
    ecs = boto("ecs", endpoint)
    for service, group in ((LOGGED, LOGGED_GROUP), (LOST, LOST_GROUP)):
        options = {"awslogs-group": group, "awslogs-region": REGION,
                   "awslogs-stream-prefix": LOG_PREFIX}
        ecs.register_task_definition(family=service, containerDefinitions=[harness.container(
            "app", OLD_IMAGE, 128, logConfiguration={"logDriver": "awslogs",
                                                     "options": options})])
        ecs.create_service(cluster=CLUSTER, serviceName=service,
                           taskDefinition=f"{service}:1", desiredCount=0)


def set_up_codedeploy(endpoint):
    """A CODE_DEPLOY service behind a load balancer, and the CodeDeploy
    application and ECS deployment group that deploy it."""
    ecs = boto("ecs", endpoint)
    ecs.register_task_definition(family=CD_FAMILY, containerDefinitions=[
        harness.container("app", OLD_IMAGE, 128)])
    target_group = (f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:"
                    "targetgroup/cd-web-blue/0123456789abcdef")
    ecs.create_service(cluster=CLUSTER, serviceName=CD_SERVICE, taskDefinition=f"{CD_FAMILY}:1",
                       desiredCount=0, deploymentController={"type": "CODE_DEPLOY"},
                       loadBalancers=[{"targetGroupArn": target_group,
                                       "containerName": "app", "containerPort": 80}])
    codedeploy = boto("codedeploy", endpoint)
    codedeploy.create_application(applicationName=CD_APPLICATION, computePlatform="ECS")
    codedeploy.create_deployment_group(
        applicationName=CD_APPLICATION, deploymentGroupName=CD_GROUP,
        serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/codedeploy",
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        deploymentStyle={"deploymentType": "BLUE_GREEN",
                         "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        ecsServices=[{"serviceName": CD_SERVICE, "clusterName": CLUSTER}])


def role_credentials(endpoint, keys, session):
    """Fresh temporary credentials of the deploy role, in the JSON shape that
    IMDS and the container endpoint serve."""
    creds = boto("sts", endpoint, *keys["assumer"]).assume_role(
        RoleArn=ROLE_ARN, RoleSessionName=session)["Credentials"]
    return {"AccessKeyId": creds["AccessKeyId"],
            "SecretAccessKey": creds["SecretAccessKey"],
            "Token": creds["SessionToken"],
            "Expiration": creds["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ")}


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


def refusal(call):
    """The error code `call()` fails with, or "allowed"."""
    try:
        call()
        return "allowed"
    except Exception as e:  # noqa: BLE001 - the code is what we compare
        return error_code(e)


def http_status(url, method="GET", headers=None):
    status, body = harness.http_get(url, method=method, headers=headers)
    return status, body.decode(errors="replace")


def auth_fields(record):
    """The Authorization header's fields; Credential is split into key and scope."""
    auth = record["headers"].get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return {}
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(",")
                  if "=" in part)
    key, _, scope = fields.get("Credential", "").partition("/")
    return dict(fields, key=key, scope=scope.split("/"))


def service_of(record):
    scope = auth_fields(record).get("scope", [])
    return scope[2] if len(scope) > 2 else "?"


def form(record):
    return dict(urllib.parse.parse_qsl(record.get("body", b"").decode(errors="replace")))


def op_name(record):
    target = record["headers"].get("x-amz-target")
    return target.rsplit(".", 1)[-1] if target else form(record).get("Action", "?")


def ops(records):
    return [op_name(r) for r in records]


def of_service(records, service):
    return [r for r in records if service_of(r) == service]


def of_target(records, prefix):
    """The requests to one API, by their X-Amz-Target, whatever they were
    signed for."""
    return [r for r in records if r["headers"].get("x-amz-target", "").startswith(prefix)]


def calls(records, operation):
    return [r for r in records if op_name(r) == operation]


def request(record):
    """A JSON request's body as data."""
    try:
        return json.loads(record.get("body") or b"{}")
    except ValueError:
        return {}


def answered(records):
    return ", ".join(f"{op_name(r)} {r['status']}" for r in records) or "no request"


def lines_with(out, text):
    return [line for line in out.splitlines() if text in line]


def xml_values(data, *names):
    """The text of the first element with each local name, namespace ignored."""
    found = {}
    try:
        for el in ET.fromstring(data).iter():
            found.setdefault(el.tag.rsplit("}", 1)[-1], el.text or "")
    except ET.ParseError:
        pass
    return [found.get(name) for name in names]


def signing_problems(records, service="ecs", target_prefix=TARGET_PREFIX):
    """What is wrong with the recorded JSON-1.1 requests' SigV4 headers for
    `service`, as text."""
    problems = []
    for i, rec in enumerate(records, 1):
        h = rec["headers"]
        target = h.get("x-amz-target", "")
        where = f"request {i} ({target or 'no X-Amz-Target'})"
        if not target.startswith(target_prefix):
            problems.append(f"{where}: X-Amz-Target is not {target_prefix}<Op>")
        if h.get("content-type") != "application/x-amz-json-1.1":
            problems.append(f"{where}: Content-Type is {h.get('content-type')!r}")
        fields = auth_fields(rec)
        if not fields:
            problems.append(f"{where}: Authorization is not AWS4-HMAC-SHA256")
            continue
        date = h.get("x-amz-date", "")
        if fields["scope"] != [date[:8], REGION, service, "aws4_request"]:
            problems.append(f"{where}: credential scope {'/'.join(fields['scope'])!r} "
                            f"is not {date[:8]}/{REGION}/{service}/aws4_request")
        missing = MUST_SIGN - set(fields.get("SignedHeaders", "").split(";"))
        if missing:
            problems.append(f"{where}: not signed: {', '.join(sorted(missing))}")
    return problems


class Harness:
    """Runs the deploy with a given environment and holds what every run is
    checked against: the secrets that must never be printed and the latest
    task-definition revision, which each successful deploy must advance by one."""

    def __init__(self, report, binary, moto, proxy, imds, keys):
        self.report = report
        self.binary = binary
        self.moto = moto
        self.proxy = proxy
        self.imds = imds
        self.keys = keys
        self.secrets = {secret for _, secret in keys.values()}
        self.revision = 1
        self.tag = 1  # v1 is what the service runs before the first deploy
        self.image = OLD_IMAGE
        self.out, self.took = "", 0.0
        self.shown = set()  # labels whose output was already printed

    def env(self, **overrides):
        """The binary's environment: IMDS always points at our fake, and is
        off unless a run switches it on; ECR and CloudWatch Logs go through
        the relay to moto, like ECS (overrides set to None are removed)."""
        return harness.environment({
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds.url,
            "AWS_ENDPOINT_URL_ECR": self.proxy.url,
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": self.proxy.url,
        }, **overrides)

    def keys_env(self, user, secret=None):
        key, user_secret = self.keys[user]
        return self.env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret or user_secret)

    def next_image(self, push=True):
        """A new tag of REPO, pushed to moto's ECR by the pusher (CI) unless
        `push` is false."""
        self.tag += 1
        image = f"{REPO}:v{self.tag}"
        if push:
            harness.ecr_push(self.moto.url, image, *self.keys["pusher"])
        return image

    def run(self, env, args=(), push=True, service=SERVICE):
        """One deploy of a new tag to `service`. Returns (exit code, output,
        records)."""
        image = self.next_image(push)
        if service == SERVICE:
            self.image = image
        args = harness.WebService.deploy_args(self.proxy.url, image) + list(args)
        args[args.index("-n") + 1] = service
        code, out, took = harness.run_binary(self.binary, args, env)
        records = self.proxy.take()
        # Whatever STS handed out during the run is as secret as our own keys.
        for rec in of_service(records, "sts"):
            self.secrets.update(v for v in xml_values(rec["reply"], "SecretAccessKey",
                                                      "SessionToken") if v)
        self.out, self.took = out, took
        return code, out, records

    def check(self, label, ok, what, detail=""):
        """A check about `label`'s run; the run's output is printed with the
        first failure only."""
        output = None if label in self.shown else self.out
        if not self.report.check(ok, f"{label}: {what}", detail, output):
            self.shown.add(label)
        return ok

    def check_no_secrets(self, label, out):
        leaked = [s for s in self.secrets if s in out]
        self.check(label, not leaked, "output shows no secret key or session token",
                   f"{len(leaked)} secret(s) printed")

    def deploy(self, label, env, args=(), warns=False):
        """A run that must succeed and register the next revision, and make
        every check before it (no "could not check" line) unless `warns`
        (the caller checks the warning then). Returns the recorded requests
        for the caller's own checks."""
        code, out, records = self.run(env, args)
        self.check(label, code == 0, f"exits 0 ({self.took:.1f} s)", f"exit status {code}")
        self.check_no_secrets(label, out)
        self.check_registered(label)
        if not warns:
            said = lines_with(out, "could not check")
            self.check(label, not said, "made every check (no 'could not check' line)",
                       "; ".join(said))
        return records

    def refused(self, label, env, expect_code, denied_op, args=()):
        """A run AWS refuses: exit 2, the real error code shown, no secret
        shown, and the refused call made once (the design says auth errors
        are not retried). Returns the recorded requests."""
        code, out, records = self.run(env, args)
        self.check(label, code == 2, f"exits 2 ({self.took:.1f} s)", f"exit status {code}")
        self.check(label, expect_code in out, f"output names {expect_code}")
        self.check_no_secrets(label, out)
        tries = ops(records).count(denied_op)
        refused = [r["status"] for r in records if r["status"] == 403]
        self.check(label, tries == 1 and len(refused) == 1,
                   f"{denied_op} refused once, not retried",
                   f"{tries} {denied_op} request(s), {len(refused)} refused; "
                   f"calls: {', '.join(ops(records))}")
        return records

    def check_registered(self, label):
        """The run registered exactly one revision, with the new image in the
        app container only, and pointed the service at it."""
        revision = self.revision + 1
        # Verify as deployer: auth stays on, and these calls are in its policy.
        ecs = boto("ecs", self.moto.url, *self.keys["deployer"])
        try:
            revs = harness.active_revisions(self.moto.url, FAMILY, *self.keys["deployer"])
            self.revision = max(revs)
            if not self.check(label, revs[-2:] == [revision - 1, revision],
                              f"registered {FAMILY}:{revision}",
                              f"ACTIVE revisions of {FAMILY}: {revs}"):
                return
            td = ecs.describe_task_definition(taskDefinition=f"{FAMILY}:{revision}")[
                "taskDefinition"]
            images = {c["name"]: c["image"] for c in td["containerDefinitions"]}
            self.check(label, images == {"app": self.image, "sidecar": SIDECAR_IMAGE},
                       f"{FAMILY}:{revision} runs app={self.image}, sidecar={SIDECAR_IMAGE}",
                       f"containers are {images}")
            svc = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
            # moto stores the string UpdateService was given, so accept the short form.
            want = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{FAMILY}:{revision}"
            self.check(label, svc["taskDefinition"] in (want, f"{FAMILY}:{revision}")
                       and svc["desiredCount"] == 0,
                       f"service {SERVICE} points at {FAMILY}:{revision} with desired count 0",
                       f"taskDefinition={svc['taskDefinition']} "
                       f"desiredCount={svc['desiredCount']}")
        except Exception as e:  # noqa: BLE001 - any failure is a failed check
            self.check(label, False, "task definitions and service can be read",
                       f"{error_code(e)}: {e}")

    def check_registered_nothing(self, label):
        try:
            revs = harness.active_revisions(self.moto.url, FAMILY, *self.keys["deployer"])
            expected, self.revision = self.revision, revs[-1]
            self.check(label, revs[-1] == expected, "registered no task definition",
                       f"ACTIVE revisions of {FAMILY}: {revs}, expected {expected} last")
        except Exception as e:  # noqa: BLE001
            self.check(label, False, "task definitions can be listed", f"{error_code(e)}: {e}")

    def check_signed_with(self, label, records, key, token, source):
        """Every ECS, ECR and CloudWatch Logs call was signed with `key`,
        carrying `token` as X-Amz-Security-Token (or none when `token` is
        None)."""
        signed = [r for prefix in (TARGET_PREFIX, ECR_TARGET_PREFIX, LOGS_TARGET_PREFIX)
                  for r in of_target(records, prefix)]
        used = sorted({(auth_fields(r).get("key"), r["headers"].get("x-amz-security-token"))
                       for r in signed})
        self.check(label, used == [(key, token)],
                   f"all {len(signed)} ECS, ECR and Logs calls signed with {source}"
                   + (" and its session token" if token else ", no session token"),
                   "; ".join(f"key {k or '(none)'} {'with' if t else 'without'} a token"
                             + (" (not the expected one)" if t and t != token else "")
                             for k, t in used) or "no ECS, ECR or Logs call was made")


def check_fixtures(report, moto, imds, container, keys):
    """The fakes and moto must refuse what real AWS refuses, or a passing run
    would not prove that the binary sent the token, the header or the role's
    credentials."""
    sts = {user: boto("sts", moto.url, *keys[user]) for user in ("deployer", "outsider")}
    for user, why in (("deployer", "without sts:AssumeRole"),
                      ("outsider", "not in the role's trust policy")):
        got = refusal(lambda: sts[user].assume_role(RoleArn=ROLE_ARN, RoleSessionName="check"))
        report.check(got == "AccessDenied", f"moto refuses AssumeRole to {user} ({why})",
                     f"got {got}")
    got = refusal(lambda: boto("ecs", moto.url, *keys["assumer"]).describe_services(
        cluster=CLUSTER, services=[SERVICE]))
    report.check(got == "AccessDenied", "moto refuses ECS calls signed with assumer's own key",
                 f"got {got}")

    creds_url = imds.url + IMDS_CREDS_PATH
    no_token = http_status(creds_url)[0]
    no_ttl = http_status(imds.url + IMDS_TOKEN_PATH, "PUT")[0]
    status, token = http_status(imds.url + IMDS_TOKEN_PATH, "PUT", {IMDS_TTL_HEADER: "21600"})
    with_token = http_status(creds_url + IMDS_ROLE, headers={IMDS_TOKEN_HEADER: token})[0]
    report.check((no_token, no_ttl, status, with_token) == (401, 400, 200, 200),
                 "fake IMDS: 401 without a token, 400 for a PUT without TTL, "
                 "credentials with a token",
                 f"got {no_token}, {no_ttl}, {status}/{with_token}")
    imds.take()

    url = container.url + CONTAINER_CREDS_PATH
    statuses = (http_status(url)[0], http_status(url, headers={"Authorization": "wrong"})[0],
                http_status(url, headers={"Authorization": container.auth_token})[0])
    report.check(statuses == (403, 403, 200),
                 "fake container endpoint: 403 without or with a wrong Authorization, "
                 "credentials with the right one", f"got {statuses}")
    container.take()


def check_signing(h):
    """The plain run: env keys of the deployer, every request well signed; then
    two runs AWS refuses, which must register nothing."""
    key, secret = h.keys["deployer"]
    label = "env keys"
    records = h.deploy(label, h.keys_env("deployer"))
    ecs = of_service(records, "ecs")
    problems = signing_problems(ecs)
    h.check(label, ecs and not problems,
            f"requests are SigV4 for {REGION}/ecs with host, x-amz-date, "
            f"x-amz-target signed ({', '.join(ops(ecs)) or 'none'})",
            "; ".join(problems) or "no request reached the server")
    h.check_signed_with(label, records, key, None, "the deployer's key")
    check_image_lookup(h, label, records)

    # A plausible wrong secret: same length and alphabet as a real one.
    wrong = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    h.secrets.add(wrong)
    h.refused("wrong secret", h.keys_env("deployer", wrong),
              "SignatureDoesNotMatch", "DescribeServices")
    h.refused("user without ecs:DescribeTaskDefinition", h.keys_env("nobody"),
              "AccessDenied", "DescribeTaskDefinition")
    h.check_registered_nothing("refused runs")


def check_image_lookup(h, label, records):
    """The run's one DescribeImages: SigV4 for REGION/ecr (the scope checked
    here, the signature and ecr:DescribeImages by moto, which answered 200),
    about the image deployed, before anything was registered."""
    ecr = of_target(records, ECR_TARGET_PREFIX)
    problems = signing_problems(ecr, "ecr", ECR_TARGET_PREFIX)
    h.check(label, ecr and not problems,
            f"ECR requests are SigV4 for {REGION}/ecr with host, x-amz-date, x-amz-target "
            f"signed ({', '.join(ops(ecr)) or 'none'})",
            "; ".join(problems) or "no ECR request reached the server")
    lookups = calls(ecr, "DescribeImages")
    repository, tag = h.image.split("/", 1)[1].rsplit(":", 1)
    want = {"registryId": ACCOUNT, "repositoryName": repository, "imageIds": [{"imageTag": tag}]}
    h.check(label, len(lookups) == 1 and lookups[0]["status"] == 200
            and request(lookups[0]) == want,
            f"one DescribeImages of {repository}:{tag} in {ACCOUNT}, accepted by moto (200)",
            f"{answered(ecr)}; asked {[request(r) for r in lookups]}")
    order = ops(records)
    h.check(label, "DescribeImages" in order and "RegisterTaskDefinition" in order
            and order.index("DescribeImages") < order.index("RegisterTaskDefinition"),
            "the image was looked up before anything was registered", f"calls: {', '.join(order)}")


def check_images(h):
    """A tag that was never pushed stops the run before anything is written
    (exit 13); a user without ecr:DescribeImages gets one warning line and
    the deploy goes on."""
    label = "a tag never pushed to ECR"
    code, out, records = h.run(h.keys_env("deployer"), push=False)
    h.check(label, code == 13, f"exits 13 ({h.took:.1f} s)", f"exit status {code}")
    h.check(label, "is not in ECR" in out and "ImageNotFoundException" in out
            and "nothing was registered" in out,
            "says the image is not in ECR (ImageNotFoundException) and nothing was registered")
    h.check_no_secrets(label, out)
    lookups = calls(records, "DescribeImages")
    h.check(label, len(lookups) == 1 and lookups[0]["status"] == 400
            and service_of(lookups[0]) == "ecr",
            "moto answered the one DescribeImages, signed for ecr, with 400",
            answered(of_target(records, ECR_TARGET_PREFIX)))
    h.check(label, not calls(records, "RegisterTaskDefinition")
            and not calls(records, "UpdateService"),
            "neither RegisterTaskDefinition nor UpdateService was called",
            f"calls: {', '.join(ops(records))}")
    h.check_registered_nothing(label)

    label = "user without ecr:DescribeImages"
    records = h.deploy(label, h.keys_env("no-image-check"), warns=True)
    said = lines_with(h.out, "could not check that")
    image = h.image.split("/", 1)[1]
    h.check(label, len(said) == 1 and f"could not check that {image} in registry {ACCOUNT} "
            f"({REGION}) exists" in said[0] and "AccessDenied" in said[0],
            f"one warning line: could not check that {image} … exists (AccessDenied)",
            "; ".join(said) or "no such line")
    lookups = calls(records, "DescribeImages")
    h.check(label, [r["status"] for r in lookups] == [403],
            "moto refused DescribeImages once (403), not retried", answered(lookups))


def check_log_groups(h):
    """The log group a new revision's awslogs driver needs (ECS will not
    create it) is looked up before anything is written: there, the deploy
    goes on; missing, exit 1 and nothing registered; a user who may not
    look gets one warning line and the deploy goes on."""
    keys = h.keys["deployer"]

    def revisions(family):
        return harness.active_revisions(h.moto.url, family, *keys)

    def group_lookups(label, records, group, status):
        lookups = calls(records, "DescribeLogGroups")
        problems = signing_problems(lookups, "logs", LOGS_TARGET_PREFIX)
        h.check(label, [r["status"] for r in lookups] == [status] and not problems
                and request(lookups[0]).get("logGroupNamePrefix") == group,
                f"one DescribeLogGroups of {group}, SigV4 for {REGION}/logs, answered "
                f"{status} by moto", "; ".join(problems) or answered(lookups))

    label = f"awslogs group {LOGGED_GROUP} exists"
    code, out, records = h.run(h.keys_env("deployer"), service=LOGGED)
    h.check(label, code == 0, f"exits 0 ({h.took:.1f} s)", f"exit status {code}")
    h.check(label, not lines_with(out, "could not check"), "made every check",
            "; ".join(lines_with(out, "could not check")))
    group_lookups(label, records, LOGGED_GROUP, 200)
    h.check(label, revisions(LOGGED) == [1, 2], f"registered {LOGGED}:2",
            f"ACTIVE revisions: {revisions(LOGGED)}")

    label = f"awslogs group {LOST_GROUP} missing"
    code, out, records = h.run(h.keys_env("deployer"), service=LOST)
    h.check(label, code == 1, f"exits 1 ({h.took:.1f} s)", f"exit status {code}")
    h.check(label, f"the log group {LOST_GROUP} ({REGION}) that the new revision logs to does "
            "not exist" in out, "says the group does not exist")
    group_lookups(label, records, LOST_GROUP, 200)
    h.check(label, not calls(records, "RegisterTaskDefinition") and revisions(LOST) == [1],
            "registered nothing (no RegisterTaskDefinition; moto has only "
            f"{LOST}:1)", f"calls: {', '.join(ops(records))}; revisions {revisions(LOST)}")

    label = f"user without logs:DescribeLogGroups, group {LOST_GROUP} missing"
    code, out, records = h.run(h.keys_env("no-log-groups"), service=LOST)
    h.check(label, code == 0, f"exits 0: the deploy goes on ({h.took:.1f} s)",
            f"exit status {code}")
    said = lines_with(out, "could not check")
    h.check(label, len(said) == 1 and f"could not check that log group {LOST_GROUP} "
            f"({REGION}) exists" in said[0] and "AccessDenied" in said[0],
            "one warning line: could not check that log group … exists (AccessDenied)",
            "; ".join(said) or "no such line")
    group_lookups(label, records, LOST_GROUP, 403)
    h.check(label, revisions(LOST) == [1, 2], f"registered {LOST}:2",
            f"ACTIVE revisions: {revisions(LOST)}")


def check_crash_logs(h, fake_server):
    """A deploy whose task crashes, its log read from moto (see the module
    doc): ECS calls go to fake-ecs-server, whose app logs to CRASH_GROUP and
    whose rollout fails at once; ECR and CloudWatch Logs calls go to moto.
    With logs:GetLogEvents the crashed container's last lines are in the text,
    the JSON and the step summary; without it, exit 1 all the same, with
    ECS's reason and one line about the log. Returns the records of the
    calls that went to moto, for the model check."""
    logger = CrashLogger(h.moto.url, h.keys["app-logger"])
    args = ["--services", "2", "--desired", "1", "--fail-after", "0",
            "--log-group", CRASH_GROUP, "--image", OLD_IMAGE]
    for user in ("deployer", "no-log-reader"):
        args += ["--accept-access-key", h.keys[user][0]]
    with FakeEcsServer(fake_server, *args) as fake, \
            RecordingProxy(h.moto.port, fake.port, logger) as relay, \
            tempfile.TemporaryDirectory() as work:

        def run(label, user, service, json_output=False, **extra_env):
            """One deploy of a new tag to `service` as `user`, which must
            fail; (its text, its JSON document or '', its GetLogEvents)."""
            image = h.next_image()
            env = dict(h.keys_env(user), AWS_ENDPOINT_URL_ECR=relay.url,
                       AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=relay.url, **extra_env)
            stdout = os.path.join(work, f"{service}.out")
            code, err, took = harness.run_binary(h.binary, [
                "-c", CLUSTER, "-n", service, "-i", image, "-r", REGION,
                "--endpoint-url", relay.url, "-t", "60", "--poll-interval", "0.2",
                *(["--output", "json"] if json_output else [])], env, stdout_path=stdout)
            with open(stdout, errors="replace") as f:
                document = f.read()
            # With --output json the text is on stderr, else on stdout.
            out, document = (err, document) if json_output else (err + document, "")
            h.out, h.took = out + document, took
            h.check(label, code == 1, f"exits 1 ({took:.1f} s)", f"exit status {code}")
            h.check_no_secrets(label, h.out)
            records = relay.take()
            ecs = of_target(records, TARGET_PREFIX)
            others = [r for r in records if r not in ecs]
            h.check(label, ecs and all(r["upstream"] == "fake ECS" for r in ecs)
                    and all(r["upstream"] == "moto" for r in others),
                    f"{len(ecs)} ECS calls went to the fake ECS, the other {len(others)} "
                    f"({', '.join(sorted(set(ops(others))))}) to moto")
            reads = calls(records, "GetLogEvents")
            problems = signing_problems(reads, "logs", LOGS_TARGET_PREFIX)
            h.check(label, len(reads) == 1 and not problems
                    and request(reads[0]).get("logGroupName") == CRASH_GROUP
                    and request(reads[0]).get("logStreamName") in logger.streams,
                    f"one GetLogEvents of {CRASH_GROUP}, stream {LOG_PREFIX}/app/<the crashed "
                    f"task>, SigV4 for {REGION}/logs",
                    "; ".join(problems) or f"{answered(reads)}; asked "
                    f"{[request(r) for r in reads]}; crashed streams {logger.streams}")
            return out, document, reads

        label = "failing deploy, crashed container's log readable"
        summary = os.path.join(work, "summary.md")
        open(summary, "w").close()
        out, document, reads = run(label, "deployer", "s1", json_output=True,
                                   GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=summary)
        fatal = CRASH_LINES[-1]
        h.check(label, logger.streams and not logger.problems,
                f"the crashed app's lines were put into moto ({', '.join(logger.streams)})",
                "; ".join(logger.problems) or "no task crashed")
        h.check(label, [r["status"] for r in reads] == [200], "moto accepted GetLogEvents (200)",
                answered(reads))
        h.check(label, "log lines of app (task " in out
                and all(f"  | {line}" in out for line in CRASH_LINES),
                f"the text shows the app's last lines, '{fatal}' among them")
        h.check(label, f"last log line of app: {fatal}" in out
                and any(line.startswith("::error ") and fatal in line
                        for line in out.splitlines()),
                "the error line and the annotation end with it")
        try:
            logs = json.loads(document)["services"][0]["logs"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            logs = f"no services[0].logs in the JSON ({type(e).__name__}: {e})"
        h.check(label, isinstance(logs, list) and logs and logs[0].get("container") == "app"
                and logs[0].get("lines") == CRASH_LINES,
                "the JSON's services[0].logs[0] holds app's lines", f"logs: {logs}")
        with open(summary, errors="replace") as f:
            text = f.read()
        h.check(label, "Last log lines of `app`" in text and fatal in text,
                "the step summary shows them", f"summary: {text[-1500:]!r}")

        label = "failing deploy, user without logs:GetLogEvents"
        out, _, reads = run(label, "no-log-reader", "s2")
        h.check(label, [r["status"] for r in reads] == [403],
                "moto refused GetLogEvents (403), not retried", answered(reads))
        h.check(label, CRASH_REASON in out, f"shows ECS's reason ({CRASH_REASON})")
        about = [line for line in out.splitlines() if "log" in line.lower()
                 and ("of app" in line or "GetLogEvents" in line)]
        h.check(label, len(about) == 1 and "could not read the log of app" in about[0]
                and "AccessDenied" in about[0],
                "one line about the log: could not read the log of app (AccessDenied)",
                "; ".join(about) or "no such line")
        h.check(label, fatal not in out, "shows no log line")
        return [r for r in relay.seen if r["upstream"] == "moto"]


def check_profile(h, workdir):
    """-p deploy, from files named by AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE.
    [default] is a user that is refused mid-deploy and the config file's own
    keys for the profile have a wrong secret, so only the credentials file's
    [deploy] section can make the run pass."""
    key, secret = h.keys["deployer"]
    nobody_key, nobody_secret = h.keys["nobody"]
    wrong = secret[:-4] + ("CCCC" if not secret.endswith("CCCC") else "DDDD")
    h.secrets.add(wrong)
    config = os.path.join(workdir, "config")
    credentials = os.path.join(workdir, "credentials")
    with open(config, "w") as f:
        f.write(f"[default]\nregion = {REGION}\n"
                f"aws_access_key_id = {nobody_key}\naws_secret_access_key = {nobody_secret}\n\n"
                f"[profile deploy]\nregion = {REGION}\n"
                f"aws_access_key_id = {key}\naws_secret_access_key = {wrong}\n")
    with open(credentials, "w") as f:
        f.write(f"[default]\naws_access_key_id = {nobody_key}\n"
                f"aws_secret_access_key = {nobody_secret}\n\n"
                f"[deploy]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    label = "profile -p deploy"
    env = h.env(AWS_CONFIG_FILE=config, AWS_SHARED_CREDENTIALS_FILE=credentials)
    records = h.deploy(label, env, ["-p", "deploy"])
    h.check_signed_with(label, records, key, None, "the [deploy] key of the credentials file")


def check_imds(h, creds):
    """IMDSv2 as the only source, found by the chain and chosen by flag."""
    env = h.env(AWS_EC2_METADATA_DISABLED=None)
    for label, args in (("IMDS (chain)", []), ("IMDS (--aws-instance-profile)",
                                                ["--aws-instance-profile"])):
        h.imds.take()
        records = h.deploy(label, env, args)
        seen = h.imds.take()
        puts = [r for r in seen if r["method"] == "PUT" and r["path"] == IMDS_TOKEN_PATH]
        h.check(label, any(r["headers"].get(IMDS_TTL_HEADER) == "21600" and r["status"] == 200
                           for r in puts),
                f"asked for an IMDSv2 token (PUT {IMDS_TOKEN_PATH}, {IMDS_TTL_HEADER}: 21600)",
                "; ".join(f"{r['method']} {r['path']} -> {r['status']}" for r in seen)
                or "the fake IMDS got no request")
        refused = [f"{r['method']} {r['path']}" for r in seen if r["status"] == 401]
        h.check(label, seen and not refused, "every metadata read carried the token",
                f"answered 401: {', '.join(refused)}" if refused else "no metadata read")
        h.check_signed_with(label, records, creds["AccessKeyId"], creds["Token"],
                            "the IMDS role's key")


def check_container(h, container):
    label = "container credentials"
    records = h.deploy(label, h.env(
        AWS_CONTAINER_CREDENTIALS_FULL_URI=container.url + CONTAINER_CREDS_PATH,
        AWS_CONTAINER_AUTHORIZATION_TOKEN=container.auth_token))
    seen = container.take()
    good = [r for r in seen if r["status"] == 200]
    h.check(label, good and len(good) == len(seen),
            "fetched credentials with the right Authorization",
            "; ".join(f"GET {r['path']} -> {r['status']}" for r in seen)
            or "the endpoint got no request")
    h.check_signed_with(label, records, container.creds["AccessKeyId"],
                        container.creds["Token"], "the container role's key")


def check_assume_role(h):
    """-a on top of env keys of `assumer`, which may do nothing but assume the
    role, so the ECS calls must carry the role's temporary credentials."""
    env = dict(h.keys_env("assumer"), AWS_ENDPOINT_URL_STS=h.proxy.url)
    assumer_key = h.keys["assumer"][0]
    label = "-a role"
    records = h.deploy(label, env, ["-a", ROLE_ARN])
    sts = of_service(records, "sts")
    calls = [r for r in sts if op_name(r) == "AssumeRole"]

    def as_expected(r):
        fields = auth_fields(r)
        return (fields["key"] == assumer_key
                and fields["scope"][1:] == [REGION, "sts", "aws4_request"]
                and form(r).get("RoleArn") == ROLE_ARN and r["status"] == 200)

    h.check(label, calls and all(as_expected(r) for r in calls),
            f"AssumeRole of {ROLE_NAME}, signed by assumer for {REGION}/sts, answered 200",
            "; ".join(f"{op_name(r)} key={auth_fields(r).get('key')} "
                      f"scope={'/'.join(auth_fields(r).get('scope', []))} "
                      f"RoleArn={form(r).get('RoleArn')} -> {r['status']}" for r in sts)
            or "no STS call went through the proxy")
    if calls:
        key, token = xml_values(calls[-1]["reply"], "AccessKeyId", "SessionToken")
        h.check_signed_with(label, records, key, token, "the role's temporary key")

    label = "-a role, base user without sts:AssumeRole"
    env = dict(h.keys_env("deployer"), AWS_ENDPOINT_URL_STS=h.proxy.url)
    records = h.refused(label, env, "AccessDenied", "AssumeRole", ["-a", ROLE_ARN])
    # Falling back to the base credentials would deploy as the wrong identity.
    h.check(label, not of_service(records, "ecs"), "made no ECS call",
            f"calls: {', '.join(ops(records))}")
    h.check_registered_nothing(label)


def check_codedeploy(h):
    """The CODE_DEPLOY service through CodeDeploy, as cd-deployer: the named
    group is checked, one revision registered, CreateDeployment signed for
    codedeploy and accepted with the new revision in its AppSpec, and the
    service itself never updated. moto keeps the deployment `Created`, so the
    run waits until its -t and exits 1."""
    label = "CODE_DEPLOY service"
    image = f"{REPO}:cd{uuid.uuid4().hex[:8]}"
    harness.ecr_push(h.moto.url, image, *h.keys["pusher"])
    env = dict(h.keys_env("cd-deployer"), AWS_ENDPOINT_URL_CODEDEPLOY=h.proxy.url)
    args = ["-c", CLUSTER, "-n", CD_SERVICE, "-i", image, "-r", REGION,
            "--endpoint-url", h.proxy.url, "-t", "2", "--poll-interval", "0.5",
            "--codedeploy-application", CD_APPLICATION,
            "--codedeploy-deployment-group", CD_GROUP]
    code, out, took = harness.run_binary(h.binary, args, env)
    h.out, h.took = out, took
    records = h.proxy.take()
    h.check(label, code == 1, f"times out with exit 1 as moto's deployment stays Created "
            f"({took:.1f} s)", f"exit status {code}")
    h.check_no_secrets(label, out)
    h.check(label, "is left going; pass --enable-rollback" in out,
            "says the CodeDeploy deployment is left going and how to roll it back")
    codedeploy = of_service(records, "codedeploy")
    called = ops(codedeploy)
    problems = signing_problems(codedeploy, "codedeploy", CODEDEPLOY_TARGET_PREFIX)
    h.check(label, codedeploy and not problems,
            f"CodeDeploy requests are SigV4 for {REGION}/codedeploy with host, x-amz-date, "
            f"x-amz-target signed ({', '.join(sorted(set(called))) or 'none'})",
            "; ".join(problems) or "no CodeDeploy request reached the server")
    refused = [f"{op_name(r)} {r['status']}" for r in codedeploy
               if op_name(r) in ("GetDeploymentGroup", "CreateDeployment") and r["status"] != 200]
    h.check(label, "GetDeploymentGroup" in called and called.count("CreateDeployment") == 1
            and not refused, "GetDeploymentGroup and one CreateDeployment, both answered 200",
            f"calls: {', '.join(called)}; refused: {', '.join(refused) or 'none'}")
    h.check(label, "UpdateService" not in ops(records), "the service itself is not updated",
            f"calls: {', '.join(ops(records))}")
    try:
        client = boto("codedeploy", h.moto.url, *h.keys["cd-deployer"])
        ids = client.list_deployments(applicationName=CD_APPLICATION,
                                      deploymentGroupName=CD_GROUP)["deployments"]
        revision = client.get_deployment(deploymentId=ids[-1])["deploymentInfo"]["revision"]
        content = revision.get("appSpecContent", {}).get("content", "")
        revs = harness.active_revisions(h.moto.url, CD_FAMILY, *h.keys["cd-deployer"])
        want = f"task-definition/{CD_FAMILY}:{revs[-1]}"
        h.check(label, len(ids) == 1 and revs == [1, 2] and want in content
                and revision.get("revisionType") == "AppSpecContent",
                f"one deployment, its AppSpec content names {CD_FAMILY}:2",
                f"deployments {ids}, revisions {revs}, revision {json.dumps(revision)[:300]}")
    except Exception as e:  # noqa: BLE001 - any failure is a failed check
        h.check(label, False, "the CodeDeploy deployment can be read", f"{error_code(e)}: {e}")


def check_models(report, records):
    """Every request of MODELED the binary sent through the proxy, and
    every answer moto gave it with 200, against the pinned botocore's models
    (scripts/model_check.py's checks): the requests are ours and must be
    valid; the answers are moto's, and what the model finds there is moto's."""
    models = {service: model_check.load_model(service) for service in MODELED}
    validator = botocore.validate.ParamValidator()
    counts = {"requests": 0, "answers": 0}
    problems = {"requests": set(), "answers": set()}
    for record in records:
        service = service_of(record)
        if service not in models or op_name(record) not in models[service].operation_names:
            continue
        op = models[service].operation_model(op_name(record))
        label = op.name if service == "ecs" else f"{service} {op.name}"
        counts["requests"] += 1
        try:
            request = json.loads(record["body"] or b"{}")
        except ValueError:
            problems["requests"].add(f"{label}: the body is not JSON")
            continue
        problems["requests"].update(
            f"{label}: {path}: {problem}"
            for path, problem in model_check.request_problems(validator, request,
                                                              op.input_shape))
        if record["status"] == 200 and op.output_shape is not None:
            counts["answers"] += 1
            found = []
            try:
                model_check.check_value(json.loads(record["reply"]), op.output_shape,
                                        "response", found)
            except ValueError:
                found.append(("response", "not JSON"))
            problems["answers"].update(f"{label}: {path}: {problem}" for path, problem in found)
    version = f"botocore {botocore.__version__}"
    report.check(counts["requests"] and not problems["requests"],
                 f"models: all {counts['requests']} {'/'.join(MODELED)} requests of ecs-deploy "
                 f"validate against {version}", "; ".join(sorted(problems["requests"])))
    unknown = sorted(p for p in problems["answers"] if not moto_quirk(p))
    quirks = len(problems["answers"]) - len(unknown)
    report.check(not unknown, f"models: moto's {counts['answers']} answers validate against "
                 f"{version} but for {quirks} quirks of moto's (moto_quirk)", "; ".join(unknown))


def run_checks(report, binary, fake_server, moto, servers):
    """All checks against the started `moto`; the fakes are entered into
    `servers` (an ExitStack), which stops them."""
    keys = set_up(moto.url)
    enable_auth(moto.url)
    # Everything below depends on auth really being on: the deployer may
    # not list clusters, so this must be refused.
    denied = refusal(lambda: boto("ecs", moto.url, *keys["deployer"]).list_clusters())
    if not report.check(denied == "AccessDenied",
                        "moto auth is on (deployer is refused ecs:ListClusters)",
                        f"got {denied}"):
        return

    # One role session per fake, so each run's signing key names its source.
    imds = FakeImds(role_credentials(moto.url, keys, "imds"))
    container = FakeContainerCredentials(role_credentials(moto.url, keys, "container"),
                                         "Bearer " + uuid.uuid4().hex)
    proxy = RecordingProxy(moto.port)
    for server in (imds, container, proxy):
        servers.enter_context(server)
    check_fixtures(report, moto, imds, container, keys)

    h = Harness(report, binary, moto, proxy, imds, keys)
    role_secrets = [imds.creds["SecretAccessKey"], imds.creds["Token"],
                    container.creds["SecretAccessKey"], container.creds["Token"],
                    container.auth_token]
    h.secrets.update(role_secrets)
    check_signing(h)
    check_images(h)
    check_log_groups(h)
    at_moto = check_crash_logs(h, fake_server)
    with tempfile.TemporaryDirectory() as workdir:
        check_profile(h, workdir)
    check_imds(h, imds.creds)
    check_container(h, container)
    check_assume_role(h)
    check_codedeploy(h)
    check_models(report, proxy.seen + at_moto)


def main():
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--fake-server", default=os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target", "debug",
        "fake-ecs-server"), help="fake-ecs-server (cargo build -p fake-ecs --bin "
        "fake-ecs-server), for the failing deploy (default: target/debug/fake-ecs-server)")
    opts, binary = harness.parse_args(NAME, parser)
    fake_server = harness.executable(opts.fake_server, NAME)
    model_check.require_pinned_botocore(NAME)
    report = harness.Report(NAME)
    # The ExitStack stops every server once the failure (if any) is reported.
    with contextlib.ExitStack() as servers, harness.reported(report, "moto setup"):
        moto = servers.enter_context(harness.MotoServer(opts.moto_server))
        run_checks(report, binary, fake_server, moto, servers)
    return report.summary()


if __name__ == "__main__":
    sys.exit(main())
