variable "region" {
  description = "AWS region"
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of every resource name"
  type        = string
  default     = "chicago-food"
}

variable "vpc_id" {
  description = "The VPC of the Kubernetes cluster"
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two zones) for the database"
  type        = list(string)
}

variable "cluster_security_group_id" {
  description = "Security group of the cluster's nodes: the only clients the database accepts"
  type        = string
}

variable "oidc_provider_arn" {
  description = "The cluster's IAM OIDC provider (IAM roles for service accounts)"
  type        = string
}

variable "oidc_provider_url" {
  description = "The OIDC issuer URL without https://"
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the pipeline, the API and the dashboard"
  type        = string
  default     = "chicago-food"
}

variable "database_instance_class" {
  description = "RDS instance class (db.t4g.medium holds the 300,000-row history with room)"
  type        = string
  default     = "db.t4g.medium"
}
