#!/usr/bin/env bash
# Creates in the local AWS emulator (moto) what Terraform creates in production, and writes the
# operator's cell config (YAML) to OUT_CONFIG_PATH. Idempotent: existing resources are found by
# name/tag and reused. Owns: the ECS cluster, VPC/subnets/security group, task execution role,
# tenant permissions boundary policy and tenant bucket of the local cell.
# Needs AWS_ENDPOINT_URL (and the test credentials) in the environment, as start_moto exports them.
set -euo pipefail
# shellcheck source=deploy/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

(($# == 1)) || die "usage: $0 OUT_CONFIG_PATH"
OUT="$1"
[[ -n "${AWS_ENDPOINT_URL:-}" ]] || die "AWS_ENDPOINT_URL is not set; run up.sh (this script only targets the emulator)"

CLUSTER=openclaw
BUCKET=openclaw-tenants-local
SG_NAME=openclaw-agents
EXEC_ROLE=openclaw-task-execution
# The tenant boundary: the one template Terraform renders too (modules/tenant-boundary).
BOUNDARY_TEMPLATE="$REPO_ROOT/deploy/policies/tenant-boundary.json.tpl"
BOUNDARY_FILE="$STATE_DIR/tenant-boundary.json"

aws() { "$VENV/bin/aws" --endpoint-url "$AWS_ENDPOINT_URL" --region "${AWS_REGION:-us-east-1}" --output text "$@"; }
json_norm() { "$VENV/bin/python" -c 'import json, sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))'; }
# The aws CLI prints "None" for an empty --query result.
some() { [[ -n "$1" && "$1" != None ]]; }

ACCOUNT="$(aws sts get-caller-identity --query Account)"

# ECS cluster
if [[ "$(aws ecs describe-clusters --clusters "$CLUSTER" --query 'clusters[0].status')" != ACTIVE ]]; then
  aws ecs create-cluster --cluster-name "$CLUSTER" >/dev/null
  log "created ECS cluster $CLUSTER"
fi

# Network: VPC, two private subnets, the agents' security group (no ingress)
VPC="$(aws ec2 describe-vpcs --filters Name=tag:Name,Values=openclaw Name=cidr,Values=10.40.0.0/16 --query 'Vpcs[0].VpcId')"
if ! some "$VPC"; then
  VPC="$(aws ec2 create-vpc --cidr-block 10.40.0.0/16 \
    --tag-specifications 'ResourceType=vpc,Tags=[{Key=Name,Value=openclaw}]' --query Vpc.VpcId)"
  log "created VPC $VPC"
fi
SUBNETS=()
for spec in us-east-1a:10.40.1.0/24 us-east-1b:10.40.2.0/24; do
  az="${spec%%:*}" cidr="${spec#*:}"
  id="$(aws ec2 describe-subnets --filters "Name=vpc-id,Values=$VPC" "Name=cidr-block,Values=$cidr" --query 'Subnets[0].SubnetId')"
  if ! some "$id"; then
    id="$(aws ec2 create-subnet --vpc-id "$VPC" --cidr-block "$cidr" --availability-zone "$az" \
      --tag-specifications "ResourceType=subnet,Tags=[{Key=Name,Value=openclaw-private-$az}]" --query Subnet.SubnetId)"
    log "created subnet $id ($az, $cidr)"
  fi
  SUBNETS+=("$id")
done
SG="$(aws ec2 describe-security-groups --filters "Name=vpc-id,Values=$VPC" "Name=group-name,Values=$SG_NAME" --query 'SecurityGroups[0].GroupId')"
if ! some "$SG"; then
  SG="$(aws ec2 create-security-group --vpc-id "$VPC" --group-name "$SG_NAME" \
    --description 'OpenClaw agent tasks (no ingress)' --query GroupId)"
  log "created security group $SG"
fi

# Task execution role: pulls the image and writes logs, nothing else (no secrets access). It
# creates no log group: the operator creates each agent's, with the cell's key and retention.
if ! aws iam get-role --role-name "$EXEC_ROLE" >/dev/null 2>&1; then
  aws iam create-role --role-name "$EXEC_ROLE" --assume-role-policy-document '{
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]
  }' >/dev/null
  log "created IAM role $EXEC_ROLE"
fi
aws iam put-role-policy --role-name "$EXEC_ROLE" --policy-name "$EXEC_ROLE" --policy-document '{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "PullAgentImage", "Effect": "Allow", "Resource": "*",
     "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]},
    {"Sid": "WriteAgentLogs", "Effect": "Allow", "Resource": "arn:aws:logs:*:*:log-group:/openclaw/*",
     "Action": ["logs:CreateLogStream", "logs:PutLogEvents"]}
  ]
}'

# Tenant permissions boundary: rendered for this cell (no RDS here, so any database's tenant users),
# then created, or given a new default version when the rendering changed.
sed -e "s|\${partition}|aws|g" \
  -e "s|\${region}|${AWS_REGION:-us-east-1}|g" \
  -e "s|\${account_id}|$ACCOUNT|g" \
  -e "s|\${tenant_bucket}|$BUCKET|g" \
  -e "s|\${db_resource_id}|*|g" \
  -e 's|[$][$][{]|${|g' \
  "$BOUNDARY_TEMPLATE" >"$BOUNDARY_FILE.tmp"
# `$${aws:…}` in the template is Terraform's escape for an IAM policy variable, kept as `${aws:…}`.
if grep -n -e '[$][{]' "$BOUNDARY_FILE.tmp" | grep -v -e '[$][{]aws:' >&2; then
  die "unrendered placeholder in $BOUNDARY_TEMPLATE (lines above): bootstrap.sh renders partition, region, account_id, tenant_bucket and db_resource_id"
fi
json_norm <"$BOUNDARY_FILE.tmp" >/dev/null || die "$BOUNDARY_TEMPLATE does not render to valid JSON"
mv "$BOUNDARY_FILE.tmp" "$BOUNDARY_FILE"
BOUNDARY_ARN="arn:aws:iam::$ACCOUNT:policy/openclaw/openclaw-tenant-boundary"
if ! DEFAULT_VERSION="$(aws iam get-policy --policy-arn "$BOUNDARY_ARN" --query Policy.DefaultVersionId 2>/dev/null)"; then
  aws iam create-policy --policy-name openclaw-tenant-boundary --path /openclaw/ \
    --policy-document "file://$BOUNDARY_FILE" >/dev/null
  log "created policy $BOUNDARY_ARN"
else
  current="$(aws iam get-policy-version --policy-arn "$BOUNDARY_ARN" --version-id "$DEFAULT_VERSION" \
    --output json --query PolicyVersion.Document | json_norm)"
  if [[ "$current" != "$(json_norm <"$BOUNDARY_FILE")" ]]; then
    # IAM keeps at most 5 versions: drop the oldest non-default one first.
    read -ra old <<<"$(aws iam list-policy-versions --policy-arn "$BOUNDARY_ARN" --query 'Versions[?!IsDefaultVersion].VersionId')"
    if ((${#old[@]} >= 4)); then
      aws iam delete-policy-version --policy-arn "$BOUNDARY_ARN" --version-id "$(printf '%s\n' "${old[@]}" | sort -V | head -1)"
    fi
    aws iam create-policy-version --policy-arn "$BOUNDARY_ARN" --set-as-default \
      --policy-document "file://$BOUNDARY_FILE" >/dev/null
    log "updated policy $BOUNDARY_ARN to match $BOUNDARY_FILE"
  fi
fi

# Tenant bucket
if ! aws s3api head-bucket --bucket "$BUCKET" >/dev/null 2>&1; then
  aws s3api create-bucket --bucket "$BUCKET" >/dev/null
  log "created bucket $BUCKET"
fi
# Versioned, as in Terraform: an erasure must remove every version, not only the current one.
aws s3api put-bucket-versioning --bucket "$BUCKET" --versioning-configuration Status=Enabled

# The cell's key for the agents' log groups (Terraform's network module in production).
LOGS_KEY_ALIAS=alias/openclaw-logs
if ! LOGS_KEY_ARN="$(aws kms describe-key --key-id "$LOGS_KEY_ALIAS" --query KeyMetadata.Arn 2>/dev/null)"; then
  LOGS_KEY_ARN="$(aws kms create-key --description 'OpenClaw agent logs' --query KeyMetadata.Arn)"
  aws kms create-alias --alias-name "$LOGS_KEY_ALIAS" --target-key-id "$LOGS_KEY_ARN"
  log "created KMS key $LOGS_KEY_ALIAS"
fi

# The cell's database as the RDS API describes it (Terraform's database module in production):
# encrypted, private, IAM authentication on. The tests' PostgreSQL is the one agents really use.
DB_ID=openclaw-db
if ! aws rds describe-db-instances --db-instance-identifier "$DB_ID" >/dev/null 2>&1; then
  aws rds create-db-instance --db-instance-identifier "$DB_ID" --engine postgres \
    --engine-version 16.3 --db-instance-class db.t4g.micro --allocated-storage 20 \
    --master-username openclaw --master-user-password "local-emulator-only-1" \
    --storage-encrypted --no-publicly-accessible --enable-iam-database-authentication >/dev/null
  log "created RDS instance $DB_ID"
fi

mkdir -p "$(dirname "$OUT")"
cat >"$OUT.tmp" <<EOF
# Generated by deploy/local/bootstrap.sh for the local stack.
cell:
  name: local
  region: ${AWS_REGION:-us-east-1}
  account_id: "$ACCOUNT"
  aws_endpoint_url: $AWS_ENDPOINT_URL
  ecs_cluster: $CLUSTER
  subnets: [${SUBNETS[0]}, ${SUBNETS[1]}]
  security_groups: [$SG]
  agent_image: openclaw/agent:dev
  execution_role_arn: arn:aws:iam::$ACCOUNT:role/$EXEC_ROLE
  permissions_boundary_arn: $BOUNDARY_ARN
  tenant_bucket: $BUCKET
  agent_logs:
    kms_key_arn: $LOGS_KEY_ARN
    retention_days: 30
    retention_days_by_tier: {enterprise: 365}
  database:
    rds_instance: $DB_ID
EOF
mv "$OUT.tmp" "$OUT"
log "wrote $OUT"
