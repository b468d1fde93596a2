#!/usr/bin/env python3
"""Offline HCL checks of terraform/ (run by tests/iac-checks.sh with python-hcl2).

Parses every *.tf and *.tfvars* file, then checks what `terraform validate` would need a provider
download for, as far as it can be checked without one:
  - every configuration directory pins Terraform (required_version) and every provider it
    requires (source and version);
  - every variable has a description and a type, every output a description;
  - every module `source` and every `${path.module}/...` file a configuration names exists;
  - the collector only receives: its security group admits OTLP/HTTP (4318) from the agents' and
    the operator's groups and nothing else, and its task role may write to X-Ray and call
    aps:RemoteWrite on the cell's Prometheus workspace (its ARN, never a wildcard), nothing else;
  - the operator's metrics: its group's only ingress rule is on the metrics port, from the
    collector's group only (no address range), and the example environment passes the collector's
    group as that source;
  - the workspace's rule group loads deploy/prometheus/alerts.yml, the file Prometheus loads.

Usage: hcl_parse.py TERRAFORM_DIR   (exit 1 on any problem; one line per problem)
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

import hcl2
from hcl2 import SerializationOptions

OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
PATH_MODULE_FILE = re.compile(r"\$\{path\.module\}(/[A-Za-z0-9_./-]+)")


def blocks(doc, kind):
    """The labelled blocks of one kind, as (label, body) pairs."""
    for entry in doc.get(kind, []):
        for label, body in entry.items():
            yield label, body


def strings(value):
    """Every string inside a parsed value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def main(root: Path) -> int:
    problems = []
    files = sorted(p for p in root.rglob("*") if p.is_file() and (p.suffix == ".tf" or ".tfvars" in p.name))
    files = [p for p in files if ".terraform" not in p.parts]
    if not files:
        print(f"no Terraform files under {root}")
        return 1
    by_dir = defaultdict(list)
    for path in files:
        try:
            with path.open(encoding="utf-8") as f:
                doc = hcl2.load(f, serialization_options=OPTIONS)
        except Exception as e:  # noqa: BLE001 - report any parser failure as a problem
            problems.append(f"{path}: does not parse: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            continue
        if path.suffix == ".tf":
            by_dir[path.parent].append((path, doc))

    for directory, docs in sorted(by_dir.items()):
        terraform = [t for _, d in docs for t in d.get("terraform", [])]
        versions = [t.get("required_version") for t in terraform if t.get("required_version")]
        if not versions:
            problems.append(f"{directory}: no terraform {{ required_version = ... }}")
        pinned = {}
        for t in terraform:
            for req in t.get("required_providers", []):
                for name, spec in req.items():
                    if not isinstance(spec, dict) or not spec.get("source") or not spec.get("version"):
                        problems.append(f"{directory}: provider {name} needs source and version")
                    pinned[name] = spec
        for path, doc in docs:
            for kind in ("resource", "data", "ephemeral"):
                for rtype, _ in blocks(doc, kind):
                    provider = rtype.split("_", 1)[0]
                    if provider not in pinned:
                        problems.append(f"{path}: {kind} {rtype} uses provider {provider}, not in required_providers")
            for name, body in blocks(doc, "variable"):
                for field in ("description", "type"):
                    if field not in body:
                        problems.append(f"{path}: variable {name} has no {field}")
            for name, body in blocks(doc, "output"):
                if "description" not in body:
                    problems.append(f"{path}: output {name} has no description")
            for name, body in blocks(doc, "module"):
                source = body.get("source", "")
                if source.startswith(".") and not (directory / source).is_dir():
                    problems.append(f"{path}: module {name}: source {source} does not exist")
            for s in strings(doc):
                for rel in PATH_MODULE_FILE.findall(s):
                    if not (directory / rel.lstrip("/")).exists():
                        problems.append(f"{path}: names ${{path.module}}{rel}, which does not exist")

    check_collector(root, problems)
    check_operator_metrics(root, problems)
    check_alert_rules(root, problems)
    for p in problems:
        print(p)
    print(f"parsed {len(files)} files in {len(by_dir)} configurations: {len(problems)} problem(s)")
    return 1 if problems else 0


def resources(path: Path, rtype: str):
    """(name, body) of every resource of one type in one file."""
    with path.open(encoding="utf-8") as f:
        doc = hcl2.load(f, serialization_options=OPTIONS)
    for entry in doc.get("resource", []):
        for t, named in entry.items():
            if t == rtype:
                yield from named.items()


def check_collector(root: Path, problems: list[str]) -> None:
    network = root / "modules/network/main.tf"
    collector = root / "modules/collector/main.tf"
    if not network.exists() or not collector.exists():
        return
    sg = "${aws_security_group.collector.id}"
    ingress = [(n, b) for n, b in resources(network, "aws_vpc_security_group_ingress_rule") if b.get("security_group_id") == sg]
    if not ingress:
        problems.append(f"{network}: no ingress rule lets the agents and the operator reach the collector")
    for name, body in ingress:
        if "cidr_ipv4" in body or "cidr_ipv6" in body or "prefix_list_id" in body:
            problems.append(f"{network}: {name} admits addresses to the collector; only the task groups may reach it")
        if body.get("for_each") != "${local.task_groups}" or body.get("referenced_security_group_id") != "${each.value}":
            problems.append(f"{network}: {name} admits a group other than the agents' and the operator's")
        if body.get("from_port") != "${local.otlp_port}" or body.get("to_port") != "${local.otlp_port}":
            problems.append(f"{network}: {name} opens more than the OTLP/HTTP port")
    for name, body in resources(collector, "aws_iam_role_policy"):
        if body.get("role") != "${aws_iam_role.task.id}":
            continue
        policy = body.get("policy", "")
        actions = set(ACTION.findall(policy))
        if not actions or any(not (a.startswith("xray:") or a == "aps:RemoteWrite") or "*" in a for a in actions):
            problems.append(
                f"{collector}: the collector's task role may call {sorted(actions)}; X-Ray writes and aps:RemoteWrite only"
            )
        for sid, statement in policy_statements(policy):
            st_actions = set(ACTION.findall(statement))
            aps = {a for a in st_actions if a.startswith("aps:")}
            if not aps:
                continue
            if st_actions != {"aps:RemoteWrite"}:
                problems.append(f"{collector}: {sid} allows {sorted(st_actions)}; aps:RemoteWrite only, in its own statement")
            resource = re.search(r"\bResource\s*=\s*([^,}]+)", statement)
            if not resource or resource.group(1).strip() != "local.workspace_arn":
                problems.append(f"{collector}: {sid}: aps:RemoteWrite must name the workspace (Resource = local.workspace_arn)")
        if "aps:RemoteWrite" not in actions:
            problems.append(f"{collector}: the collector's task role cannot remote-write the operator's metrics")
    workspace_arn = locals_of(collector).get("workspace_arn", "")
    refs = re.findall(r"[A-Za-z_][\w.\[\]]*\.arn\b", workspace_arn)
    allowed = {"aws_prometheus_workspace.this[0].arn", "data.aws_prometheus_workspace.existing[0].arn"}
    if not refs or set(refs) - allowed or "*" in workspace_arn:
        problems.append(f"{collector}: local.workspace_arn must be the workspace's ARN, got {workspace_arn!r}")


# "service:Action" strings inside a policy expression.
ACTION = re.compile(r'"([a-z0-9-]+:[A-Za-z0-9*]+)"')


def policy_statements(policy: str):
    """(Sid, text) of every statement of a jsonencode() policy, as python-hcl2 prints it."""
    parts = re.split(r"\{\s*Sid\s*=\s*", policy)
    for part in parts[1:]:
        sid = re.match(r'"?([A-Za-z0-9]+)"?', part)
        yield (sid.group(1) if sid else "?"), part


def locals_of(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        doc = hcl2.load(f, serialization_options=OPTIONS)
    merged = {}
    for block in doc.get("locals", []):
        merged.update(block)
    return merged


def module_calls(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        doc = hcl2.load(f, serialization_options=OPTIONS)
    return dict(blocks(doc, "module"))


def check_operator_metrics(root: Path, problems: list[str]) -> None:
    """The operator's /metrics: one ingress rule, on the metrics port, from the collector's group only."""
    operator = root / "modules/operator/main.tf"
    network = root / "modules/network/main.tf"
    if not operator.exists() or not network.exists():
        return
    sg = "${var.security_group_id}"
    ingress = [(n, b) for n, b in resources(operator, "aws_vpc_security_group_ingress_rule") if b.get("security_group_id") == sg]
    if len(ingress) != 1:
        problems.append(f"{operator}: the operator's group needs exactly one ingress rule (the metrics port), has {len(ingress)}")
    for name, body in ingress:
        if any(k in body for k in ("cidr_ipv4", "cidr_ipv6", "prefix_list_id", "cidr_blocks")):
            problems.append(f"{operator}: {name} admits addresses to the operator; only the collector's group may reach it")
        if body.get("referenced_security_group_id") != "${var.metrics_scraper_security_group_id}":
            problems.append(f"{operator}: {name} admits a group other than the metrics scraper's")
        if body.get("from_port") != "${var.metrics_port}" or body.get("to_port") != "${var.metrics_port}":
            problems.append(f"{operator}: {name} opens more than the metrics port")
        if "for_each" in body or "count" in body:
            problems.append(f"{operator}: {name} must be one rule, not a set of them")
    for path in (operator, network):
        for name, body in resources(path, "aws_security_group_rule"):
            problems.append(f"{path}: {name}: use aws_vpc_security_group_*_rule (one rule, one source), not aws_security_group_rule")
    for name, body in resources(network, "aws_vpc_security_group_ingress_rule"):
        if body.get("security_group_id") == "${aws_security_group.operator.id}":
            problems.append(f"{network}: {name} adds ingress to the operator's group; its only rule is the metrics port in modules/operator")
    for name, body in resources(network, "aws_security_group"):
        if name == "operator" and "ingress" in body:
            problems.append(f"{network}: the operator's group has an inline ingress block")
    example = root / "environments/example/main.tf"
    if example.exists():
        call = module_calls(example).get("operator", {})
        if call.get("metrics_scraper_security_group_id") != "${module.network.collector_security_group_id}":
            problems.append(f"{example}: module operator: metrics_scraper_security_group_id must be the collector's group")


def check_alert_rules(root: Path, problems: list[str]) -> None:
    """The workspace loads the same rules file as Prometheus: deploy/prometheus/alerts.yml."""
    collector = root / "modules/collector/main.tf"
    if not collector.exists():
        return
    groups = list(resources(collector, "aws_prometheus_rule_group_namespace"))
    if len(groups) != 1:
        problems.append(f"{collector}: expected one aws_prometheus_rule_group_namespace, found {len(groups)}")
        return
    name, body = groups[0]
    if body.get("data") != "${file(local.alert_rules_file)}":
        problems.append(f"{collector}: {name} must load its rules with file(local.alert_rules_file)")
    default = locals_of(collector).get("alert_rules_file", "")
    m = PATH_MODULE_FILE.search(default)
    rules = (root.resolve().parent / "deploy/prometheus/alerts.yml").resolve()
    if not m or (collector.parent / m.group(1).lstrip("/")).resolve() != rules:
        problems.append(f"{collector}: local.alert_rules_file must default to deploy/prometheus/alerts.yml, got {default!r}")
    example = root / "environments/example/main.tf"
    if example.exists() and "alert_rules_file" in module_calls(example).get("collector", {}):
        problems.append(f"{example}: module collector: leave alert_rules_file at its default, deploy/prometheus/alerts.yml")

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1])))
