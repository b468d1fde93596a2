output "arn" {
  description = "ARN of the boundary (cell.permissions_boundary_arn)."
  value       = aws_iam_policy.boundary.arn
}

output "document" {
  description = "The rendered boundary document."
  value       = local.document
}
