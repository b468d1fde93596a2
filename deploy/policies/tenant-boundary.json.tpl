{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "TenantSecrets",
      "Effect": "Allow",
      "Action": [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutSecretValue"
      ],
      "Resource": "arn:${partition}:secretsmanager:${region}:${account_id}:secret:/openclaw/$${aws:PrincipalTag/openclaw:tenant}/*"
    },
    {
      "Sid": "BedrockInvoke",
      "Effect": "Allow",
      "Action": [
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream"
      ],
      "Resource": [
        "arn:${partition}:bedrock:*::foundation-model/*",
        "arn:${partition}:bedrock:${region}:${account_id}:inference-profile/*"
      ]
    },
    {
      "Sid": "TenantObjects",
      "Effect": "Allow",
      "Action": [
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject"
      ],
      "Resource": "arn:${partition}:s3:::${tenant_bucket}/tenants/$${aws:PrincipalTag/openclaw:tenant}/*"
    },
    {
      "Sid": "TenantBucketList",
      "Effect": "Allow",
      "Action": "s3:ListBucket",
      "Resource": "arn:${partition}:s3:::${tenant_bucket}",
      "Condition": {
        "StringLike": {
          "s3:prefix": "tenants/$${aws:PrincipalTag/openclaw:tenant}/*"
        }
      }
    },
    {
      "Sid": "TenantBucketKeyThroughS3",
      "Effect": "Allow",
      "Action": [
        "kms:Decrypt",
        "kms:GenerateDataKey"
      ],
      "Resource": "arn:${partition}:kms:${region}:${account_id}:key/*",
      "Condition": {
        "StringEquals": {
          "kms:ViaService": "s3.${region}.amazonaws.com"
        }
      }
    },
    {
      "Sid": "AgentLogs",
      "Effect": "Allow",
      "Action": [
        "logs:CreateLogStream",
        "logs:PutLogEvents"
      ],
      "Resource": "arn:${partition}:logs:${region}:${account_id}:log-group:/openclaw/$${aws:PrincipalTag/openclaw:tenant}/*"
    },
    {
      "Sid": "TenantDatabaseConnect",
      "Effect": "Allow",
      "Action": "rds-db:connect",
      "Resource": "arn:${partition}:rds-db:${region}:${account_id}:dbuser:${db_resource_id}/$${aws:PrincipalTag/openclaw:db-user}"
    },
    {
      "Sid": "DenyControlPlane",
      "Effect": "Deny",
      "Action": [
        "iam:*",
        "sts:AssumeRole",
        "organizations:*",
        "ecs:*",
        "ec2:*"
      ],
      "Resource": "*"
    }
  ]
}
