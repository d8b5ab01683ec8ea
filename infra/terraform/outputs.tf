output "bucket" {
  description = "CHICAGO_FOOD_S3_BUCKET"
  value       = aws_s3_bucket.data.bucket
}

output "rds_endpoint" {
  description = "Host of CHICAGO_FOOD_POSTGRES_URL and DAGSTER_POSTGRES_URL (and the chart's postgresql.postgresqlHost)"
  value       = aws_db_instance.data.address
}

output "admin_secret_arn" {
  description = "The admin password, kept and rotated by RDS"
  value       = aws_db_instance.data.master_user_secret[0].secret_arn
}

output "pipeline_secret" {
  description = "Secret to fill with the pipeline's environment (JSON)"
  value       = aws_secretsmanager_secret.pipeline.name
}

output "reader_secret" {
  description = "Secret to fill with the read-only role's URL"
  value       = aws_secretsmanager_secret.reader.name
}

output "role_arns" {
  description = "IAM roles to annotate the service accounts with (eks.amazonaws.com/role-arn)"
  value       = { for name, role in aws_iam_role.service : name => role.arn }
}
