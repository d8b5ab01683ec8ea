"""Dagster instance plugins named in dagster.yaml: pooled, batched PostgreSQL storage and the local run launcher
with its worker health check. They import nothing from the CLI."""
