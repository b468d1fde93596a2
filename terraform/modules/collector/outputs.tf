output "otlp_endpoint" {
  description = "OTLP/HTTP endpoint of the collector: cell.agent_otlp_endpoint and the operator's OTEL_EXPORTER_OTLP_ENDPOINT."
  value       = "http://${aws_service_discovery_service.this["collector"].name}.${aws_service_discovery_private_dns_namespace.this.name}:${local.port}"
}

output "service_name" {
  description = "The collector's ECS service."
  value       = aws_ecs_service.collector.name
}

output "task_role_arn" {
  description = "The collector's task role (X-Ray writes and aps:RemoteWrite to the workspace only)."
  value       = aws_iam_role.task.arn
}

output "namespace_id" {
  description = "The cell's private DNS namespace (Cloud Map)."
  value       = aws_service_discovery_private_dns_namespace.this.id
}

output "operator_service_registry_arn" {
  description = "Cloud Map service the operator's ECS service registers its tasks in (the operator module's service_registry_arn): the metrics scrape resolves it."
  value       = aws_service_discovery_service.this["operator"].arn
}

output "operator_metrics_target" {
  description = "What the collector scrapes: every A record of this name, at this port, path /metrics."
  value       = "${local.operator_dns_name}:${var.operator_metrics_port}"
}

output "prometheus_workspace_id" {
  description = "The Amazon Managed Service for Prometheus workspace."
  value       = local.workspace_id
}

output "prometheus_workspace_arn" {
  description = "ARN of the workspace (the only resource of the collector's aps:RemoteWrite)."
  value       = local.workspace_arn
}

output "prometheus_endpoint" {
  description = "The workspace's Prometheus-compatible endpoint: the URL of a Grafana Prometheus data source (SigV4, service aps)."
  value       = local.workspace_endpoint
}

output "prometheus_remote_write_url" {
  description = "The workspace's remote-write URL (where the collector writes)."
  value       = local.remote_write_url
}

output "prometheus_query_url" {
  description = "The workspace's instant-query URL (awscurl --service aps)."
  value       = local.query_url
}
