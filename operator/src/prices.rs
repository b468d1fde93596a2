//! Prices for the cost figures: USD per 1,000 Bedrock tokens per model, and Fargate per
//! vCPU-hour and GB-hour. Plain configuration data.
//!
//! Owns: the price table and its arithmetic. Must never: do I/O.

use std::collections::BTreeMap;

use serde::Deserialize;

/// USD per 1,000 tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPrice {
    pub input_per_1k: f64,
    pub output_per_1k: f64,
}

/// Prices: per model, with a default for models not listed; Fargate per vCPU-hour and GB-hour.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prices {
    pub models: BTreeMap<String, TokenPrice>,
    pub default_model: TokenPrice,
    pub fargate_vcpu_hour: f64,
    pub fargate_gb_hour: f64,
}

impl Default for Prices {
    fn default() -> Self {
        // Public on-demand list prices (us-east-1) at the time of writing; override in config.
        let mut models = BTreeMap::new();
        models.insert(
            "anthropic.claude-3-5-haiku-20241022-v1:0".into(),
            TokenPrice {
                input_per_1k: 0.0008,
                output_per_1k: 0.004,
            },
        );
        models.insert(
            "anthropic.claude-3-5-sonnet-20240620-v1:0".into(),
            TokenPrice {
                input_per_1k: 0.003,
                output_per_1k: 0.015,
            },
        );
        models.insert(
            "amazon.nova-lite-v1:0".into(),
            TokenPrice {
                input_per_1k: 0.00006,
                output_per_1k: 0.00024,
            },
        );
        models.insert(
            "amazon.nova-pro-v1:0".into(),
            TokenPrice {
                input_per_1k: 0.0008,
                output_per_1k: 0.0032,
            },
        );
        Prices {
            models,
            default_model: TokenPrice {
                input_per_1k: 0.003,
                output_per_1k: 0.015,
            },
            fargate_vcpu_hour: 0.04048,
            fargate_gb_hour: 0.004445,
        }
    }
}

impl Prices {
    pub fn tokens_usd(&self, model: &str, input: i64, output: i64) -> f64 {
        let p = self.models.get(model).unwrap_or(&self.default_model);
        input as f64 / 1000.0 * p.input_per_1k + output as f64 / 1000.0 * p.output_per_1k
    }

    pub fn fargate_usd(&self, vcpu_seconds: f64, gb_seconds: f64) -> f64 {
        vcpu_seconds / 3600.0 * self.fargate_vcpu_hour + gb_seconds / 3600.0 * self.fargate_gb_hour
    }
}
