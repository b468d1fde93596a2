{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "CreateAndPolicyTenantRolesOnlyWithTheBoundary",
      "Effect": "Allow",
      "Action": [
        "iam:CreateRole",
        "iam:PutRolePermissionsBoundary",
        "iam:PutRolePolicy"
      ],
      "Resource": "arn:${partition}:iam::${account_id}:role/openclaw/tenants/openclaw-*",
      "Condition": {
        "StringEquals": {
          "iam:PermissionsBoundary": "${boundary_arn}"
        }
      }
    },
    {
      "Sid": "ManageTenantRoles",
      "Effect": "Allow",
      "Action": [
        "iam:UpdateAssumeRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:GetRolePolicy",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies"
      ],
      "Resource": "arn:${partition}:iam::${account_id}:role/openclaw/tenants/openclaw-*"
    },
    {
      "Sid": "NeverRemoveAPermissionsBoundary",
      "Effect": "Deny",
      "Action": "iam:DeleteRolePermissionsBoundary",
      "Resource": "arn:${partition}:iam::${account_id}:role/*"
    },
    {
      "Sid": "ReadTheTenantBoundaryForTheIsolationAudit",
      "Effect": "Allow",
      "Action": [
        "iam:GetPolicy",
        "iam:GetPolicyVersion"
      ],
      "Resource": "${boundary_arn}"
    },
    {
      "Sid": "InventoryRolesNoResourceLevelPermissions",
      "Effect": "Allow",
      "Action": "iam:GetAccountAuthorizationDetails",
      "Resource": "*"
    },
    {
      "Sid": "PassTenantAndExecutionRolesToEcsTasksOnly",
      "Effect": "Allow",
      "Action": "iam:PassRole",
      "Resource": [
        "arn:${partition}:iam::${account_id}:role/openclaw/tenants/openclaw-*",
        "${execution_role_arn}"
      ],
      "Condition": {
        "StringEquals": {
          "iam:PassedToService": "ecs-tasks.amazonaws.com"
        }
      }
    },
    {
      "Sid": "ManageTenantSecrets",
      "Effect": "Allow",
      "Action": [
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:RestoreSecret",
        "secretsmanager:TagResource",
        "secretsmanager:DeleteSecret",
        "secretsmanager:GetResourcePolicy"
      ],
      "Resource": "arn:${partition}:secretsmanager:${region}:${account_id}:secret:/openclaw/*"
    },
    {
      "Sid": "ReadTenantDatabaseSecretsForTheLoginProbe",
      "Effect": "Allow",
      "Action": "secretsmanager:GetSecretValue",
      "Resource": "arn:${partition}:secretsmanager:${region}:${account_id}:secret:/openclaw/*/db-??????"
    },
    {
      "Sid": "ListAndBatchReadSecretsNoResourceLevelPermissions",
      "Effect": "Allow",
      "Action": ["secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue"],
      "Resource": "*"
    },
    {
      "Sid": "RegisterTenantTaskDefinitions",
      "Effect": "Allow",
      "Action": "ecs:RegisterTaskDefinition",
      "Resource": "arn:${partition}:ecs:${region}:${account_id}:task-definition/openclaw-*-*"
    },
    {
      "Sid": "TaskDefinitionReadsAndDeregisterNoResourceLevelPermissions",
      "Effect": "Allow",
      "Action": [
        "ecs:DeregisterTaskDefinition",
        "ecs:DeleteTaskDefinitions",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions"
      ],
      "Resource": "*"
    },
    {
      "Sid": "ObserveAgentLogGroups",
      "Effect": "Allow",
      "Action": "logs:DescribeLogGroups",
      "Resource": "arn:${partition}:logs:${region}:${account_id}:log-group:*"
    },
    {
      "Sid": "ReadAgentLogGroupTagsNoResourceLevelPermissions",
      "Effect": "Allow",
      "Action": "tag:GetResources",
      "Resource": "*"
    },
    {
      "Sid": "ManageAgentLogGroups",
      "Effect": "Allow",
      "Action": [
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:AssociateKmsKey",
        "logs:TagResource",
        "logs:ListTagsForResource",
        "logs:DeleteLogGroup"
      ],
      "Resource": "arn:${partition}:logs:${region}:${account_id}:log-group:/openclaw/*"
    },
    {
      "Sid": "ListTenantObjectVersionsForErasure",
      "Effect": "Allow",
      "Action": "s3:ListBucketVersions",
      "Resource": "arn:${partition}:s3:::${tenant_bucket}",
      "Condition": {
        "StringLike": {
          "s3:prefix": "tenants/*"
        }
      }
    },
    {
      "Sid": "EraseTenantObjectsNeverReadThem",
      "Effect": "Allow",
      "Action": [
        "s3:DeleteObject",
        "s3:DeleteObjectVersion"
      ],
      "Resource": "arn:${partition}:s3:::${tenant_bucket}/tenants/*"
    },
    {
      "Sid": "CreateAndUpdateTenantServicesWithTenantTaskDefinitions",
      "Effect": "Allow",
      "Action": [
        "ecs:CreateService",
        "ecs:UpdateService"
      ],
      "Resource": "arn:${partition}:ecs:${region}:${account_id}:service/${cluster_name}/openclaw-*-*",
      "Condition": {
        "ArnEquals": {
          "ecs:cluster": "arn:${partition}:ecs:${region}:${account_id}:cluster/${cluster_name}"
        },
        "ArnLike": {
          "ecs:task-definition": "arn:${partition}:ecs:${region}:${account_id}:task-definition/openclaw-*-*"
        }
      }
    },
    {
      "Sid": "DeleteTenantServices",
      "Effect": "Allow",
      "Action": "ecs:DeleteService",
      "Resource": "arn:${partition}:ecs:${region}:${account_id}:service/${cluster_name}/openclaw-*-*",
      "Condition": {
        "ArnEquals": {
          "ecs:cluster": "arn:${partition}:ecs:${region}:${account_id}:cluster/${cluster_name}"
        }
      }
    },
    {
      "Sid": "DescribeServicesOfTheCellCluster",
      "Effect": "Allow",
      "Action": "ecs:DescribeServices",
      "Resource": "arn:${partition}:ecs:${region}:${account_id}:service/${cluster_name}/*",
      "Condition": {
        "ArnEquals": {
          "ecs:cluster": "arn:${partition}:ecs:${region}:${account_id}:cluster/${cluster_name}"
        }
      }
    },
    {
      "Sid": "ListServicesNoResourceLevelPermissionsCellClusterOnly",
      "Effect": "Allow",
      "Action": "ecs:ListServices",
      "Resource": "*",
      "Condition": {
        "ArnEquals": {
          "ecs:cluster": "arn:${partition}:ecs:${region}:${account_id}:cluster/${cluster_name}"
        }
      }
    },
    {
      "Sid": "TagTenantServicesAndTaskDefinitions",
      "Effect": "Allow",
      "Action": "ecs:TagResource",
      "Resource": [
        "arn:${partition}:ecs:${region}:${account_id}:service/${cluster_name}/openclaw-*-*",
        "arn:${partition}:ecs:${region}:${account_id}:task-definition/openclaw-*-*"
      ]
    },
    {
      "Sid": "NeverChangeTheOperatorsOwnService",
      "Effect": "Deny",
      "Action": [
        "ecs:CreateService",
        "ecs:UpdateService",
        "ecs:DeleteService",
        "ecs:TagResource"
      ],
      "Resource": "arn:${partition}:ecs:${region}:${account_id}:service/${cluster_name}/${operator_service}"
    },
    {
      "Sid": "DescribeTheCellDatabase",
      "Effect": "Allow",
      "Action": [
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusters"
      ],
      "Resource": [
        "arn:${partition}:rds:${region}:${account_id}:db:${db_identifier}",
        "arn:${partition}:rds:${region}:${account_id}:cluster:${db_identifier}"
      ]
    }
  ]
}
