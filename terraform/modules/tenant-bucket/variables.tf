variable "bucket_name" {
  description = "The cell's tenant bucket (cell.tenant_bucket). Tenant T owns the prefix tenants/T/."
  type        = string
}

variable "tenant_role_path" {
  description = "IAM path of the tenant roles the operator creates (crds naming: /openclaw/tenants/)."
  type        = string
  default     = "/openclaw/tenants/"
}

variable "tenant_tag_key" {
  description = "Tag the operator puts on every tenant role with the tenant's name; the bucket policy confines each role to tenants/<that name>/."
  type        = string
  default     = "openclaw:tenant"
}

variable "operator_role_arn" {
  description = "The operator's task role: the one principal that may erase tenant objects (delete every version under tenants/), and never read them."
  type        = string
}

variable "data_admin_principal_arns" {
  description = "Principals (besides the tenant roles) allowed to read or write tenant objects, e.g. a break-glass role. None by default: no human and no pipeline reads tenant data."
  type        = list(string)
  default     = []
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object version is kept. A deleted tenant's versions do not wait for this: the operator erases every one of them."
  type        = number
  default     = 30
}

variable "access_logs_retention_days" {
  description = "Retention of the server access logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
