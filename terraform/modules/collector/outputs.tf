output "otlp_endpoint" {
  description = "OTLP/HTTP endpoint of the collector: cell.agent_otlp_endpoint and the operator's OTEL_EXPORTER_OTLP_ENDPOINT."
  value       = "http://${aws_service_discovery_service.collector.name}.${aws_service_discovery_private_dns_namespace.this.name}:${local.port}"
}

output "service_name" {
  description = "The collector's ECS service."
  value       = aws_ecs_service.collector.name
}

output "task_role_arn" {
  description = "The collector's task role (X-Ray writes only)."
  value       = aws_iam_role.task.arn
}
