{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "WriteGrantsIntoTheOperatorsOAuthSecretsOnly",
      "Effect": "Allow",
      "Action": [
        "secretsmanager:PutSecretValue",
        "secretsmanager:DescribeSecret"
      ],
      "Resource": "arn:${partition}:secretsmanager:${region}:${account_id}:secret:/openclaw/*-oauth-??????",
      "Condition": {
        "StringEquals": {
          "secretsmanager:ResourceTag/openclaw:managed-by": "openclaw-operator"
        }
      }
    },
    {
      "Sid": "ReadItsOwnOAuthClientConfiguration",
      "Effect": "Allow",
      "Action": "secretsmanager:GetSecretValue",
      "Resource": "${clients_secret_arn}"
    },
    {
      "Sid": "NeverReadATenantSecret",
      "Effect": "Deny",
      "Action": [
        "secretsmanager:GetSecretValue",
        "secretsmanager:BatchGetSecretValue"
      ],
      "Resource": "arn:${partition}:secretsmanager:${region}:${account_id}:secret:/openclaw/*"
    }
  ]
}
