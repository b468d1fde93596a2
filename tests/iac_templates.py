#!/usr/bin/env python3
"""Offline checks of the JSON templates Terraform renders with templatefile() (run by
tests/iac-checks.sh). Terraform itself cannot plan here, so this renders each template the way its
users do and checks what a plan would only find at apply time, or never:

  - deploy/policies/tenant-boundary.json.tpl (Terraform's tenant-boundary module and
    deploy/local/bootstrap.sh) and terraform/modules/operator/operator-policy.json.tpl:
    valid JSON once rendered; placeholders are exactly the variables the module passes; every
    statement has a unique Sid; an Allow on Resource "*" only in a statement whose Sid says
    NoResourceLevelPermissions;
  - deploy/operator/task-definition.json, rendered by deploy/operator/render_task_definition.py
    (the deploy pipeline) with digests: Fargate, awsvpc, read-only root, non-root user, all
    capabilities dropped, DATABASE_URL and TENANT_DATABASE_URL only from Secrets Manager, no
    secret-looking environment; the operator module's task_definition_inputs output (what the
    pipeline renders with) carries every placeholder but the images and the configuration.

Usage: iac_templates.py REPO_ROOT
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def templatefile_calls(text: str) -> list[tuple[str, str]]:
    """(whole call, second argument) of every templatefile() call, with HCL strings skipped."""
    calls = []
    for m in re.finditer(r"templatefile\(", text):
        i, depth, in_str, comma = m.end(), 1, False, None
        while depth and i < len(text):
            c = text[i]
            if in_str:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c in "({[":
                depth += 1
            elif c in ")}]":
                depth -= 1
            elif c == "," and depth == 1 and comma is None:
                comma = i
            i += 1
        if comma is not None:
            calls.append((text[m.start() : i], text[comma + 1 : i - 1]))
    return calls


def template_vars_passed(module_main: Path, template_name: str) -> set[str]:
    """Keys of the map a module passes to templatefile() for the template named template_name."""
    text = module_main.read_text()
    calls = templatefile_calls(text)
    named = [c for c in calls if template_name in c[0]]
    if not named and len(calls) == 1 and template_name in text:
        named = calls  # the path is in a local the module's only call uses
    if len(named) != 1:
        raise AssertionError(f"{module_main}: expected one templatefile() call for {template_name}")
    return set(re.findall(r"^\s*(\w+)\s*=", named[0][1], re.M))


def output_map_keys(module_outputs: Path, output_name: str) -> set[str]:
    """Top-level keys of the map an output's value is (value = { key = ..., ... })."""
    text = module_outputs.read_text()
    m = re.search(r'output\s+"' + re.escape(output_name) + r'"\s*\{.*?\bvalue\s*=\s*\{', text, re.S)
    if not m:
        raise AssertionError(f"{module_outputs}: no output {output_name} whose value is a map")
    i, depth, start = m.end(), 1, m.end()
    while depth and i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    body = text[start : i - 1]
    return set(re.findall(r"^    (\w+)\s*=", body, re.M))


# Environment variables the operator's container must get from Secrets Manager, never in plain text.
SECRET_ENV = ("DATABASE_URL", "TENANT_DATABASE_URL")


def dummy_render(text: str) -> str:
    return PLACEHOLDER.sub(lambda m: f"PLACEHOLDER_{m.group(1)}", text)


def check_policy(path: Path, passed: set[str], problems: list[str]) -> None:
    text = path.read_text()
    used = set(PLACEHOLDER.findall(text))
    if used - passed:
        problems.append(f"{path}: placeholders not passed by the module: {sorted(used - passed)}")
    if passed - used:
        problems.append(f"{path}: the module passes variables the template never uses: {sorted(passed - used)}")
    try:
        doc = json.loads(dummy_render(text))
    except json.JSONDecodeError as e:
        problems.append(f"{path}: not valid JSON once rendered: {e}")
        return
    sids = []
    for i, st in enumerate(doc.get("Statement", [])):
        sid = st.get("Sid")
        if not sid:
            problems.append(f"{path}: statement {i} has no Sid")
            continue
        sids.append(sid)
        resources = st.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if st.get("Effect") == "Allow" and "*" in resources and "NoResourceLevelPermissions" not in sid:
            problems.append(f"{path}: {sid} allows Resource \"*\" but its Sid does not say NoResourceLevelPermissions")
        if "NotResource" in st and st.get("Effect") == "Allow":
            problems.append(f"{path}: {sid} allows with NotResource")
    dupes = {s for s in sids if sids.count(s) > 1}
    if dupes:
        problems.append(f"{path}: duplicate Sids {sorted(dupes)}")


def check_task_definition(root: Path, problems: list[str]) -> None:
    spec = importlib.util.spec_from_file_location("render", root / "deploy/operator/render_task_definition.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    path = root / "deploy/operator/task-definition.json"
    used = set(PLACEHOLDER.findall(path.read_text()))
    passed = template_vars_passed(root / "terraform/modules/operator/main.tf", "task-definition.json")
    if used != passed:
        problems.append(f"{path}: placeholders {sorted(used)} but Terraform passes {sorted(passed)}")
    outputs = root / "terraform/modules/operator/outputs.tf"
    pipeline = output_map_keys(outputs, "task_definition_inputs")
    expected = (used - {"image", "cell_config_json"}) | {"cell_config"}
    if pipeline != expected:
        problems.append(
            f"{outputs}: task_definition_inputs has {sorted(pipeline)}, the pipeline needs {sorted(expected)}"
        )
    inputs = {name: f"x-{name}" for name in used if name not in ("image", "cell_config_json")}
    inputs["cell_config"] = {"cell": {"name": "test", "account_id": "123456789012"}}
    digest = "@sha256:" + "0" * 64
    try:
        render.render(inputs, "openclaw/operator:latest", "openclaw/agent" + digest)
        problems.append("render_task_definition.py accepts an image without a digest")
    except ValueError:
        pass
    try:
        td = render.render(inputs, "openclaw/operator" + digest, "openclaw/agent" + digest)
    except Exception as e:  # noqa: BLE001
        problems.append(f"{path}: does not render: {e}")
        return
    if td.get("networkMode") != "awsvpc" or td.get("requiresCompatibilities") != ["FARGATE"]:
        problems.append(f"{path}: must be awsvpc and Fargate only")
    for c in td.get("containerDefinitions", []):
        name = c.get("name")
        if c.get("readonlyRootFilesystem") is not True:
            problems.append(f"{path}: container {name}: readonlyRootFilesystem must be true")
        if c.get("privileged") is not False:
            problems.append(f"{path}: container {name}: privileged must be false")
        user = str(c.get("user", "")).split(":")[0]
        if user in ("", "0", "root"):
            problems.append(f"{path}: container {name}: must run as a non-root user")
        if "ALL" not in c.get("linuxParameters", {}).get("capabilities", {}).get("drop", []):
            problems.append(f"{path}: container {name}: must drop all capabilities")
        env = {e["name"]: e["value"] for e in c.get("environment", [])}
        for key in env:
            if re.search(r"PASSWORD|SECRET|TOKEN|DATABASE_URL|KEY", key):
                problems.append(f"{path}: container {name}: {key} looks like a secret in plain environment")
        secrets = {s["name"]: s.get("valueFrom") for s in c.get("secrets", [])}
        for var in SECRET_ENV:
            if var not in secrets:
                problems.append(f"{path}: container {name}: {var} must come from Secrets Manager (secrets)")
        arns = [secrets[v] for v in SECRET_ENV if v in secrets]
        if len(set(arns)) != len(arns):
            problems.append(f"{path}: container {name}: {' and '.join(SECRET_ENV)} name one secret")
        config = json.loads(env.get("OPENCLAW_CONFIG_YAML", "{}"))
        if config.get("cell", {}).get("agent_image") != "openclaw/agent" + digest:
            problems.append(f"{path}: container {name}: cell.agent_image is not the agent digest")


def main(root: Path) -> int:
    problems: list[str] = []
    check_policy(
        root / "deploy/policies/tenant-boundary.json.tpl",
        template_vars_passed(root / "terraform/modules/tenant-boundary/main.tf", "tenant-boundary.json.tpl"),
        problems,
    )
    check_policy(
        root / "terraform/modules/operator/operator-policy.json.tpl",
        template_vars_passed(root / "terraform/modules/operator/main.tf", "operator-policy.json.tpl"),
        problems,
    )
    check_task_definition(root, problems)
    for p in problems:
        print(p)
    print(f"3 templates checked: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1])))
