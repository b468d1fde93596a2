# --- The operator's cell: configuration, field by field --------------------------------------------

output "region" {
  description = "cell.region"
  value       = var.region
}

output "account_id" {
  description = "cell.account_id (quote it in YAML)"
  value       = local.account_id
}

output "ecs_cluster" {
  description = "cell.ecs_cluster"
  value       = module.cluster.cluster_name
}

output "subnets" {
  description = "cell.subnets"
  value       = module.network.private_subnet_ids
}

output "security_groups" {
  description = "cell.security_groups (the agents' group)"
  value       = [module.network.agents_security_group_id]
}

output "execution_role_arn" {
  description = "cell.execution_role_arn"
  value       = module.cluster.execution_role_arn
}

output "permissions_boundary_arn" {
  description = "cell.permissions_boundary_arn"
  value       = module.tenant_boundary.arn
}

output "tenant_bucket" {
  description = "cell.tenant_bucket"
  value       = module.tenant_bucket.bucket
}

output "database_endpoint" {
  description = "host:port of the cell's tenant database (the operator's TENANT_DATABASE_URL and the agents point here)"
  value       = "${module.database.address}:${module.database.port}"
}

output "control_store_endpoint" {
  description = "host:port of the control store (the operator's DATABASE_URL points here; the operator only)"
  value       = "${module.control_store.address}:${module.control_store.port}"
}

output "database_resource_id" {
  description = "DbiResourceId of the tenant database (rds-db:connect ARNs of the boundary)"
  value       = module.database.resource_id
}

output "agent_otlp_endpoint" {
  description = "cell.agent_otlp_endpoint (the trace collector; null when collector_image is unset)"
  value       = local.otlp_endpoint
}

# --- Metrics: Amazon Managed Service for Prometheus (null when collector_image is unset) -----------

output "prometheus_workspace_id" {
  description = "The workspace holding the operator's metrics and evaluating deploy/prometheus/alerts.yml."
  value       = one(module.collector[*].prometheus_workspace_id)
}

output "prometheus_endpoint" {
  description = "URL of the Grafana Prometheus data source for deploy/grafana/openclaw-dashboard.json (SigV4 auth, service aps, the cell's region)."
  value       = one(module.collector[*].prometheus_endpoint)
}

output "prometheus_remote_write_url" {
  description = "The workspace's remote-write URL (the collector writes here)."
  value       = one(module.collector[*].prometheus_remote_write_url)
}

output "prometheus_query_url" {
  description = "The workspace's instant-query URL: awscurl --service aps \"<url>?query=up\"."
  value       = one(module.collector[*].prometheus_query_url)
}

output "operator_metrics_target" {
  description = "What the collector scrapes: every A record of this name, path /metrics (job openclaw-operator)."
  value       = one(module.collector[*].operator_metrics_target)
}

output "cell_config" {
  description = "The whole operator configuration as an object."
  value       = local.cell_config
}

output "cell_config_yaml" {
  description = "The operator configuration as YAML: `terraform output -raw cell_config_yaml > openclaw.yaml`."
  value       = yamlencode(local.cell_config)
}

# --- What the deploy pipeline needs ----------------------------------------------------------------

output "operator_repository_url" {
  description = "ECR repository of the operator image."
  value       = module.cluster.operator_repository_url
}

output "agent_repository_url" {
  description = "ECR repository of the agent image."
  value       = module.cluster.agent_repository_url
}

output "operator_service" {
  description = "The operator's ECS service."
  value       = module.operator.service_name
}

output "operator_desired_count" {
  description = "Replicas the deploy pipeline sets on the operator service."
  value       = var.operator_desired_count
}

output "operator_task_definition_inputs" {
  description = "Inputs of deploy/operator/task-definition.json (all but the image)."
  value       = module.operator.task_definition_inputs
}

output "database_url_secret_arn" {
  description = "The operator's DATABASE_URL secret (openclaw-operator/control-database-url: the control store)."
  value       = module.control_store.database_url_secret_arn
}

output "tenant_database_url_secret_arn" {
  description = "The operator's TENANT_DATABASE_URL secret (openclaw-operator/database-url: the cell's tenant database)."
  value       = module.database.database_url_secret_arn
}

output "github_deploy_role_arn" {
  description = "GitHub variable AWS_DEPLOY_ROLE_ARN."
  value       = module.github_oidc.deploy_role_arn
}

output "github_plan_role_arn" {
  description = "GitHub variable AWS_PLAN_ROLE_ARN."
  value       = module.github_oidc.plan_role_arn
}
