variable "name" {
  description = "Name prefix of every network resource (the cell's name)."
  type        = string
  default     = "openclaw"
}

variable "cidr_block" {
  description = "CIDR block of the cell's VPC. Private subnets are /20 slices of it, one per AZ."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones (names) that get a private subnet, in a fixed order: subnet i is the i-th /20 of the VPC. Listed explicitly so a zone AWS adds later never moves a subnet."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6
    error_message = "Give 2 to 6 availability zones."
  }
}

variable "agent_endpoints" {
  description = "Interface endpoints the agent tasks need (service suffixes of com.amazonaws.<region>.<service>)."
  type        = list(string)
  default     = ["secretsmanager", "ecr.api", "ecr.dkr", "logs", "sts", "bedrock-runtime"]
}

variable "operator_endpoints" {
  description = "Interface endpoints only the operator needs (its ECS, RDS and Resource Groups Tagging API calls; tagging reads the agents' log-group tags). IAM is added in us-east-1 (com.amazonaws.iam exists only there)."
  type        = list(string)
  default     = ["ecs", "rds", "tagging"]
}

variable "collector_endpoints" {
  description = "Interface endpoints only the collector needs (X-Ray, where it forwards the spans; aps-workspaces, the Prometheus workspaces' remote-write and query API)."
  type        = list(string)
  default     = ["xray", "aps-workspaces"]
}

variable "s3_bucket_names" {
  description = "Buckets reachable through the S3 gateway endpoint (the tenant bucket). ECR's layer bucket is always allowed. Everything else is refused, so a compromised task cannot copy data to a bucket of its own."
  type        = list(string)
}

variable "logs_retention_days" {
  description = "Retention of the VPC flow logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
