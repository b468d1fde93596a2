variable "region" {
  description = "The cell's region (every tenant of the cell has this region: data residency)."
  type        = string
  default     = "us-east-1"
}

variable "cell_name" {
  description = "Name of the cell (cell.name in the operator's configuration)."
  type        = string
  default     = "example"
}

variable "github_org" {
  description = "GitHub organization of the repository that deploys this cell."
  type        = string
}

variable "github_repo" {
  description = "GitHub repository that deploys this cell."
  type        = string
}

variable "github_oidc_create_provider" {
  description = "Create the account's GitHub OIDC provider (false if the account already has one)."
  type        = bool
  default     = true
}

variable "state_bucket" {
  description = "The Terraform state bucket (terraform/bootstrap output state_bucket)."
  type        = string
}

variable "state_kms_key_arn" {
  description = "The state bucket's key (terraform/bootstrap output state_kms_key_arn)."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the cell's VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Zones with a private subnet, in a fixed order. Default: the region's a, b and c."
  type        = list(string)
  default     = null
}

variable "db_instance_class" {
  description = "Instance class of the cell's tenant database."
  type        = string
  default     = "db.t4g.medium"
}

variable "control_db_instance_class" {
  description = "Instance class of the control store (its own instance: schema openclaw, operator only)."
  type        = string
  default     = "db.t4g.small"
}

variable "db_multi_az" {
  description = "Multi-AZ databases (the tenant database and the control store)."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Backup retention of both databases."
  type        = number
  default     = 14
}

variable "db_deletion_protection" {
  description = "Deletion protection of both databases."
  type        = bool
  default     = true
}

variable "db_password_version" {
  description = "Bump to rotate the operator's passwords of both databases."
  type        = number
  default     = 1
}

variable "operator_desired_count" {
  description = "Operator replicas the deploy pipeline runs (leader election keeps one active)."
  type        = number
  default     = 2
}

variable "operator_settings" {
  description = "The operator: section of its configuration (resync_interval_seconds, concurrency, ...); empty keeps the defaults."
  type        = any
  default     = {}
}

variable "agent_log_retention_days" {
  description = "Days the agents' log events are kept, unless the tenant's tier says otherwise (a CloudWatch Logs retention period)."
  type        = number
  default     = 30
}

variable "agent_log_retention_days_by_tier" {
  description = "Days the agents' log events are kept, per tenant tier (standard, premium, enterprise)."
  type        = map(number)
  default     = { enterprise = 365 }
}

variable "collector_image" {
  description = "The ADOT collector image that forwards the agents' and the operator's traces to X-Ray and scrapes the operator's metrics into Amazon Managed Service for Prometheus, through the ECR pull-through cache and pinned by digest (<account>.dkr.ecr.<region>.amazonaws.com/ecr-public/aws-observability/aws-otel-collector@sha256:<digest>). Null: no collector: tracing stays off and nothing scrapes the operator's metrics."
  type        = string
  default     = null
}

variable "operator_metrics_port" {
  description = "Port of the operator's /metrics, /healthz and /readyz in its tasks (operator.listen becomes 0.0.0.0:<port>); the collector scrapes it."
  type        = number
  default     = 9464
}

variable "prometheus_workspace_id" {
  description = "An existing Amazon Managed Service for Prometheus workspace (ws-...) for the operator's metrics and alert rules. Null: the collector module creates one. Used only with collector_image."
  type        = string
  default     = null
}
