output "address" {
  description = "Host name of the database."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the database."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "The store's database."
  value       = var.database_name
}

output "identifier" {
  description = "DB instance identifier."
  value       = aws_db_instance.this.identifier
}

output "arn" {
  description = "DB instance ARN."
  value       = aws_db_instance.this.arn
}

output "resource_id" {
  description = "DbiResourceId: the id in rds-db:connect ARNs (arn:…:rds-db:<region>:<account>:dbuser:<resource_id>/<user>)."
  value       = aws_db_instance.this.resource_id
}

output "database_url_secret_arn" {
  description = "Secret holding the operator's DATABASE_URL (read by the operator's execution role only)."
  value       = aws_secretsmanager_secret.database_url.arn
}

output "kms_key_arn" {
  description = "The database's customer managed key (also encrypts the DATABASE_URL secret)."
  value       = aws_kms_key.db.arn
}
