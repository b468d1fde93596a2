output "bucket" {
  description = "The tenant bucket (cell.tenant_bucket)."
  value       = aws_s3_bucket.tenants.id
}

output "bucket_arn" {
  description = "ARN of the tenant bucket."
  value       = aws_s3_bucket.tenants.arn
}

output "kms_key_arn" {
  description = "The tenant bucket's key."
  value       = aws_kms_key.bucket.arn
}

output "access_logs_bucket" {
  description = "Bucket receiving the tenant bucket's server access logs."
  value       = aws_s3_bucket.access_logs.id
}
