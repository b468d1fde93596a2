output "cluster_name" {
  description = "The ECS cluster (cell.ecs_cluster)."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "execution_role_arn" {
  description = "The shared task execution role of agent tasks (cell.execution_role_arn)."
  value       = aws_iam_role.execution.arn
}

output "agent_repository_url" {
  description = "ECR repository of the agent image."
  value       = aws_ecr_repository.this["agent"].repository_url
}

output "operator_repository_url" {
  description = "ECR repository of the operator image."
  value       = aws_ecr_repository.this["operator"].repository_url
}

output "operator_repository_arn" {
  description = "ARN of the operator's ECR repository."
  value       = aws_ecr_repository.this["operator"].arn
}

output "agent_repository_arn" {
  description = "ARN of the agent's ECR repository."
  value       = aws_ecr_repository.this["agent"].arn
}
