variable "region" {
  description = "Region of the state bucket (the cell's region)."
  type        = string
}

variable "bucket_name" {
  description = "Name of the state bucket. Default: openclaw-tfstate-<account>-<region>."
  type        = string
  default     = null
}

variable "noncurrent_version_days" {
  description = "Days an old state version is kept."
  type        = number
  default     = 90
}
