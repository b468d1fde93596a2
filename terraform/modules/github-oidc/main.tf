# GitHub Actions reach AWS through OIDC: no stored keys. Two roles:
# - deploy: only jobs in the protected environment (default `production`) of this repository; runs
#   `terraform apply`, pushes images and updates the operator service;
# - plan: pull requests of this repository; read-only, runs `terraform plan`. It cannot read secret
#   values or tenant objects (the tenant bucket's policy refuses every principal but tenant roles).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  repo       = "${var.github_org}/${var.github_repo}"
  issuer     = "token.actions.githubusercontent.com"
  provider_arn = var.create_provider ? aws_iam_openid_connect_provider.github[0].arn : (
    "arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.issuer}"
  )
  deploy_subjects = concat(
    ["repo:${local.repo}:environment:${var.deploy_environment}"],
    var.allow_main_branch ? ["repo:${local.repo}:ref:refs/heads/main"] : [],
  )
  deploy_policies = coalesce(var.deploy_managed_policy_arns, ["arn:${local.partition}:iam::aws:policy/PowerUserAccess"])
}

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.create_provider ? 1 : 0
  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

# --- Deploy role -----------------------------------------------------------------------------------

resource "aws_iam_role" "deploy" {
  name                 = "${var.name_prefix}-deploy"
  description          = "GitHub Actions: terraform apply and operator deploys from ${local.repo} (environment ${var.deploy_environment})"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "GitHubProtectedEnvironmentOnly"
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.issuer}:aud" = "sts.amazonaws.com"
          "${local.issuer}:sub" = local.deploy_subjects
        }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "deploy" {
  for_each   = toset(local.deploy_policies)
  role       = aws_iam_role.deploy.name
  policy_arn = each.value
}

# IAM for what this Terraform manages (openclaw-* roles, /openclaw/ policies, the GitHub OIDC
# provider), never the tenant roles: those are the operator's.
resource "aws_iam_role_policy" "deploy_iam" {
  name = "${var.name_prefix}-deploy-iam"
  role = aws_iam_role.deploy.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ManageCellRoles"
        Effect = "Allow"
        Action = [
          "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
          "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:PutRolePolicy",
          "iam:DeleteRolePolicy", "iam:PassRole",
        ]
        Resource = "arn:${local.partition}:iam::${local.account_id}:role/openclaw-*"
      },
      {
        # Only the AWS managed policies this configuration attaches.
        Sid      = "AttachKnownManagedPolicies"
        Effect   = "Allow"
        Action   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
        Resource = "arn:${local.partition}:iam::${local.account_id}:role/openclaw-*"
        Condition = {
          ArnEquals = {
            "iam:PolicyARN" = concat(local.deploy_policies, [
              "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess",
              "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
            ])
          }
        }
      },
      {
        Sid    = "ManageCellPolicies"
        Effect = "Allow"
        Action = [
          "iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion",
          "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
        ]
        Resource = "arn:${local.partition}:iam::${local.account_id}:policy/openclaw/*"
      },
      {
        Sid    = "ManageGitHubOidcProvider"
        Effect = "Allow"
        Action = [
          "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
          "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider",
          "iam:RemoveClientIDFromOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
          "iam:UntagOpenIDConnectProvider",
        ]
        Resource = "arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.issuer}"
      },
      {
        Sid    = "ReadIamForPlans"
        Effect = "Allow"
        Action = ["iam:Get*", "iam:List*"]
        Resource = [
          "arn:${local.partition}:iam::${local.account_id}:role/*",
          "arn:${local.partition}:iam::${local.account_id}:policy/*",
          "arn:${local.partition}:iam::${local.account_id}:oidc-provider/*",
          "arn:${local.partition}:iam::aws:policy/*",
        ]
      },
      {
        Sid       = "NeverTouchTenantRoles"
        Effect    = "Deny"
        NotAction = ["iam:Get*", "iam:List*"]
        Resource  = "arn:${local.partition}:iam::${local.account_id}:role/openclaw/tenants/*"
      },
    ]
  })
}

# --- Plan role -------------------------------------------------------------------------------------

resource "aws_iam_role" "plan" {
  name                 = "${var.name_prefix}-plan"
  description          = "GitHub Actions: read-only terraform plan for pull requests of ${local.repo}"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "GitHubPullRequestsOfThisRepository"
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.issuer}:aud" = "sts.amazonaws.com"
          "${local.issuer}:sub" = "repo:${local.repo}:pull_request"
        }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "plan" {
  role       = aws_iam_role.plan.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

resource "aws_iam_role_policy" "plan" {
  name = "${var.name_prefix}-plan"
  role = aws_iam_role.plan.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadTerraformState"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:ListBucket"]
        Resource = ["arn:${local.partition}:s3:::${var.state_bucket}", "arn:${local.partition}:s3:::${var.state_bucket}/*"]
      },
      {
        Sid      = "DecryptTerraformState"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = var.state_kms_key_arn
      },
      {
        Sid      = "NoSecretValues"
        Effect   = "Deny"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue", "ssm:GetParameter*"]
        Resource = "*"
      },
    ]
  })
}
