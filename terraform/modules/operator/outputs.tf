output "service_name" {
  description = "The operator's ECS service."
  value       = aws_ecs_service.operator.name
}

output "task_role_arn" {
  description = "The operator's task role."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "The operator's execution role."
  value       = aws_iam_role.execution.arn
}

output "log_group" {
  description = "The operator's log group."
  value       = aws_cloudwatch_log_group.operator.name
}

output "task_definition_family" {
  description = "Family of the operator's task definitions."
  value       = aws_ecs_task_definition.operator.family
}

output "task_role_policy" {
  description = "The rendered task role policy."
  value       = local.task_role_policy
}

output "task_definition_inputs" {
  description = "Everything deploy/operator/task-definition.json needs but the image: the deploy pipeline renders it with the operator image's digest, after setting cell_config.cell.agent_image to the agent image's digest."
  value = {
    family                         = var.name
    task_role_arn                  = aws_iam_role.task.arn
    execution_role_arn             = aws_iam_role.execution.arn
    cpu                            = var.cpu
    memory                         = var.memory
    log_group                      = aws_cloudwatch_log_group.operator.name
    region                         = local.region
    database_url_secret_arn        = var.database_url_secret_arn
    tenant_database_url_secret_arn = var.tenant_database_url_secret_arn
    cell_config                    = local.cell_config
    otlp_endpoint                  = coalesce(var.otlp_endpoint, "")
  }
}

output "metrics_port" {
  description = "Port of the operator's /metrics in its tasks (operator.listen is 0.0.0.0:<port>)."
  value       = var.metrics_port
}
