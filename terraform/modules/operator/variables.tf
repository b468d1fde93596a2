variable "name" {
  description = "Name of the operator's ECS service, task definition family, roles and log group."
  type        = string
  default     = "openclaw-operator"
}

variable "cluster_name" {
  description = "The cell's ECS cluster: the operator runs in it and manages tenant services only in it."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the cell's ECS cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the operator's tasks."
  type        = list(string)
}

variable "security_group_id" {
  description = "The operator's security group."
  type        = string
}

variable "agent_execution_role_arn" {
  description = "The shared task execution role of agent tasks: the operator may pass it (and tenant roles) to ECS tasks, nothing else."
  type        = string
}

variable "permissions_boundary_arn" {
  description = "The tenant permissions boundary: the operator may create and change tenant roles only with it attached."
  type        = string
}

variable "db_identifier" {
  description = "The cell's tenant database's DB instance identifier (the operator may describe it)."
  type        = string
}

variable "database_url_secret_arn" {
  description = "Secret holding the operator's DATABASE_URL (the control store); injected by ECS, readable by the operator's execution role only."
  type        = string
}

variable "database_kms_key_arn" {
  description = "KMS key encrypting the DATABASE_URL secret (the control store's key)."
  type        = string
}

variable "tenant_database_url_secret_arn" {
  description = "Secret holding the operator's TENANT_DATABASE_URL (the cell's tenant database); injected by ECS, readable by the operator's execution role only."
  type        = string
}

variable "tenant_database_kms_key_arn" {
  description = "KMS key encrypting the TENANT_DATABASE_URL secret (the tenant database's key)."
  type        = string
}

variable "repository_arn" {
  description = "ARN of the operator's ECR repository."
  type        = string
}

variable "repository_url" {
  description = "URL of the operator's ECR repository."
  type        = string
}

variable "image" {
  description = "Image of the first task definition only. The deploy pipeline registers every later revision with an image digest; the service starts with 0 tasks, so this image need not exist yet."
  type        = string
  default     = null
}

variable "cell_config" {
  description = "The operator's configuration ({ cell = {...}, operator = {...} }), passed as OPENCLAW_CONFIG_YAML in JSON form (JSON is YAML). Holds no secret; DATABASE_URL and TENANT_DATABASE_URL come from Secrets Manager. operator.listen is set by the module (0.0.0.0:<metrics_port>); every other key is passed as given."
  type        = any
}

variable "cpu" {
  description = "Task CPU units."
  type        = string
  default     = "512"
}

variable "memory" {
  description = "Task memory in MiB."
  type        = string
  default     = "1024"
}

variable "logs_kms_key_arn" {
  description = "KMS key of the operator's log group."
  type        = string
}

variable "logs_retention_days" {
  description = "Retention of the operator's logs."
  type        = number
  default     = 365
}

variable "task_definition_template" {
  description = "The operator's task definition template, shared with the deploy pipeline. Default: deploy/operator/task-definition.json."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "tenant_bucket" {
  description = "The cell's tenant bucket: the operator may list object versions under tenants/ and delete them (erasure), never read them."
  type        = string
}

variable "otlp_endpoint" {
  description = "OTLP/HTTP endpoint of the cell's trace collector (the operator's OTEL_EXPORTER_OTLP_ENDPOINT). Null: no traces."
  type        = string
  default     = null
}

variable "metrics_port" {
  description = "Port of the operator's /metrics, /healthz and /readyz inside its task (operator.listen is 0.0.0.0:<metrics_port>): the port mapping and the one ingress rule, from metrics_scraper_security_group_id."
  type        = number
  default     = 9464

  validation {
    condition     = var.metrics_port >= 1024 && var.metrics_port <= 65535 && floor(var.metrics_port) == var.metrics_port
    error_message = "metrics_port must be a whole number from 1024 to 65535 (the operator runs as a non-root user)."
  }
}

variable "metrics_scraper_security_group_id" {
  description = "Security group of the tasks that scrape the operator's metrics (the cell's collector): the only source the operator's group admits, on metrics_port only; it also gets the matching egress rule."
  type        = string
}

variable "service_registry_arn" {
  description = "Cloud Map service the operator's tasks register in (one A record per task), so the scraper finds every replica by DNS (the collector module's operator_service_registry_arn). Null: no registration."
  type        = string
  default     = null
}
