# One OpenClaw cell: an account + region + ECS cluster, with everything the operator expects to find
# (see the README's `cell:` configuration). The outputs are that configuration.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id    = data.aws_caller_identity.current.account_id
  partition     = data.aws_partition.current.partition
  tenant_bucket = "openclaw-tenants-${var.cell_name}-${local.account_id}"
  azs           = var.availability_zones != null ? var.availability_zones : [for z in ["a", "b", "c"] : "${var.region}${z}"]
}

module "network" {
  source             = "../../modules/network"
  name               = "openclaw"
  cidr_block         = var.vpc_cidr
  availability_zones = local.azs
  s3_bucket_names    = [local.tenant_bucket]
}

module "cluster" {
  source = "../../modules/cluster"
  name   = "openclaw"
}

# Two PostgreSQL instances. `database` is the cell's tenant database (tenant schemas and roles, the
# `shared` tables): agents connect to it, and its secret is the operator's TENANT_DATABASE_URL.
# `control_store` holds schema `openclaw` (tenants, agents, audit, leases): its secret is the
# operator's DATABASE_URL, and only the operator reaches it. It is its own instance, not a second
# database on the tenant one, because tenants' sessions would share that instance's CPU, memory,
# I/O and max_connections with the control plane; on its own server no tenant role even exists;
# and later several cells will share one control store.
module "database" {
  source                = "../../modules/database"
  name                  = "openclaw"
  subnet_ids            = module.network.private_subnet_ids
  security_group_id     = module.network.database_security_group_id
  logs_kms_key_arn      = module.network.logs_kms_key_arn
  instance_class        = var.db_instance_class
  multi_az              = var.db_multi_az
  backup_retention_days = var.db_backup_retention_days
  deletion_protection   = var.db_deletion_protection
  password_version      = var.db_password_version
}

module "control_store" {
  source                = "../../modules/database"
  name                  = "openclaw-control"
  operator_secret_name  = "openclaw-operator/control-database-url"
  subnet_ids            = module.network.private_subnet_ids
  security_group_id     = module.network.control_store_security_group_id
  logs_kms_key_arn      = module.network.logs_kms_key_arn
  instance_class        = var.control_db_instance_class
  multi_az              = var.db_multi_az
  backup_retention_days = var.db_backup_retention_days
  deletion_protection   = var.db_deletion_protection
  password_version      = var.db_password_version
}

module "tenant_bucket" {
  source      = "../../modules/tenant-bucket"
  bucket_name = local.tenant_bucket
  # Built from the operator module's role name (its default), not its output: the operator's
  # configuration names this bucket, so the output would make a cycle.
  operator_role_arn = "arn:${local.partition}:iam::${local.account_id}:role/openclaw-operator"
}

module "tenant_boundary" {
  source         = "../../modules/tenant-boundary"
  tenant_bucket  = module.tenant_bucket.bucket
  db_resource_id = module.database.resource_id
}

# Traces of every agent action and every reconcile go to X-Ray through this collector; it also
# scrapes the operator's /metrics into an Amazon Managed Service for Prometheus workspace, which
# evaluates deploy/prometheus/alerts.yml.
module "collector" {
  source                  = "../../modules/collector"
  count                   = var.collector_image == null ? 0 : 1
  image                   = var.collector_image
  cluster_arn             = module.cluster.cluster_arn
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  security_group_id       = module.network.collector_security_group_id
  logs_kms_key_arn        = module.network.logs_kms_key_arn
  operator_metrics_port   = var.operator_metrics_port
  prometheus_workspace_id = var.prometheus_workspace_id
}

locals {
  otlp_endpoint = one(module.collector[*].otlp_endpoint)

  # The operator's configuration. agent_image is the first image only: the deploy pipeline replaces
  # it with the digest it just pushed.
  cell_config = {
    cell = {
      name                     = var.cell_name
      region                   = var.region
      account_id               = local.account_id
      partition                = local.partition
      ecs_cluster              = module.cluster.cluster_name
      subnets                  = module.network.private_subnet_ids
      security_groups          = [module.network.agents_security_group_id]
      agent_image              = "${module.cluster.agent_repository_url}:initial"
      execution_role_arn       = module.cluster.execution_role_arn
      permissions_boundary_arn = module.tenant_boundary.arn
      tenant_bucket            = module.tenant_bucket.bucket
      # The operator creates each agent's log group with this key and retention.
      agent_logs = {
        kms_key_arn            = module.network.logs_kms_key_arn
        retention_days         = var.agent_log_retention_days
        retention_days_by_tier = var.agent_log_retention_days_by_tier
      }
      agent_otlp_endpoint = local.otlp_endpoint
    }
    operator = var.operator_settings
  }
}

module "operator" {
  source                   = "../../modules/operator"
  cluster_name             = module.cluster.cluster_name
  cluster_arn              = module.cluster.cluster_arn
  subnet_ids               = module.network.private_subnet_ids
  security_group_id        = module.network.operator_security_group_id
  agent_execution_role_arn = module.cluster.execution_role_arn
  permissions_boundary_arn = module.tenant_boundary.arn
  db_identifier            = module.database.identifier
  # DATABASE_URL: the control store. TENANT_DATABASE_URL: the cell's tenant database.
  database_url_secret_arn        = module.control_store.database_url_secret_arn
  database_kms_key_arn           = module.control_store.kms_key_arn
  tenant_database_url_secret_arn = module.database.database_url_secret_arn
  tenant_database_kms_key_arn    = module.database.kms_key_arn
  repository_arn                 = module.cluster.operator_repository_arn
  repository_url                 = module.cluster.operator_repository_url
  logs_kms_key_arn               = module.network.logs_kms_key_arn
  tenant_bucket                  = module.tenant_bucket.bucket
  cell_config                    = local.cell_config
  otlp_endpoint                  = local.otlp_endpoint
  # /metrics on 0.0.0.0:<port> in the task, reachable from the collector's group only; its tasks
  # register in Cloud Map, where the collector finds them.
  metrics_port                      = var.operator_metrics_port
  metrics_scraper_security_group_id = module.network.collector_security_group_id
  service_registry_arn              = one(module.collector[*].operator_service_registry_arn)
}

module "github_oidc" {
  source            = "../../modules/github-oidc"
  github_org        = var.github_org
  github_repo       = var.github_repo
  create_provider   = var.github_oidc_create_provider
  state_bucket      = var.state_bucket
  state_kms_key_arn = var.state_kms_key_arn
}
