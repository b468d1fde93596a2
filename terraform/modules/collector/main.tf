# The cell's collector: one ADOT (AWS Distro for OpenTelemetry) service with two pipelines.
#
# Traces: it receives OTLP/HTTP on port 4318 from the agents and the operator and forwards the spans
# to X-Ray through the VPC's X-Ray endpoint. Agents and the operator find it by a private DNS name
# (Cloud Map), which is cell.agent_otlp_endpoint and the operator's OTEL_EXPORTER_OTLP_ENDPOINT.
#
# Metrics: it scrapes the operator's /metrics (job openclaw-operator, like
# deploy/prometheus/prometheus.yml) and remote-writes the samples, signed with SigV4, to an Amazon
# Managed Service for Prometheus workspace through the VPC's aps-workspaces endpoint. The operator's
# tasks register in Cloud Map as operator.<namespace> (one A record per task, this module's
# operator_service_registry_arn); the scrape resolves that name (Prometheus dns_sd_configs), so every
# replica is a target (instance <task IP>:<port>) and a replaced task is found within 30 s. Every
# collector task scrapes: the samples carry cluster = <name> and __replica__ = <the task>, and the
# workspace keeps one replica's (AMP's high-availability de-duplication; it drops __replica__). The
# workspace evaluates deploy/prometheus/alerts.yml, the same file a plain Prometheus loads.
#
# It only receives, scrapes and forwards: its task role may write trace segments and remote-write to
# that one workspace, and no caller can read a span or a sample back through it. The image comes
# through an ECR pull-through cache of the ECR Public Gallery, pinned by digest, so the private
# subnets need no internet path.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  port = 4318

  # The workspace: this module's, or the one named by prometheus_workspace_id.
  workspace_id       = var.prometheus_workspace_id == null ? aws_prometheus_workspace.this[0].id : var.prometheus_workspace_id
  workspace_arn      = var.prometheus_workspace_id == null ? aws_prometheus_workspace.this[0].arn : data.aws_prometheus_workspace.existing[0].arn
  workspace_endpoint = var.prometheus_workspace_id == null ? aws_prometheus_workspace.this[0].prometheus_endpoint : data.aws_prometheus_workspace.existing[0].prometheus_endpoint
  # prometheus_endpoint ends with a slash: https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/
  remote_write_url = "${trimsuffix(local.workspace_endpoint, "/")}/api/v1/remote_write"
  query_url        = "${trimsuffix(local.workspace_endpoint, "/")}/api/v1/query"

  operator_dns_name = "${aws_service_discovery_service.this["operator"].name}.${aws_service_discovery_private_dns_namespace.this.name}"
  alert_rules_file  = coalesce(var.alert_rules_file, "${path.module}/../../../deploy/prometheus/alerts.yml")

  # The repository the pull-through cache creates on the first pull of the image.
  image_repository     = regex("^[^/]+/([^@:]+)", var.image)[0]
  image_repository_arn = "arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${local.image_repository}"

  # Spans are attributes only (no message content ever reaches a span); these become X-Ray
  # annotations, so traces can be searched by tenant.
  config = yamlencode({
    extensions = {
      health_check = { endpoint = "127.0.0.1:13133" }
      # Signs the remote writes with the task role's credentials.
      sigv4auth = { region = local.region, service = "aps" }
    }
    receivers = {
      otlp = { protocols = { http = {
        endpoint = "0.0.0.0:${local.port}"
        # One caller cannot make the collector buffer an unbounded request.
        max_request_body_size = var.max_request_body_bytes
      } } }
      # The job name and interval of deploy/prometheus/prometheus.yml: alerts.yml selects
      # job="openclaw-operator".
      prometheus = { config = { scrape_configs = [{
        job_name        = "openclaw-operator"
        scrape_interval = "15s"
        scrape_timeout  = "10s"
        metrics_path    = "/metrics"
        dns_sd_configs = [{
          names            = [local.operator_dns_name]
          type             = "A"
          port             = var.operator_metrics_port
          refresh_interval = "30s"
        }]
      }] } }
    }
    processors = {
      # Under memory pressure it refuses new spans and scrapes instead of failing for every caller.
      memory_limiter = { check_interval = "1s", limit_percentage = 75, spike_limit_percentage = 20 }
      batch          = {}
    }
    exporters = {
      awsxray = { region = local.region, indexed_attributes = ["tenant", "agent", "cell", "outcome"] }
      prometheusremotewrite = {
        endpoint = local.remote_write_url
        auth     = { authenticator = "sigv4auth" }
        # AMP de-duplicates the collector tasks' identical scrapes: one cluster, one replica per task
        # (the task's metadata URI names the task; ECS sets it in every Fargate container).
        external_labels = {
          cluster     = var.name
          __replica__ = "$${env:ECS_CONTAINER_METADATA_URI_V4}"
        }
      }
    }
    service = {
      extensions = ["health_check", "sigv4auth"]
      pipelines = {
        traces  = { receivers = ["otlp"], processors = ["memory_limiter", "batch"], exporters = ["awsxray"] }
        metrics = { receivers = ["prometheus"], processors = ["memory_limiter", "batch"], exporters = ["prometheusremotewrite"] }
      }
    }
  })

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

resource "aws_ecr_pull_through_cache_rule" "ecr_public" {
  ecr_repository_prefix = var.pull_through_prefix
  upstream_registry_url = "public.ecr.aws"
}

resource "aws_cloudwatch_log_group" "collector" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.logs_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

# --- Task role: write trace segments and the operator's samples, nothing else ----------------------

resource "aws_iam_role" "task" {
  name               = var.name
  description        = "OpenClaw collector: writes trace segments to X-Ray and the operator's metrics to its Prometheus workspace"
  assume_role_policy = local.ecs_tasks_trust
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  name = var.name
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # X-Ray's write and sampling actions support no resource-level permission.
        Sid      = "WriteTracesNoResourceLevelPermissions"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
        Resource = "*"
      },
      {
        # Write only (no query): the one workspace.
        Sid      = "RemoteWriteMetricsToTheWorkspace"
        Effect   = "Allow"
        Action   = "aps:RemoteWrite"
        Resource = local.workspace_arn
      },
    ]
  })
}

# --- Execution role: pull the image through the cache, write the collector's own logs ---------------

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "OpenClaw trace collector tasks: pull the ADOT image through the pull-through cache and write its logs"
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
        # The first pull creates the cached repository and imports the image into it.
        Sid      = "PullCollectorImageThroughTheCache"
        Effect   = "Allow"
        Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
        Resource = local.image_repository_arn
      },
      {
        Sid      = "WriteCollectorLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.collector.arn}:*"
      },
    ]
  })
}

# --- Discovery, task definition, service -----------------------------------------------------------

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = var.namespace
  description = "OpenClaw cell services reached by name (the collector; the operator's tasks, for the metrics scrape)"
  vpc         = var.vpc_id
  tags        = var.tags
}

# collector.<namespace>: the collector's tasks, for the agents' and the operator's OTLP exports.
# operator.<namespace>: the operator's service registers its tasks here (operator_service_registry_arn),
# one A record per task, which the metrics scrape resolves.
resource "aws_service_discovery_service" "this" {
  for_each = toset(["collector", "operator"])
  name     = each.key

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"
    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {}

  tags = var.tags
}

moved {
  from = aws_service_discovery_service.collector
  to   = aws_service_discovery_service.this["collector"]
}

resource "aws_ecs_task_definition" "collector" {
  family                   = var.name
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = var.cpu
  memory                   = var.memory

  runtime_platform {
    cpu_architecture        = "X86_64"
    operating_system_family = "LINUX"
  }

  container_definitions = jsonencode([{
    name                   = "collector"
    image                  = var.image
    essential              = true
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    privileged             = false
    linuxParameters        = { capabilities = { drop = ["ALL"] }, initProcessEnabled = true }
    portMappings           = [{ containerPort = local.port, protocol = "tcp" }]
    environment            = [{ name = "AOT_CONFIG_CONTENT", value = local.config }]
    healthCheck = {
      command     = ["/healthcheck"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.collector.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "collector"
      }
    }
  }])

  tags = var.tags
}

resource "aws_ecs_service" "collector" {
  name             = var.name
  cluster          = var.cluster_arn
  task_definition  = aws_ecs_task_definition.collector.arn
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  desired_count    = var.desired_count

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this["collector"].arn
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  enable_execute_command  = false

  tags = var.tags
}

# --- Metrics store: Amazon Managed Service for Prometheus ------------------------------------------

# Rule evaluation and alerting errors of the workspace (AMP vended logs).
resource "aws_cloudwatch_log_group" "prometheus" {
  count             = var.prometheus_workspace_id == null ? 1 : 0
  name              = "/aws/vendedlogs/prometheus/${var.name}"
  retention_in_days = var.logs_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_prometheus_workspace" "this" {
  count = var.prometheus_workspace_id == null ? 1 : 0
  alias = var.name

  logging_configuration {
    log_group_arn = "${aws_cloudwatch_log_group.prometheus[0].arn}:*"
  }

  tags = var.tags
}

data "aws_prometheus_workspace" "existing" {
  count        = var.prometheus_workspace_id == null ? 0 : 1
  workspace_id = var.prometheus_workspace_id
}

# The alert rules a plain Prometheus loads (deploy/prometheus/alerts.yml), unchanged: the workspace's
# ruler evaluates them. Routing the alerts (an alert manager definition and its SNS topic) is not
# part of this module.
resource "aws_prometheus_rule_group_namespace" "alerts" {
  name         = "openclaw-operator"
  workspace_id = local.workspace_id
  data         = file(local.alert_rules_file)
  tags         = var.tags
}
