terraform {
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.30"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # Partial configuration: bucket, region and kms_key_id come from `terraform init -backend-config=…`
  # (terraform/bootstrap prints them; the workflows pass them from repository variables).
  backend "s3" {
    key          = "openclaw/example/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      "openclaw:cell"      = var.cell_name
      "openclaw:component" = "platform"
    }
  }
}
