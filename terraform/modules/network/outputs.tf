output "vpc_id" {
  description = "The cell's VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "Private subnets, one per AZ: the operator's and the agents' tasks run here."
  value       = aws_subnet.private[*].id
}

output "agents_security_group_id" {
  description = "Security group of every agent task (cell.security_groups)."
  value       = aws_security_group.agents.id
}

output "operator_security_group_id" {
  description = "Security group of the operator's tasks."
  value       = aws_security_group.operator.id
}

output "collector_security_group_id" {
  description = "Security group of the trace collector's tasks (OTLP/HTTP from the agents and the operator)."
  value       = aws_security_group.collector.id
}

output "database_security_group_id" {
  description = "Security group of the cell's tenant database (PostgreSQL from the agents and the operator)."
  value       = aws_security_group.database.id
}

output "control_store_security_group_id" {
  description = "Security group of the control store's database (PostgreSQL from the operator only)."
  value       = aws_security_group.control_store.id
}

output "endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints."
  value       = aws_security_group.endpoints.id
}

output "logs_kms_key_arn" {
  description = "KMS key for the cell's CloudWatch log groups."
  value       = aws_kms_key.logs.arn
}

output "interface_endpoints" {
  description = "Interface endpoint IDs by service."
  value       = { for k, e in aws_vpc_endpoint.interface : k => e.id }
}
