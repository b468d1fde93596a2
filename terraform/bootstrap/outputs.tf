output "state_bucket" {
  description = "The state bucket (GitHub variable TF_STATE_BUCKET, backend `bucket`)."
  value       = aws_s3_bucket.state.id
}

output "state_kms_key_arn" {
  description = "The state key (GitHub variable TF_STATE_KMS_KEY_ARN, backend `kms_key_id`)."
  value       = aws_kms_key.state.arn
}

output "backend_config" {
  description = "Arguments for `terraform init` of an environment."
  value = join(" ", [
    "-backend-config=bucket=${aws_s3_bucket.state.id}",
    "-backend-config=region=${var.region}",
    "-backend-config=kms_key_id=${aws_kms_key.state.arn}",
  ])
}
