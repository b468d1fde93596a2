variable "github_org" {
  description = "GitHub organization (or user) owning the repository."
  type        = string
}

variable "github_repo" {
  description = "Repository name (without the organization)."
  type        = string
}

variable "deploy_environment" {
  description = "The protected GitHub environment whose jobs may assume the deploy role."
  type        = string
  default     = "production"
}

variable "allow_main_branch" {
  description = "Also let jobs on the main branch without an environment assume the deploy role. Off: the protected environment (required reviewers) is the gate."
  type        = bool
  default     = false
}

variable "name_prefix" {
  description = "Prefix of the role names."
  type        = string
  default     = "openclaw-github"
}

variable "create_provider" {
  description = "Create the account's GitHub OIDC provider (false when the account already has one)."
  type        = bool
  default     = true
}

variable "state_bucket" {
  description = "Terraform state bucket (the plan role reads it)."
  type        = string
}

variable "state_kms_key_arn" {
  description = "KMS key of the Terraform state bucket."
  type        = string
}

variable "deploy_managed_policy_arns" {
  description = "Managed policies of the deploy role besides its scoped IAM permissions. PowerUserAccess grants everything but IAM, Organizations and account settings."
  type        = list(string)
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
