//! JSON Schemas of the two kinds, generated from the Rust types. The files in `crds/schema/`
//! are these, committed; a test fails when they drift (regenerate with
//! `OPENCLAW_BLESS=1 cargo test -p openclaw-crds schema`).

use crate::api::{Agent, Tenant};

pub fn tenant_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Tenant)).unwrap_or_default()
}

pub fn agent_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Agent)).unwrap_or_default()
}

/// (file name under `crds/schema/`, schema).
pub fn all() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("tenant.schema.json", tenant_schema()),
        ("agent.schema.json", agent_schema()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn committed_schemas_match_the_rust_types() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
        for (file, schema) in all() {
            let want = serde_json::to_string_pretty(&schema).expect("json") + "\n";
            let path = dir.join(file);
            if std::env::var_os("OPENCLAW_BLESS").is_some() {
                std::fs::write(&path, &want).expect("write schema");
            }
            let got = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                got == want,
                "{} is out of date with the Rust types; regenerate with \
                 OPENCLAW_BLESS=1 cargo test -p openclaw-crds schema",
                path.display()
            );
        }
    }

    #[test]
    fn schemas_name_the_rules_users_meet() {
        let t = tenant_schema().to_string();
        assert!(t.contains("\"displayName\"") && t.contains("\"region\""));
        let a = agent_schema().to_string();
        for kind in ["butler", "scout", "strategist"] {
            assert!(a.contains(kind), "{kind} missing from the Agent schema");
        }
    }
}
