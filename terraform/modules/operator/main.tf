# The operator: its ECS service, its task role (exactly the AWS calls the reconciler makes, scoped to
# tenant resources; the document is operator-policy.json.tpl, which tests parse too), and its own
# execution role (pulls the operator image, writes its logs, reads its DATABASE_URL and
# TENANT_DATABASE_URL secrets).
#
# Metrics: the operator serves /metrics (and /healthz, /readyz) on operator.listen. Inside the task
# that is 0.0.0.0:<metrics_port>, and the only way in is one security-group rule from the metrics
# scraper's group (the cell's collector); each task registers its address in Cloud Map
# (service_registry_arn), which is how the scraper finds every replica.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  task_role_policy = jsonencode(jsondecode(templatefile("${path.module}/operator-policy.json.tpl", {
    partition          = local.partition
    region             = local.region
    account_id         = local.account_id
    cluster_name       = var.cluster_name
    boundary_arn       = var.permissions_boundary_arn
    execution_role_arn = var.agent_execution_role_arn
    db_identifier      = var.db_identifier
    operator_service   = var.name
    tenant_bucket      = var.tenant_bucket
  })))

  # The user's configuration with operator.listen on every interface of the task at metrics_port
  # (the default 127.0.0.1 is unreachable from the scraper); the user's other operator keys stay.
  # The deploy pipeline renders the same (task_definition_inputs.cell_config).
  cell_config = merge(var.cell_config, {
    operator = merge(try(var.cell_config.operator, {}), { listen = "0.0.0.0:${var.metrics_port}" })
  })

  # The same template the deploy pipeline renders for every release (by image digest).
  task_definition = jsondecode(templatefile(
    coalesce(var.task_definition_template, "${path.module}/../../../deploy/operator/task-definition.json"),
    {
      family                         = var.name
      task_role_arn                  = aws_iam_role.task.arn
      execution_role_arn             = aws_iam_role.execution.arn
      image                          = coalesce(var.image, "${var.repository_url}:initial")
      cpu                            = var.cpu
      memory                         = var.memory
      log_group                      = aws_cloudwatch_log_group.operator.name
      region                         = local.region
      database_url_secret_arn        = var.database_url_secret_arn
      tenant_database_url_secret_arn = var.tenant_database_url_secret_arn
      cell_config_json               = jsonencode(jsonencode(local.cell_config))
      otlp_endpoint                  = coalesce(var.otlp_endpoint, "")
    },
  ))

  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EcsTasksOfThisAccountOnly"
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:*" }
      }
    }]
  })
}

resource "aws_cloudwatch_log_group" "operator" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.logs_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

# --- Task role: what the reconciler may do ---------------------------------------------------------

resource "aws_iam_role" "task" {
  name               = var.name
  description        = "OpenClaw operator: manages tenant roles, secrets, task definitions and services of its cell"
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  name   = var.name
  role   = aws_iam_role.task.id
  policy = local.task_role_policy
}

# --- Execution role: start the operator's task -----------------------------------------------------

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "OpenClaw operator tasks: pull the operator image, write its logs, read its DATABASE_URL and TENANT_DATABASE_URL"
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name = "${var.name}-execution"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # ecr:GetAuthorizationToken supports no resource-level permission.
        Sid      = "EcrLoginNoResourceLevelPermissions"
        Effect   = "Allow"
        Action   = "ecr:GetAuthorizationToken"
        Resource = "*"
      },
      {
        Sid      = "PullOperatorImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        Resource = var.repository_arn
      },
      {
        Sid      = "WriteOperatorLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.operator.arn}:*"
      },
      {
        # DATABASE_URL (the control store) and TENANT_DATABASE_URL (the cell's tenant database).
        Sid      = "ReadDatabaseUrls"
        Effect   = "Allow"
        Action   = "secretsmanager:GetSecretValue"
        Resource = [var.database_url_secret_arn, var.tenant_database_url_secret_arn]
      },
      {
        Sid      = "DecryptDatabaseUrlsThroughSecretsManager"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = [var.database_kms_key_arn, var.tenant_database_kms_key_arn]
        Condition = {
          StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" }
        }
      },
    ]
  })
}

# --- Task definition and service -------------------------------------------------------------------

resource "aws_ecs_task_definition" "operator" {
  family                   = local.task_definition.family
  task_role_arn            = local.task_definition.taskRoleArn
  execution_role_arn       = local.task_definition.executionRoleArn
  network_mode             = local.task_definition.networkMode
  requires_compatibilities = local.task_definition.requiresCompatibilities
  cpu                      = local.task_definition.cpu
  memory                   = local.task_definition.memory
  # The template has one container, the operator's; it gets the metrics port (documentation in
  # awsvpc mode, where the security group decides what reaches the task).
  container_definitions = jsonencode([for c in local.task_definition.containerDefinitions : merge(c, {
    portMappings = [{ name = "metrics", containerPort = var.metrics_port, protocol = "tcp" }]
  })])

  runtime_platform {
    cpu_architecture        = local.task_definition.runtimePlatform.cpuArchitecture
    operating_system_family = local.task_definition.runtimePlatform.operatingSystemFamily
  }

  tags = merge(var.tags, { for t in local.task_definition.tags : t.key => t.value })
}

resource "aws_ecs_service" "operator" {
  name             = var.name
  cluster          = var.cluster_arn
  task_definition  = aws_ecs_task_definition.operator.arn
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  # Starts empty: the deploy pipeline sets the count when it deploys the first image by digest.
  desired_count = 0

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_id]
    assign_public_ip = false
  }

  # One A record per running task (Cloud Map): the metrics scraper resolves it to every replica.
  dynamic "service_registries" {
    for_each = var.service_registry_arn == null ? [] : [var.service_registry_arn]
    content {
      registry_arn = service_registries.value
    }
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  # Leader election (a lease row) keeps a second replica idle during a rolling deployment.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  enable_execute_command  = false

  tags = var.tags

  lifecycle {
    # Owned by the deploy pipeline after the first apply: it registers revisions by image digest.
    ignore_changes = [task_definition, desired_count]
  }
}

# --- Metrics: reachable from the scraper's group only ----------------------------------------------
# The two halves of one path, on the metrics port only: the scraper's group may send to the
# operator's, and the operator's admits the scraper's. No address range is ever a source.

resource "aws_vpc_security_group_ingress_rule" "metrics_from_scraper" {
  security_group_id            = var.security_group_id
  description                  = "Prometheus scrape of /metrics from the metrics scraper (the cell's collector) only"
  ip_protocol                  = "tcp"
  from_port                    = var.metrics_port
  to_port                      = var.metrics_port
  referenced_security_group_id = var.metrics_scraper_security_group_id
  tags                         = var.tags
}

resource "aws_vpc_security_group_egress_rule" "scraper_to_metrics" {
  security_group_id            = var.metrics_scraper_security_group_id
  description                  = "Prometheus scrape of the operator's /metrics"
  ip_protocol                  = "tcp"
  from_port                    = var.metrics_port
  to_port                      = var.metrics_port
  referenced_security_group_id = var.security_group_id
  tags                         = var.tags
}
