variable "name" {
  description = "Name of the collector's service, roles and log group."
  type        = string
  default     = "openclaw-collector"
}

variable "image" {
  description = "The ADOT collector image through the pull-through cache, pinned by digest: <account>.dkr.ecr.<region>.amazonaws.com/<pull_through_prefix>/aws-observability/aws-otel-collector@sha256:<digest>."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "image must be a private ECR reference pinned by digest (<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>): a tag can move, and the private subnets reach no other registry."
  }
}

variable "pull_through_prefix" {
  description = "Repository prefix of the pull-through cache rule for the ECR Public Gallery."
  type        = string
  default     = "ecr-public"
}

variable "cluster_arn" {
  description = "The cell's ECS cluster."
  type        = string
}

variable "vpc_id" {
  description = "The cell's VPC (the private DNS namespace lives in it)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the collector's tasks."
  type        = list(string)
}

variable "security_group_id" {
  description = "The collector's security group (OTLP/HTTP from the agents and the operator; HTTPS to the VPC endpoints; the operator module adds its egress to the operator's metrics port)."
  type        = string
}

variable "namespace" {
  description = "Private DNS namespace: the collector is collector.<namespace>, the operator's tasks operator.<namespace>."
  type        = string
  default     = "openclaw.internal"
}

variable "desired_count" {
  description = "Collector tasks; two keep traces and metrics flowing through a task replacement (each scrapes the operator; the workspace keeps one task's samples)."
  type        = number
  default     = 2
}

variable "cpu" {
  description = "Fargate CPU units of a collector task."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Fargate memory (MiB) of a collector task."
  type        = number
  default     = 512
}

variable "max_request_body_bytes" {
  description = "Largest OTLP/HTTP request the collector accepts."
  type        = number
  default     = 4194304
}

variable "logs_kms_key_arn" {
  description = "KMS key of the collector's log group."
  type        = string
}

variable "logs_retention_days" {
  description = "Retention of the collector's own logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "operator_metrics_port" {
  description = "Port of the operator's /metrics in its tasks (the operator module's metrics_port)."
  type        = number
  default     = 9464
}

variable "prometheus_workspace_id" {
  description = "An existing Amazon Managed Service for Prometheus workspace (ws-...) to write to and load the alert rules into. Null: the module creates one (alias <name>, rule and alerting logs in /aws/vendedlogs/prometheus/<name>)."
  type        = string
  default     = null
}

variable "alert_rules_file" {
  description = "Prometheus rules file loaded into the workspace. Default: deploy/prometheus/alerts.yml, the file a plain Prometheus loads."
  type        = string
  default     = null
}
