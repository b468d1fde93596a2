variable "name" {
  description = "Name of the managed policy (crds and the operator expect openclaw-tenant-boundary)."
  type        = string
  default     = "openclaw-tenant-boundary"
}

variable "path" {
  description = "IAM path of the policy."
  type        = string
  default     = "/openclaw/"
}

variable "policy_template" {
  description = "The boundary document template. Default: deploy/policies/tenant-boundary.json.tpl, the one file the local stack renders too."
  type        = string
  default     = null
}

variable "tenant_bucket" {
  description = "The cell's tenant bucket: tenant roles reach only tenants/* in it."
  type        = string
}

variable "db_resource_id" {
  description = "DbiResourceId of the cell's database: rds-db:connect is capped to the one user an agent role's openclaw:db-user tag names."
  type        = string
}

variable "tags" {
  description = "Tags for the policy."
  type        = map(string)
  default     = {}
}
