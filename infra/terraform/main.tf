# Storage and access for the pipeline, the score API and the dashboard. Secrets live in AWS Secrets Manager (values
# put there by an operator or by RDS itself, never in this code, a variables file or the image).
data "aws_caller_identity" "current" {}

# --- one customer-managed key for the bucket, the database, its logs and the secrets
resource "aws_kms_key" "data" {
  description         = "${var.name}: objects, database, secrets"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

# --- raw pulls and model artifacts
resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_144:cross-region replication: the objects are re-pullable from Socrata and models retrainable
  #checkov:skip=CKV_AWS_18:access logging needs a second bucket; CloudTrail data events are the audit trail instead
  #checkov:skip=CKV2_AWS_62:no consumer of object events: the pipeline's sensors watch Socrata, not the bucket
  bucket_prefix = "${var.name}-"
}

resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  bucket                  = aws_s3_bucket.data.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    id     = "old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# --- PostgreSQL: the tables (database chicago_food) and Dagster's storage (database dagster)
resource "aws_db_subnet_group" "data" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_security_group" "database" {
  name        = "${var.name}-database"
  description = "PostgreSQL, reachable from the cluster's nodes only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "database" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the cluster"
  referenced_security_group_id = var.cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_db_parameter_group" "data" {
  name   = "${var.name}-postgres16"
  family = "postgres16"
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_iam_role" "monitoring" {
  name = "${var.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "data" {
  identifier                            = var.name
  engine                                = "postgres"
  engine_version                        = "16.4"
  instance_class                        = var.database_instance_class
  allocated_storage                     = 50
  max_allocated_storage                 = 200
  storage_encrypted                     = true
  kms_key_id                            = aws_kms_key.data.arn
  db_name                               = "chicago_food"
  username                              = "chicago_food_admin"
  manage_master_user_password           = true # RDS keeps the admin password in Secrets Manager, rotated
  master_user_secret_kms_key_id         = aws_kms_key.data.arn
  db_subnet_group_name                  = aws_db_subnet_group.data.name
  vpc_security_group_ids                = [aws_security_group.database.id]
  parameter_group_name                  = aws_db_parameter_group.data.name
  publicly_accessible                   = false
  multi_az                              = true
  backup_retention_period               = 14
  deletion_protection                   = true
  skip_final_snapshot                   = false
  final_snapshot_identifier             = "${var.name}-final"
  copy_tags_to_snapshot                 = true
  auto_minor_version_upgrade            = true
  iam_database_authentication_enabled   = true
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.data.arn
  performance_insights_retention_period = 7
}

# --- secrets (values put by the operator, README: Production); the pipeline's and the readers' are separate
resource "aws_secretsmanager_secret" "pipeline" {
  #checkov:skip=CKV2_AWS_57:holds URLs built on RDS's own rotated admin secret and the Socrata app token, which Socrata cannot rotate by API
  name       = "${var.name}/pipeline"
  kms_key_id = aws_kms_key.data.arn
}

resource "aws_secretsmanager_secret" "reader" {
  #checkov:skip=CKV2_AWS_57:the read-only role's password is rotated by re-running ensure_reader (README: Production), not by a Lambda
  name       = "${var.name}/reader"
  kms_key_id = aws_kms_key.data.arn
}

# --- least privilege, through IAM roles for Kubernetes service accounts
locals {
  prefix = "chicago-food"
  service_accounts = {
    pipeline = ["dagster", "chicago-food-assets"] # the chart's service accounts: code location, runs, steps
    reader   = ["score-api", "dashboard"]
  }
}

data "aws_iam_policy_document" "assume" {
  for_each = local.service_accounts
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_provider_url}:sub"
      values   = [for account in each.value : "system:serviceaccount:${var.namespace}:${account}"]
    }
  }
}

resource "aws_iam_role" "service" {
  for_each           = local.service_accounts
  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.assume[each.key].json
}

# The pipeline reads and writes its prefix of the bucket, and reads its secret.
data "aws_iam_policy_document" "pipeline" {
  statement {
    sid       = "ObjectsUnderThePrefix"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.data.arn}/${local.prefix}/*"]
  }
  statement {
    sid       = "ListThePrefix"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.data.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix}/*"]
    }
  }
  statement {
    sid       = "TheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.data.arn]
  }
  statement {
    sid       = "ItsSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.pipeline.arn]
  }
}

# The API and the dashboard: no bucket at all; only the read-only role's secret (the role itself can only SELECT).
data "aws_iam_policy_document" "reader" {
  statement {
    sid       = "ItsSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.reader.arn]
  }
  statement {
    sid       = "TheKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.data.arn]
  }
}

resource "aws_iam_role_policy" "pipeline" {
  name   = "pipeline"
  role   = aws_iam_role.service["pipeline"].id
  policy = data.aws_iam_policy_document.pipeline.json
}

resource "aws_iam_role_policy" "reader" {
  name   = "reader"
  role   = aws_iam_role.service["reader"].id
  policy = data.aws_iam_policy_document.reader.json
}
