variable "name" {
  description = "Identifier of the DB instance and prefix of its resources."
  type        = string
  default     = "openclaw"
}

variable "subnet_ids" {
  description = "Private subnets (one per AZ) for the DB subnet group."
  type        = list(string)
}

variable "security_group_id" {
  description = "The database security group (PostgreSQL from agents and the operator only)."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "KMS key of the database's CloudWatch log groups."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL version (a major version picks the newest minor; minor upgrades are automatic)."
  type        = string
  default     = "16"
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine_version."
  type        = string
  default     = "postgres16"
}

variable "instance_class" {
  description = "DB instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 50
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 500
}

variable "database_name" {
  description = "The store's database (schemas openclaw, shared and one per tenant)."
  type        = string
  default     = "openclaw"
}

variable "master_username" {
  description = "The operator's login: it creates tenant roles and schemas. Its password is generated, written only to the instance and to the operator's DATABASE_URL secret, and kept out of Terraform state (write-only arguments)."
  type        = string
  default     = "openclaw_operator"
}

variable "password_version" {
  description = "Bump to rotate the operator's password: both the instance and the DATABASE_URL secret get a new one in the same apply."
  type        = number
  default     = 1
}

variable "multi_az" {
  description = "Standby in a second AZ."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Automated backup retention (0 disables backups)."
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Refuse deletion of the instance (turn off, apply, then destroy)."
  type        = bool
  default     = true
}

variable "force_ssl" {
  description = "Refuse unencrypted connections (rds.force_ssl) and put sslmode=require in the operator's DATABASE_URL. The operator's sqlx must be built with a TLS feature."
  type        = bool
  default     = true
}

variable "monitoring_interval" {
  description = "Enhanced monitoring interval in seconds (0 turns it off)."
  type        = number
  default     = 60
}

variable "performance_insights" {
  description = "Performance Insights (encrypted with the database key)."
  type        = bool
  default     = true
}

variable "logs_retention_days" {
  description = "Retention of the exported PostgreSQL logs."
  type        = number
  default     = 365
}

variable "operator_secret_name" {
  description = "Secrets Manager name of the operator's DATABASE_URL. Deliberately outside /openclaw/, the operator's tenant-secret namespace."
  type        = string
  default     = "openclaw-operator/database-url"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
