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

/// `openclaw explain tenant.spec.agents`: the field's type, rules and description, and its
/// fields, read from the JSON Schema (as `kubectl explain` reads the OpenAPI schema). An unknown
/// kind or field is an error that names what exists.
pub fn explain(path: &str) -> Result<String, String> {
    let mut segments = path.split('.');
    let kind = segments.next().unwrap_or_default().to_ascii_lowercase();
    let (root, kind_name) = match kind.trim_end_matches('s') {
        "tenant" => (tenant_schema(), "Tenant"),
        "agent" => (agent_schema(), "Agent"),
        _ => return Err(format!("unknown kind {kind:?}: explain tenant or agent")),
    };
    let mut node = &root;
    let mut walked = Vec::new();
    for seg in segments.filter(|s| !s.is_empty()) {
        let props = properties(&root, node);
        match props.and_then(|p| p.get(seg)) {
            Some(child) => node = child,
            None => {
                let at = std::iter::once(kind.as_str())
                    .chain(walked.iter().copied())
                    .collect::<Vec<_>>()
                    .join(".");
                let names: Vec<&str> = props
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                return Err(if names.is_empty() {
                    format!("{at} has no fields")
                } else {
                    format!(
                        "{at} has no field {seg:?}; its fields: {}",
                        names.join(", ")
                    )
                });
            }
        }
        walked.push(seg);
    }
    let mut out = format!("KIND:  {kind_name}\n");
    if !walked.is_empty() {
        out.push_str(&format!(
            "FIELD: {} <{}>\n",
            walked.join("."),
            type_name(node)
        ));
    }
    let target = resolve(&root, node);
    let description = node
        .get("description")
        .or_else(|| target.get("description"))
        .and_then(|d| d.as_str())
        .unwrap_or("");
    out.push_str(&format!("\nDESCRIPTION:\n{}\n", indent(description, "  ")));
    let rules = rules(node, target);
    if !rules.is_empty() {
        out.push_str(&format!("\nRULES:\n{}\n", indent(&rules.join("\n"), "  ")));
    }
    if let Some(props) = properties(&root, node) {
        let required: Vec<&str> = resolve(&root, element(&root, node))
            .get("required")
            .and_then(|r| r.as_array())
            .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        out.push_str("\nFIELDS:\n");
        for (name, child) in props {
            let req = if required.contains(&name.as_str()) {
                " -required-"
            } else {
                ""
            };
            out.push_str(&format!("  {name} <{}>{req}\n", type_name(child)));
            let first = child
                .get("description")
                .or_else(|| resolve(&root, child).get("description"))
                .and_then(|d| d.as_str())
                .map(|d| d.replace('\n', " "))
                .unwrap_or_default();
            if !first.is_empty() {
                out.push_str(&format!("    {first}\n"));
            }
        }
    }
    Ok(out)
}

/// Follows a `$ref` (and a nullable `anyOf`) to the schema it names.
fn resolve<'a>(root: &'a serde_json::Value, node: &'a serde_json::Value) -> &'a serde_json::Value {
    if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
        let name = r.trim_start_matches("#/$defs/");
        if let Some(def) = root.get("$defs").and_then(|d| d.get(name)) {
            return resolve(root, def);
        }
    }
    if let Some(any) = node.get("anyOf").and_then(|a| a.as_array()) {
        if let Some(x) = any.iter().find(|x| x.get("type") != Some(&"null".into())) {
            return resolve(root, x);
        }
    }
    node
}

/// The element schema of an array; the node itself otherwise.
fn element<'a>(root: &'a serde_json::Value, node: &'a serde_json::Value) -> &'a serde_json::Value {
    let r = resolve(root, node);
    r.get("items").unwrap_or(r)
}

fn properties<'a>(
    root: &'a serde_json::Value,
    node: &'a serde_json::Value,
) -> Option<&'a serde_json::Map<String, serde_json::Value>> {
    resolve(root, element(root, node))
        .get("properties")
        .and_then(|p| p.as_object())
}

/// `string`, `integer`, `[]AgentSpec`, `Tier`, …
fn type_name(node: &serde_json::Value) -> String {
    let named = |n: &serde_json::Value| {
        n.get("$ref")
            .or_else(|| {
                n.get("anyOf")?
                    .as_array()?
                    .iter()
                    .find_map(|x| x.get("$ref"))
            })
            .and_then(|r| r.as_str())
            .map(|r| r.trim_start_matches("#/$defs/").to_owned())
    };
    if let Some(n) = named(node) {
        return n;
    }
    if let Some(items) = node.get("items") {
        return format!("[]{}", type_name(items));
    }
    match node.get("type") {
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(serde_json::Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join("|"),
        _ => "object".into(),
    }
}

/// The validation rules a user meets: allowed values, pattern, lengths, bounds, default.
fn rules(node: &serde_json::Value, target: &serde_json::Value) -> Vec<String> {
    let get = |k: &str| node.get(k).or_else(|| target.get(k));
    let mut out = Vec::new();
    if let Some(values) = get("enum").and_then(|e| e.as_array()) {
        let v: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        out.push(format!("one of {}", v.join(", ")));
    }
    if let Some(p) = get("pattern").and_then(|p| p.as_str()) {
        out.push(format!("matches {p}"));
    }
    for (k, what) in [
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minimum", "at least {}"),
        ("maximum", "at most {}"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
    ] {
        if let Some(v) = get(k) {
            out.push(what.replace("{}", &v.to_string()));
        }
    }
    if get("uniqueItems") == Some(&serde_json::Value::Bool(true)) {
        out.push("no duplicates".into());
    }
    if let Some(d) = get("default") {
        out.push(format!("default {d}"));
    }
    out
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn explain_walks_the_schema_to_a_field_with_its_type_rules_and_fields() {
        let agents = explain("tenant.spec.agents").expect("a field");
        assert!(
            agents.starts_with("KIND:  Tenant\nFIELD: spec.agents <[]AgentSpec>\n"),
            "{agents}"
        );
        assert!(agents.contains("this list is the whole set"), "{agents}");
        assert!(
            agents.contains("  kind <AgentKind> -required-\n"),
            "{agents}"
        );
        assert!(agents.contains("  desiredCount <integer>"), "{agents}");
        let tier = explain("tenant.spec.tier").expect("a field");
        assert!(tier.contains("FIELD: spec.tier <Tier>"), "{tier}");
        assert!(
            tier.contains(r#"one of "standard", "premium", "enterprise""#),
            "{tier}"
        );
        assert!(tier.contains(r#"default "standard""#), "{tier}");
        let region = explain("tenant.spec.region").expect("a field");
        assert!(region.contains("matches ^[a-z]{2}"), "{region}");
        let top = explain("tenants").expect("a kind");
        assert!(
            top.contains("  spec <TenantSpec>") && !top.contains("FIELD:"),
            "{top}"
        );
        assert!(explain("agent.spec.integrations")
            .expect("agent")
            .contains("<[]Integration>"));
    }

    #[test]
    fn explain_names_what_exists_when_the_path_is_wrong() {
        let e = explain("tenant.spec.agnets").expect_err("typo");
        assert!(e.contains("tenant.spec has no field \"agnets\""), "{e}");
        assert!(e.contains("agents") && e.contains("displayName"), "{e}");
        let e = explain("widget").expect_err("no kind");
        assert!(e.contains("explain tenant or agent"), "{e}");
        assert!(explain("tenant.spec.region.x")
            .expect_err("a string")
            .contains("no fields"));
    }

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
