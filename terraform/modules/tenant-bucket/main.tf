# The cell's shared tenant bucket. Tenant T's agents reach only tenants/T/: their inline policies say
# so, the boundary caps them to tenants/*, and this bucket policy enforces it once more from the
# role's openclaw:tenant tag, so a widened tenant policy still cannot read another tenant's objects.
# Nothing else may touch tenant objects (no pipeline, no console user), and only over TLS.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region       = data.aws_region.current.region
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  bucket_arn   = "arn:${local.partition}:s3:::${var.bucket_name}"
  tenant_roles = "arn:${local.partition}:iam::${local.account_id}:role${var.tenant_role_path}openclaw-*"
  object_actions = [
    "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
  ]
  read_write_actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
  erase_actions      = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
}

# --- Encryption key --------------------------------------------------------------------------------

# Tenant roles use the key only through S3 (their inline policies do not name it; their boundary
# allows KMS only via S3). The principal is "*" because the roles are created later, by the
# operator; the conditions pin it to this account's tenant roles calling through S3.
resource "aws_kms_key" "bucket" {
  description         = "${var.bucket_name}: tenant objects"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*" # in a key policy, "*" is this key
      },
      {
        Sid       = "TenantRolesThroughS3"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = {
            "kms:CallerAccount" = local.account_id
            "kms:ViaService"    = "s3.${local.region}.amazonaws.com"
          }
          ArnLike = { "aws:PrincipalArn" = local.tenant_roles }
        }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "bucket" {
  name          = "alias/${var.bucket_name}"
  target_key_id = aws_kms_key.bucket.key_id
}

# --- The bucket ------------------------------------------------------------------------------------

resource "aws_s3_bucket" "tenants" {
  #checkov:skip=CKV_AWS_144:Cross-region replication would copy tenant data out of the cell's region, against data residency (a tenant's region is its cell's)
  #checkov:skip=CKV2_AWS_62:No consumer of object events exists; object access is audited through the server access logs
  bucket = var.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "tenants" {
  bucket = aws_s3_bucket.tenants.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "tenants" {
  bucket                  = aws_s3_bucket.tenants.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "tenants" {
  bucket = aws_s3_bucket.tenants.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "tenants" {
  bucket = aws_s3_bucket.tenants.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.bucket.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "tenants" {
  bucket = aws_s3_bucket.tenants.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.tenants]
}

resource "aws_s3_bucket_logging" "tenants" {
  bucket        = aws_s3_bucket.tenants.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "s3/${var.bucket_name}/"
}

resource "aws_s3_bucket_policy" "tenants" {
  bucket = aws_s3_bucket.tenants.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "DenyObjectsToAllButTenantRoles"
        Effect    = "Deny"
        Principal = "*"
        Action    = local.read_write_actions
        Resource  = "${local.bucket_arn}/*"
        Condition = { ArnNotLike = { "aws:PrincipalArn" = concat([local.tenant_roles], var.data_admin_principal_arns) } }
      },
      {
        # The operator erases a deleted tenant's objects (right to delete), and nothing else.
        Sid       = "DenyErasureToAllButTenantRolesAndTheOperator"
        Effect    = "Deny"
        Principal = "*"
        Action    = local.erase_actions
        Resource  = "${local.bucket_arn}/*"
        Condition = { ArnNotLike = { "aws:PrincipalArn" = concat([local.tenant_roles, var.operator_role_arn], var.data_admin_principal_arns) } }
      },
      {
        Sid         = "DenyTheOperatorOutsideTenantPrefixes"
        Effect      = "Deny"
        Principal   = "*"
        Action      = local.erase_actions
        NotResource = "${local.bucket_arn}/tenants/*"
        Condition   = { ArnEquals = { "aws:PrincipalArn" = var.operator_role_arn } }
      },
      {
        # $${…} is an IAM policy variable: the tenant named by the calling role's tag.
        Sid         = "DenyTenantRolesOutsideTheirPrefix"
        Effect      = "Deny"
        Principal   = "*"
        Action      = local.object_actions
        NotResource = "${local.bucket_arn}/tenants/$${aws:PrincipalTag/${var.tenant_tag_key}}/*"
        Condition   = { ArnLike = { "aws:PrincipalArn" = local.tenant_roles } }
      },
      {
        Sid       = "DenyTenantRolesListingOthers"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:ListBucket"
        Resource  = local.bucket_arn
        Condition = {
          ArnLike       = { "aws:PrincipalArn" = local.tenant_roles }
          StringNotLike = { "s3:prefix" = "tenants/$${aws:PrincipalTag/${var.tenant_tag_key}}/*" }
        }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.tenants]
}

# --- Server access logs ----------------------------------------------------------------------------

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log target; logging it would log into itself
  #checkov:skip=CKV_AWS_144:Cross-region replication would move tenant access records out of the cell's region (data residency)
  #checkov:skip=CKV2_AWS_62:No consumer of object events exists for access logs
  #checkov:skip=CKV_AWS_145:S3 server access logging delivers only to buckets encrypted with SSE-S3, not SSE-KMS
  bucket = "${var.bucket_name}-access-logs"
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_logs_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "S3ServerAccessLogsOfTheTenantBucket"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.access_logs.arn}/s3/*"
        Condition = {
          ArnLike      = { "aws:SourceArn" = local.bucket_arn }
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
