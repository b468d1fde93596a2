# The cell's network: a VPC with private subnets only (no internet gateway, no NAT). Tasks reach AWS
# through VPC endpoints; security groups allow only what agents, the operator and the trace collector
# need.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# Fails the plan when a listed zone is not available in the region.
data "aws_availability_zones" "listed" {
  state = "available"
  filter {
    name   = "zone-name"
    values = var.availability_zones
  }
}

locals {
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = var.availability_zones
  az_count   = length(var.availability_zones)

  # IAM's interface endpoint exists only in us-east-1, under a name without the region.
  interface_endpoints = merge(
    { for s in concat(var.agent_endpoints, var.operator_endpoints, var.collector_endpoints) : s => "com.amazonaws.${local.region}.${s}" },
    local.region == "us-east-1" ? { iam = "com.amazonaws.iam" } : {},
  )
  # Endpoints whose services support endpoint policies: only this account's principals may use them.
  policy_endpoints = toset(["secretsmanager", "ecr.api", "ecr.dkr", "logs", "sts", "bedrock-runtime", "aps-workspaces"])
}

# --- VPC, subnets, routing -------------------------------------------------------------------------

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true # private DNS names of the interface endpoints
  tags                 = merge(var.tags, { Name = var.name })
}

# The default security group allows nothing at all.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_subnet" "private" {
  count                   = local.az_count
  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.cidr_block, 4, count.index)
  map_public_ip_on_launch = false
  tags                    = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}", Tier = "private" })

  lifecycle {
    precondition {
      condition     = length(data.aws_availability_zones.listed.names) == local.az_count
      error_message = "Every zone in availability_zones must exist and be available in this region."
    }
  }
}

# Only the local route (and the S3 gateway endpoint's prefix list): nothing leaves the VPC otherwise.
resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-private" })
}

resource "aws_route_table_association" "private" {
  count          = local.az_count
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# --- Flow logs -------------------------------------------------------------------------------------

resource "aws_kms_key" "logs" {
  description         = "${var.name}: CloudWatch Logs (flow logs, operator and database logs)"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*" # in a key policy, "*" is this key
      },
      {
        Sid       = "CloudWatchLogsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*" }
        }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${var.name}-logs"
  target_key_id = aws_kms_key.logs.key_id
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/vpc/${var.name}/flow-logs"
  retention_in_days = var.logs_retention_days
  kms_key_id        = aws_kms_key.logs.arn
  tags              = var.tags
}

resource "aws_iam_role" "flow_logs" {
  name = "${var.name}-vpc-flow-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "VpcFlowLogsOfThisAccount"
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "flow_logs" {
  name = "${var.name}-vpc-flow-logs"
  role = aws_iam_role.flow_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "WriteFlowLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      Resource = "${aws_cloudwatch_log_group.flow_logs.arn}:*"
    }]
  })
}

resource "aws_flow_log" "this" {
  vpc_id          = aws_vpc.this.id
  traffic_type    = "ALL"
  log_destination = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn    = aws_iam_role.flow_logs.arn
  tags            = var.tags
}

# --- Security groups -------------------------------------------------------------------------------
# Rules are separate resources, so the groups can refer to each other without a cycle. A group with
# no egress rule has none: Terraform removes AWS's default allow-all egress.

resource "aws_security_group" "agents" {
  #checkov:skip=CKV2_AWS_5:Attached at run time: the operator puts it on every tenant service (cell.security_groups)
  name        = "${var.name}-agents"
  description = "OpenClaw agent tasks: no ingress; HTTPS to the VPC endpoints and S3, PostgreSQL to the database"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-agents" })
}

# Its one ingress rule (the metrics port, from the collector's group only) is in modules/operator, next
# to the port it opens. The description predates it; changing a description replaces the group.
resource "aws_security_group" "operator" {
  #checkov:skip=CKV2_AWS_5:Attached to the operator service in modules/operator (through a module input, which the check does not follow)
  name        = "${var.name}-operator"
  description = "OpenClaw operator: no ingress; HTTPS to the VPC endpoints and S3, PostgreSQL to the database"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-operator" })
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "Interface VPC endpoints: HTTPS from the agents and the operator only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-endpoints" })
}

resource "aws_security_group" "collector" {
  #checkov:skip=CKV2_AWS_5:Attached to the collector service in modules/collector (through a module input, which the check does not follow)
  name        = "${var.name}-collector"
  description = "OpenClaw trace collector: OTLP/HTTP from the agents and the operator; HTTPS to the VPC endpoints and S3"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-collector" })
}

resource "aws_security_group" "database" {
  #checkov:skip=CKV2_AWS_5:Attached to the DB instance in modules/database (through a module input, which the check does not follow)
  name        = "${var.name}-database"
  description = "The cell's PostgreSQL: port 5432 from the agents and the operator only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-database" })
}

# The control store is its own instance: no tenant session ever reaches it, so only the operator may.
resource "aws_security_group" "control_store" {
  #checkov:skip=CKV2_AWS_5:Attached to the control store's DB instance in modules/database (through a module input, which the check does not follow)
  name        = "${var.name}-control-store"
  description = "The control store's PostgreSQL: port 5432 from the operator only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-control-store" })
}

locals {
  task_groups = {
    agents   = aws_security_group.agents.id
    operator = aws_security_group.operator.id
  }
  # Everything that calls AWS through the endpoints and pulls images through S3.
  endpoint_clients = merge(local.task_groups, { collector = aws_security_group.collector.id })
  otlp_port        = 4318
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_endpoints" {
  for_each                     = local.endpoint_clients
  security_group_id            = each.value
  description                  = "HTTPS to the interface VPC endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_s3" {
  for_each          = local.endpoint_clients
  security_group_id = each.value
  description       = "HTTPS to S3 through the gateway endpoint (image layers, the tenant bucket)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_database" {
  for_each                     = local.task_groups
  security_group_id            = each.value
  description                  = "PostgreSQL to the cell's database"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

# The operator only: the agents' group has no rule to the control store.
resource "aws_vpc_security_group_egress_rule" "operator_to_control_store" {
  security_group_id            = aws_security_group.operator.id
  description                  = "PostgreSQL to the control store"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.control_store.id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_tasks" {
  for_each                     = local.endpoint_clients
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = each.value
}

# Traces: agents and the operator send OTLP/HTTP to the collector, which only receives.
resource "aws_vpc_security_group_egress_rule" "tasks_to_collector" {
  for_each                     = local.task_groups
  security_group_id            = each.value
  description                  = "OTLP/HTTP to the trace collector"
  ip_protocol                  = "tcp"
  from_port                    = local.otlp_port
  to_port                      = local.otlp_port
  referenced_security_group_id = aws_security_group.collector.id
}

resource "aws_vpc_security_group_ingress_rule" "collector_from_tasks" {
  for_each                     = local.task_groups
  security_group_id            = aws_security_group.collector.id
  description                  = "OTLP/HTTP from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.otlp_port
  to_port                      = local.otlp_port
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_ingress_rule" "database_from_tasks" {
  for_each                     = local.task_groups
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_ingress_rule" "control_store_from_operator" {
  security_group_id            = aws_security_group.control_store.id
  description                  = "PostgreSQL from the operator tasks only"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.operator.id
}

# --- VPC endpoints ---------------------------------------------------------------------------------

resource "aws_vpc_endpoint" "interface" {
  for_each            = local.interface_endpoints
  vpc_id              = aws_vpc.this.id
  service_name        = each.value
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
  policy = contains(local.policy_endpoints, each.key) ? jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OnlyThisAccountsPrincipals"
      Effect    = "Allow"
      Principal = "*"
      Action    = "*"
      Resource  = "*"
      Condition = { StringEquals = { "aws:PrincipalAccount" = local.account_id } }
    }]
  }) : null
  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EcrImageLayers"
        Effect    = "Allow"
        Principal = "*"
        Action    = "s3:GetObject"
        Resource  = "arn:${local.partition}:s3:::prod-${local.region}-starport-layer-bucket/*"
      },
      {
        Sid       = "CellBucketsOnly"
        Effect    = "Allow"
        Principal = "*"
        Action    = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
        Resource = flatten([for b in var.s3_bucket_names : [
          "arn:${local.partition}:s3:::${b}",
          "arn:${local.partition}:s3:::${b}/*",
        ]])
        Condition = { StringEquals = { "aws:PrincipalAccount" = local.account_id } }
      },
    ]
  })
  tags = merge(var.tags, { Name = "${var.name}-s3" })
}
