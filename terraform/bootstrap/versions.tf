terraform {
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.30"
    }
  }
  # Local state on purpose: this creates the bucket every other configuration keeps its state in.
  # Keep the resulting terraform.tfstate somewhere safe, or import the bucket later.
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { "openclaw:component" = "terraform-state" }
  }
}
