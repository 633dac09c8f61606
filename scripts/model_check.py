#!/usr/bin/env python3
"""Checks a fake-ECS transcript against the pinned botocore's models of the AWS APIs.

Usage: target/models-venv/bin/python scripts/model_check.py TRANSCRIPT
       (`make models-venv` installs that venv; `make unit` runs this)

The models are those of the botocore that scripts/models-requirements.txt pins: any
other botocore is refused (exit 2), so that the check never holds the traffic
against whatever older model a machine happens to have. MODEL_PATHS names the
services it knows: ecs, codedeploy, logs, ecr, sso and sso-oidc.

TRANSCRIPT is the file the fake writes when FAKE_ECS_TRANSCRIPT names it: one JSON
line per answered request, {"service": a key of MODEL_PATHS, "operation", "request",
"status", "response", "fault"}. Each line is held against the model of its service
(a line without "service" is an ECS one). For every line that is not a fault (an
answer made or broken by an injected Fault or by deny()):

- the request is validated against the operation's input shape with
  botocore.validate.ParamValidator (required and unknown members, types,
  lengths and ranges), and its enum values and patterns by check_value below.
  Skipped: operations the
  model does not have (the tests send unknown ones on purpose), bodies that
  are not JSON objects, and requests the fake refused as malformed, i.e.
  status 400 with one of the service's VALIDATION_CODES: the unit tests send
  those on purpose to check the fake's own validation.
- every 200 response is checked against the operation's output shape by
  check_value below: unknown member names, enum values not in the model,
  wrong JSON types (string, integer/long, float/double, boolean, timestamp as
  an epoch number, list, map, structure), required members, the model's min
  and max (of a length, or of a number) and patterns (held against the whole
  value), recursively.

Prints one line per problem ("Operation: path: problem", prefixed with the
service's name for any service but ECS; the same problem
found in several lines is printed once) and a summary line ("model-check: N
requests and M answers checked against botocore V, K problems"). Exit status: 0
when there are no problems, 1 when there are, 2 when the transcript is missing
or has no line or botocore is not the pinned one. Python 3.11, standard library and
botocore only.
"""
import datetime
import gzip
import json
import os
import re
import sys

import botocore
import botocore.model
import botocore.validate

HERE = os.path.dirname(os.path.abspath(__file__))
# The exact versions of botocore (and of what comes with it) the checks run on.
PINS = os.path.join(HERE, "models-requirements.txt")

# Codes with which the fake refuses a request it finds malformed, by service
# (SerializationException for wrong JSON types, UnknownOperationException for an unknown
# target, FakeEcsScriptError for a script mistake; InvalidParameterException / ClientException
# for ECS's own checks; CodeDeploy's codes for a missing, empty, malformed or out-of-range
# member; InvalidParameterException for the constraints of the logs and ecr models).
COMMON_VALIDATION_CODES = {
    "SerializationException",
    "UnknownOperationException",
    "FakeEcsScriptError",
}
VALIDATION_CODES = {
    "ecs": COMMON_VALIDATION_CODES | {"InvalidParameterException", "ClientException"},
    "codedeploy": COMMON_VALIDATION_CODES
    | {
        "ApplicationNameRequiredException",
        "InvalidApplicationNameException",
        "DeploymentGroupNameRequiredException",
        "InvalidDeploymentGroupNameException",
        "DeploymentIdRequiredException",
        "InvalidDeploymentIdException",
        "DeploymentTargetIdRequiredException",
        "RevisionRequiredException",
        "InvalidRevisionException",
        "InvalidNextTokenException",
        "InvalidDeploymentStatusException",
        "InvalidTimeRangeException",
        "InvalidTargetFilterNameException",
        "InvalidDeploymentWaitTypeException",
        "InvalidAutoRollbackConfigException",
        "BatchLimitExceededException",
    },
    "logs": COMMON_VALIDATION_CODES | {"InvalidParameterException"},
    "ecr": COMMON_VALIDATION_CODES | {"InvalidParameterException"},
    # The SSO credentials' services: their models' code for a malformed request.
    "sso": COMMON_VALIDATION_CODES | {"InvalidRequestException"},
    "sso-oidc": COMMON_VALIDATION_CODES | {"InvalidRequestException"},
}

# Where each service's model lives under botocore/data.
MODEL_PATHS = {
    "ecs": ("ecs", "2014-11-13"),
    "codedeploy": ("codedeploy", "2014-10-06"),
    "logs": ("logs", "2014-03-28"),
    "ecr": ("ecr", "2015-09-21"),
    "sso": ("sso", "2019-06-10"),
    "sso-oidc": ("sso-oidc", "2019-06-10"),
}


def pinned(package):
    """The exact version scripts/models-requirements.txt pins `package` to."""
    with open(PINS, encoding="utf-8") as f:
        for line in f:
            name, sep, version = line.split("#", 1)[0].strip().partition("==")
            if sep and name.split("[", 1)[0].strip() == package:
                return version.strip()
    raise SystemExit(f"{PINS} pins no {package}")


def require_pinned_botocore(name):
    """Exit 2, saying how to get it, unless this is the pinned botocore."""
    want = pinned("botocore")
    if botocore.__version__ != want:
        print(f"{name}: botocore {botocore.__version__} ({os.path.dirname(botocore.__file__)}) "
              f"is not the {want} that scripts/models-requirements.txt pins; run "
              "`make models-venv` and this script with target/models-venv/bin/python, "
              "as make does", file=sys.stderr)
        sys.exit(2)


def load_model(service):
    """botocore's model of `service` (a key of MODEL_PATHS), found next to the installed
    botocore."""
    name, version = MODEL_PATHS[service]
    path = os.path.join(
        os.path.dirname(botocore.__file__), "data", name, version, "service-2.json.gz"
    )
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return botocore.model.ServiceModel(json.load(f), service_name=service)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# A `pattern` is held against the whole value, as AWS checks it (its "Member must
# satisfy regular expression pattern" refusals); the few that Python's re cannot
# read (\p{L} and the like, in tag keys) are not checked.
_PATTERNS = {}


def pattern_of(shape):
    """The compiled `pattern` of a string shape, or None (none, or one re cannot read)."""
    text = shape.metadata.get("pattern")
    if text is None:
        return None
    if text not in _PATTERNS:
        try:
            _PATTERNS[text] = re.compile(text)
        except re.error:
            _PATTERNS[text] = None
    return _PATTERNS[text]


def check_bounds(size, shape, path, what, problems):
    """The model's `min` and `max` of a length (`what`: "characters", "items",
    "entries") or, for a number (`what` ""), of its value."""
    unit = f" {what}" if what else ""
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        problems.append((path, f"{size}{unit} below the minimum {low} of {shape.name}"))
    if high is not None and size > high:
        problems.append((path, f"{size}{unit} above the maximum {high} of {shape.name}"))


def is_iso_timestamp(value):
    """ISO 8601 as the AWS CLI prints a timestamp (`2024-10-31T08:03:30.917000-04:00`)."""
    if not isinstance(value, str):
        return False
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def check_value(value, shape, path, problems, cli_output=False):
    """Append (path, problem) for everything in `value` that `shape` does not allow.
    `cli_output`: `value` is what the AWS CLI printed, not the wire's JSON, so a
    timestamp may be the ISO 8601 text it prints as well as epoch seconds."""

    def inner(item, item_shape, item_path):
        check_value(item, item_shape, item_path, problems, cli_output)

    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append((path, f"expected an object ({shape.name}), got {type_name(value)}"))
            return
        members = shape.members
        for key, item in value.items():
            if key not in members:
                problems.append((f"{path}.{key}", f"unknown member of {shape.name}"))
            else:
                inner(item, members[key], f"{path}.{key}")
        for key in shape.required_members:
            if key not in value:
                problems.append((f"{path}.{key}", f"required member of {shape.name} missing"))
    elif kind == "list":
        if not isinstance(value, list):
            problems.append((path, f"expected a list ({shape.name}), got {type_name(value)}"))
            return
        check_bounds(len(value), shape, path, "items", problems)
        for i, item in enumerate(value):
            inner(item, shape.member, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append((path, f"expected a map ({shape.name}), got {type_name(value)}"))
            return
        check_bounds(len(value), shape, path, "entries", problems)
        for key, item in value.items():
            inner(key, shape.key, f"{path}.<key {key}>")
            inner(item, shape.value, f"{path}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            problems.append((path, f"expected a string ({shape.name}), got {type_name(value)}"))
        elif shape.enum and value not in shape.enum:
            problems.append((path, f"{value!r} is not a value of {shape.name}"))
        else:
            check_bounds(len(value), shape, path, "characters", problems)
            pattern = pattern_of(shape)
            if pattern is not None and not pattern.fullmatch(value):
                problems.append((path, f"{value!r} does not match the pattern "
                                 f"{pattern.pattern} of {shape.name}"))
    elif kind in ("integer", "long"):
        if not (isinstance(value, int) and not isinstance(value, bool)):
            problems.append((path, f"expected an integer ({shape.name}), got {type_name(value)}"))
        else:
            check_bounds(value, shape, path, "", problems)
    elif kind in ("float", "double"):
        if not is_number(value):
            problems.append((path, f"expected a number ({shape.name}), got {type_name(value)}"))
        else:
            check_bounds(value, shape, path, "", problems)
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append((path, f"expected a boolean ({shape.name}), got {type_name(value)}"))
    elif kind == "timestamp":
        if not (is_number(value) or (cli_output and is_iso_timestamp(value))):
            problems.append(
                (path, f"expected a timestamp as epoch seconds ({shape.name}), got {type_name(value)}")
            )
    elif kind == "blob":
        if not isinstance(value, str):
            problems.append((path, f"expected base64 text ({shape.name}), got {type_name(value)}"))
    else:
        problems.append((path, f"shape type {kind} of {shape.name} is not checked"))


def type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return "a number"


def request_problems(validator, params, shape):
    """ParamValidator's findings on the request, as (path, problem) pairs."""
    report = validator.validate(params, shape)
    problems = []
    # ValidationErrors keeps (reason, parameter name, details) triples; its own formatter
    # words each one.
    for error in getattr(report, "_errors", []):
        name = error[1].lstrip(".")
        path = "request" if name in ("", "input") else f"request.{name}"
        problems.append((path, report._format_error(error)))
    if report.has_errors() and not problems:
        problems.append(("request", report.generate_report()))
    # ParamValidator leaves enum values and patterns alone: the walker checks those.
    walked = []
    check_value(params, shape, "request", walked)
    problems.extend(p for p in walked
                    if " is not a value of " in p[1] or " does not match the pattern " in p[1])
    return problems


def main(argv):
    if len(argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    transcript = argv[1]
    try:
        with open(transcript, encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
    except OSError as e:
        print(f"model-check: cannot read {transcript}: {e}", file=sys.stderr)
        return 2
    if not lines:
        print(f"model-check: {transcript} is empty", file=sys.stderr)
        return 2
    require_pinned_botocore("model-check")

    models = {service: load_model(service) for service in MODEL_PATHS}
    validator = botocore.validate.ParamValidator()
    requests = answers = 0
    problems = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append((f"line {number}", "", f"not JSON: {e}"))
            continue
        if entry.get("fault"):
            continue
        service = entry.get("service", "ecs")
        if service not in models:
            problems.append((f"line {number}", "", f"unknown service {service!r}"))
            continue
        model = models[service]
        operation = entry.get("operation", "")
        if operation not in model.operation_names:
            continue
        op = model.operation_model(operation)
        label = operation if service == "ecs" else f"{service} {operation}"
        status = entry.get("status")
        response = entry.get("response")
        request = entry.get("request")
        refused = (
            status == 400
            and isinstance(response, dict)
            and response.get("__type") in VALIDATION_CODES[service]
        )
        if isinstance(request, dict) and not refused:
            requests += 1
            for path, problem in request_problems(validator, request, op.input_shape):
                problems.append((label, path, problem))
        if status == 200:
            answers += 1
            if op.output_shape is None:
                if response not in (None, {}):
                    problems.append((label, "response", "the model has no output here"))
            else:
                found = []
                check_value(response, op.output_shape, "response", found)
                problems.extend((label, path, problem) for path, problem in found)

    unique = sorted(set(problems))
    for operation, path, problem in unique:
        print(f"{operation}: {path}: {problem}")
    print(
        f"model-check: {requests} requests and {answers} answers checked against botocore "
        f"{botocore.__version__}, {len(unique)} problems"
    )
    return 1 if unique else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
