#!/usr/bin/env python3
"""Renders deploy/operator/task-definition.json for one release of the operator.

Usage:
  render_task_definition.py INPUTS_JSON OPERATOR_IMAGE AGENT_IMAGE > task-definition.rendered.json

INPUTS_JSON is `terraform output -json operator_task_definition_inputs` of the environment (the
operator module's task_definition_inputs), among them the two secrets ECS injects:
database_url_secret_arn (DATABASE_URL, the control store) and tenant_database_url_secret_arn
(TENANT_DATABASE_URL, the cell's tenant database). Both images must be pinned by digest
(`<repository>@sha256:<64 hex>`): a release never refers to a tag. The agent image becomes
cell.agent_image of the operator's configuration, so tenants' task definitions pin it too.

Terraform renders the same template with templatefile() for the service's first revision; ${name}
placeholders mean the same to both (string.Template here).
"""

import json
import re
import string
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("task-definition.json")
DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9./_:-]*@sha256:[0-9a-f]{64}$")


def render(inputs: dict, operator_image: str, agent_image: str, template: str | None = None) -> dict:
    for name, ref in (("operator image", operator_image), ("agent image", agent_image)):
        if not DIGEST_REF.match(ref):
            raise ValueError(f"{name} must be pinned by digest (<repository>@sha256:<hex>), got {ref!r}")
    config = json.loads(json.dumps(inputs["cell_config"]))
    config.setdefault("cell", {})["agent_image"] = agent_image
    values = {k: v for k, v in inputs.items() if k != "cell_config"}
    values["image"] = operator_image
    # The configuration travels as JSON text (JSON is YAML) inside a JSON string value.
    values["cell_config_json"] = json.dumps(json.dumps(config, separators=(",", ":"), sort_keys=True))
    tpl = string.Template(template if template is not None else TEMPLATE.read_text())
    missing = sorted(set(tpl.get_identifiers()) - set(values))
    if missing:
        raise ValueError(f"the inputs lack {missing}: apply the Terraform that outputs them first")
    text = tpl.substitute(values)
    return json.loads(text)


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    inputs = json.loads(Path(argv[1]).read_text())
    try:
        doc = render(inputs, argv[2], argv[3])
    except (ValueError, KeyError) as e:
        print(f"render_task_definition: {e}", file=sys.stderr)
        return 1
    json.dump(doc, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
