#!/usr/bin/env python3
"""Records the AWS CLI's examples of the calls ecs-deploy makes as fixtures, and checks them.

The AWS CLI ships, for each command, examples that AWS wrote from real accounts
(awscli/examples/<dir>/<command>.rst): the command, and after "Output::" what it
printed. Those printed answers are the nearest thing to recorded ECS and CodeDeploy
answers this project can have without an AWS account; src/core/aws_examples.rs,
src/aws/ecs.rs and src/aws/codedeploy.rs test that every parser, judge and answer
check reads each one as its text describes.

    target/models-venv/bin/python scripts/awscli_examples.py           # record
    target/models-venv/bin/python scripts/awscli_examples.py --check   # make unit runs this

Recording reads the awscli that scripts/models-requirements.txt pins (any other is
refused, exit 2): for each command of EXAMPLES, every output block of
awscli/examples/<dir>/<command>.rst (the literal block after a line "Output::", or
after the line EXTRA_INTROS names), with its indentation taken off and otherwise as
AWS wrote it, becomes fixtures/awscli/<dir>/<command>-<n>.json, n counting the
file's output blocks from 1. A block that is not JSON as written is repaired as
REPAIRS says (its trailing commas, as many as it lists, go; nothing else is ever
changed) and must then be JSON. Prints the files
written.

--check changes nothing. It fails (exit 1) unless every fixture under
fixtures/awscli is exactly what recording would write (and no other file is there),
and unless, held against the output shape of its operation in the pinned botocore's
model (scripts/model_check.py's check_value, taking a timestamp as the ISO 8601 text
the CLI prints as well as epoch seconds), each fixture shows exactly the problems
KNOWN_PROBLEMS lists: AWS's own slips in its examples, which the fixtures keep as AWS
wrote them. A new problem fails, and so does a known one gone (a newer awscli fixed
it: take it off the list). Python 3.10+, standard library and botocore.
"""

import argparse
import importlib.util
import json
import os
import re
import sys
import textwrap

import model_check

NAME = "awscli-examples"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "awscli")
RECORD = "target/models-venv/bin/python scripts/awscli_examples.py"

# The examples of every call ecs-deploy makes, by the CLI's directory and command,
# and a few that show the same shapes (StopTask's stopped task is a DescribeTasks
# task; BatchGetDeployments' and BatchGetDeploymentTargets' entries are what
# GetDeployment and GetDeploymentTarget answer); DescribeServiceRevisions, which
# ecs-deploy does not call, is held against the model only.
EXAMPLES = {
    "ecs": [
        "describe-services", "update-service", "describe-service-deployments",
        "list-service-deployments", "describe-service-revisions",
        "describe-task-definition", "register-task-definition",
        "deregister-task-definition", "list-task-definitions", "list-tasks",
        "describe-tasks", "stop-task", "run-task",
    ],
    "deploy": [
        "list-applications", "list-deployment-groups", "get-deployment-group",
        "batch-get-deployment-groups", "create-deployment", "get-deployment",
        "batch-get-deployments", "get-deployment-target", "batch-get-deployment-targets",
        "list-deployments", "stop-deployment",
    ],
}
# The botocore service of each directory of awscli/examples.
SERVICES = {"ecs": "ecs", "deploy": "codedeploy"}
# Output blocks that another line than "Output::" introduces.
EXTRA_INTROS = {
    "ecs/deregister-task-definition": "Note that in the resulting output",
}
# How a block that is not JSON as AWS wrote it is made JSON: the trailing commas
# (`"subnet-12344321",` before `]`, `},` before `]`) go, nothing else.
TRAILING_COMMA = re.compile(r",(\s*[\]}])")
REPAIRS = {  # fixture: how many trailing commas it had (where)
    "ecs/update-service-1.json": 1,  # the service's subnets
    "ecs/update-service-3.json": 2,  # the first deployment's subnets; the events
}
# AWS's slips in its examples, as the pinned model finds them: (fixture, path,
# problem). The fixtures keep them; the tests say what ecs-deploy makes of them.
KNOWN_PROBLEMS = {
    # Names where the model has AutoScalingGroup objects ({name, hook, ...}).
    ("deploy/get-deployment-group-1.json", "response.deploymentGroupInfo.autoScalingGroups[0]",
     "expected an object (AutoScalingGroup), got a string"),
    # A typo of taskDefinition.
    ("ecs/update-service-2.json", "response.service.deployments[0].taskkDefinition",
     "unknown member of Deployment"),
    ("ecs/update-service-5.json", "response.service.deployments[0].taskkDefinition",
     "unknown member of Deployment"),
}


def operation_of(command):
    """`describe-services` -> `DescribeServices`."""
    return "".join(part.capitalize() for part in command.split("-"))


def output_blocks(text, extra_intro=None):
    """The literal blocks of an .rst text that show what a command printed, as
    written, their common indentation taken off."""
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        intro = line == "Output::" or (extra_intro and line.startswith(extra_intro)
                                        and line.endswith("::"))
        i += 1
        if not intro:
            continue
        while i < len(lines) and not lines[i].strip():
            i += 1
        start = i
        while i < len(lines) and (not lines[i].strip() or lines[i][:1] in (" ", "\t")):
            i += 1
        blocks.append(textwrap.dedent("\n".join(lines[start:i])).strip("\n") + "\n")
    return blocks


def pinned_awscli():
    """The directory of the installed awscli, which must be the pinned one."""
    spec = importlib.util.find_spec("awscli")
    if spec is None or not spec.origin:
        sys.exit(f"{NAME}: awscli is not installed here; run `make models-venv` and this "
                 "script with target/models-venv/bin/python")
    import awscli

    want = model_check.pinned("awscli")
    if awscli.__version__ != want:
        print(f"{NAME}: awscli {awscli.__version__} is not the {want} that "
              "scripts/models-requirements.txt pins; run `make models-venv` and this "
              "script with target/models-venv/bin/python", file=sys.stderr)
        sys.exit(2)
    return os.path.dirname(spec.origin)


def recorded(awscli_dir):
    """{fixture path under fixtures/awscli: its text} as recording makes them."""
    fixtures = {}
    for directory, commands in EXAMPLES.items():
        for command in commands:
            source = os.path.join(awscli_dir, "examples", directory, f"{command}.rst")
            with open(source, encoding="utf-8") as f:
                text = f.read()
            blocks = output_blocks(text, EXTRA_INTROS.get(f"{directory}/{command}"))
            if not blocks:
                sys.exit(f"{NAME}: {source} has no output block")
            for n, block in enumerate(blocks, 1):
                name = f"{directory}/{command}-{n}.json"
                try:
                    json.loads(block)
                    if name in REPAIRS:
                        sys.exit(f"{NAME}: {name} is JSON as written now: take it off REPAIRS")
                except ValueError:
                    if name not in REPAIRS:
                        sys.exit(f"{NAME}: {name} ({source}, output block {n}) is not JSON "
                                 "and REPAIRS has no word on it")
                    block, commas = TRAILING_COMMA.subn(r"\1", block)
                    if commas != REPAIRS[name]:
                        sys.exit(f"{NAME}: {name} had {commas} trailing commas, not the "
                                 f"{REPAIRS[name]} REPAIRS says")
                    json.loads(block)
                fixtures[name] = block
    return fixtures


def on_disk():
    found = {}
    for directory, _, files in os.walk(OUT):
        for file in files:
            path = os.path.join(directory, file)
            with open(path, encoding="utf-8") as f:
                found[os.path.relpath(path, OUT).replace(os.sep, "/")] = f.read()
    return found


def model_problems(fixtures):
    """{(fixture, path, problem)} of every fixture against the pinned model."""
    models = {service: model_check.load_model(service) for service in set(SERVICES.values())}
    problems = set()
    for name, text in sorted(fixtures.items()):
        directory, file = name.split("/")
        command = re.sub(r"-\d+\.json$", "", file)
        output = models[SERVICES[directory]].operation_model(operation_of(command)).output_shape
        found = []
        model_check.check_value(json.loads(text), output, "response", found, cli_output=True)
        problems.update((name, path, problem) for path, problem in found)
    return problems


def check(fixtures):
    failures = []
    disk = on_disk()
    for name in sorted(set(fixtures) | set(disk)):
        if name not in disk:
            failures.append(f"{name}: missing (record it: {RECORD})")
        elif name not in fixtures:
            failures.append(f"{name}: not an output block of the pinned awscli's examples")
        elif disk[name] != fixtures[name]:
            failures.append(f"{name}: not what the pinned awscli's example says")
    problems = model_problems(fixtures)
    for name, path, problem in sorted(problems - KNOWN_PROBLEMS):
        failures.append(f"{name}: {path}: {problem}")
    for name, path, problem in sorted(KNOWN_PROBLEMS - problems):
        failures.append(f"{name}: {path}: no longer {problem!r}: take it off KNOWN_PROBLEMS")
    for failure in failures:
        print(failure)
    print(f"{NAME}: {len(fixtures)} AWS CLI examples (awscli {model_check.pinned('awscli')}) "
          f"checked against botocore {model_check.botocore.__version__}, "
          f"{len(KNOWN_PROBLEMS & problems)} known slips of AWS's, {len(failures)} problems")
    return 1 if failures else 0


def record(fixtures):
    for name, text in sorted(fixtures.items()):
        path = os.path.join(OUT, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print("wrote", os.path.relpath(path, ROOT))
    for name in sorted(set(on_disk()) - set(fixtures)):
        print(f"{NAME}: {name} is no output block of the pinned awscli's examples",
              file=sys.stderr)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="check the fixtures instead of recording them")
    opts = parser.parse_args()
    model_check.require_pinned_botocore(NAME)
    fixtures = recorded(pinned_awscli())
    return check(fixtures) if opts.check else record(fixtures)


if __name__ == "__main__":
    sys.exit(main())
