variable "name" {
  description = "Name of the ECS cluster and prefix of the cell's shared resources."
  type        = string
  default     = "openclaw"
}

variable "execution_role_name" {
  description = "Name of the shared task execution role (it pulls agent images and writes their logs, nothing else)."
  type        = string
  default     = "openclaw-task-execution"
}

variable "agent_log_group_prefix" {
  description = "Log groups the agents' tasks write to: /openclaw/<tenant>/<agent> (crds naming)."
  type        = string
  default     = "/openclaw/"
}

variable "image_retention_count" {
  description = "Images kept per repository; older ones expire (deployed digests are always among the newest)."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
