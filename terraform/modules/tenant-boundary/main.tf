# The permissions boundary every tenant role carries: the most any tenant agent can ever do, whatever
# its inline policy says. Rendered from the single template the local stack renders too
# (deploy/local/bootstrap.sh), so production and the emulator cap tenants identically.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  template = coalesce(var.policy_template, "${path.module}/../../../deploy/policies/tenant-boundary.json.tpl")
  # Decoded and re-encoded: a template that is not valid JSON fails the plan, not the apply.
  document = jsonencode(jsondecode(templatefile(local.template, {
    partition      = data.aws_partition.current.partition
    region         = data.aws_region.current.region
    account_id     = data.aws_caller_identity.current.account_id
    tenant_bucket  = var.tenant_bucket
    db_resource_id = var.db_resource_id
  })))
}

resource "aws_iam_policy" "boundary" {
  name        = var.name
  path        = var.path
  description = "OpenClaw: permissions boundary of every tenant agent role"
  policy      = local.document
  tags        = var.tags
}
