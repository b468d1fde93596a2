//! YAML (and JSON) manifests: one or many documents of kind `Tenant`, `Agent` or `List`.
//!
//! Owns: turning text into typed objects, with an error that names the document and the field.
//! Must never: accept a document it cannot fully type (unknown fields are errors).

use std::fmt;

use serde::Deserialize;

use crate::api::{Agent, Tenant};
use crate::validate::{self, ValidationErrors};

/// Largest manifest accepted, so that a hostile file cannot exhaust memory.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// One object of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Tenant(Tenant),
    Agent(Agent),
}

impl Object {
    /// `tenant/acme` or `agent/acme/butler`, as `apply` reports it.
    pub fn display_id(&self) -> String {
        match self {
            Object::Tenant(t) => format!("tenant/{}", shown_name(&t.metadata.name)),
            Object::Agent(a) => format!("agent/{}/{}", shown_name(&a.metadata.tenant), a.spec.kind),
        }
    }

    pub fn validate(&self) -> Result<(), ValidationErrors> {
        match self {
            Object::Tenant(t) => validate::validate_tenant(t),
            Object::Agent(a) => validate::validate_agent(a),
        }
    }
}

/// A name as it may appear in a message: as is when valid, else quoted and cut short, so that
/// hostile input can neither flood an error nor pose as another object.
fn shown_name(name: &str) -> String {
    if crate::naming::TenantName::parse(name).is_ok() {
        return name.to_owned();
    }
    let cut: String = name.chars().take(40).collect();
    let more = if name.chars().count() > 40 { "…" } else { "" };
    format!("{cut:?}{more}")
}

/// A problem with one document of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// 1-based position of the document in the file.
    pub document: usize,
    /// `tenant/acme` when the document got far enough to have an identity.
    pub object: Option<String>,
    pub message: String,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        if let Some(o) = &self.object {
            write!(f, " ({o})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestErrors(pub Vec<DocumentError>);

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    #[serde(default)]
    kind: Option<String>,
}

/// Parses every document and validates every object; returns all objects, or every problem.
pub fn parse_and_validate(text: &str) -> Result<Vec<Object>, ManifestErrors> {
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    if text.len() > MAX_MANIFEST_BYTES {
        errors.push(DocumentError {
            document: 0,
            object: None,
            message: format!("manifest is larger than {MAX_MANIFEST_BYTES} bytes"),
        });
        return Err(ManifestErrors(errors));
    }
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let n = i + 1;
        let value = match serde_yaml::Value::deserialize(doc) {
            Ok(serde_yaml::Value::Null) => continue, // an empty document, e.g. a trailing `---`
            Ok(v) => v,
            Err(e) => {
                errors.push(doc_error(n, None, format!("not valid YAML: {e}")));
                // The parser cannot resynchronise after a syntax error.
                break;
            }
        };
        collect(n, value, &mut objects, &mut errors);
    }
    if errors.is_empty() {
        Ok(objects)
    } else {
        Err(ManifestErrors(errors))
    }
}

fn doc_error(document: usize, object: Option<String>, message: String) -> DocumentError {
    DocumentError {
        document,
        object,
        message,
    }
}

/// Deserializes with the path of the failing field in the message: `spec.kind: unknown variant`.
fn typed<T: serde::de::DeserializeOwned>(value: &serde_yaml::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

fn collect(
    n: usize,
    value: serde_yaml::Value,
    objects: &mut Vec<Object>,
    errors: &mut Vec<DocumentError>,
) {
    let kind = match Header::deserialize(&value) {
        Ok(h) => h.kind,
        Err(e) => {
            errors.push(doc_error(n, None, format!("not a mapping: {e}")));
            return;
        }
    };
    let typed: Result<Object, String> = match kind.as_deref() {
        Some("Tenant") => typed::<Tenant>(&value).map(Object::Tenant),
        Some("Agent") => typed::<Agent>(&value).map(Object::Agent),
        Some("List") => {
            match value.get("items").and_then(|v| v.as_sequence()) {
                Some(items) => {
                    for item in items.clone() {
                        collect(n, item, objects, errors);
                    }
                }
                None => errors.push(doc_error(
                    n,
                    None,
                    "kind List needs a sequence `items`".into(),
                )),
            }
            return;
        }
        Some(other) => Err(format!(
            "kind: must be Tenant, Agent or List (got {:?}) [kind_known]",
            other.chars().take(40).collect::<String>()
        )),
        None => Err("kind: missing; must be Tenant, Agent or List [kind_known]".into()),
    };
    match typed {
        Ok(obj) => match obj.validate() {
            Ok(()) => objects.push(obj),
            Err(v) => {
                for fe in v.0 {
                    errors.push(doc_error(n, Some(obj.display_id()), fe.to_string()));
                }
            }
        },
        Err(e) => errors.push(doc_error(n, None, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
apiVersion: openclaw.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  displayName: Acme Corp
  region: us-east-1
  agents:
    - kind: butler
      model: anthropic.claude-3-5-haiku-20241022-v1:0
      integrations: [gmail, calendar]
---
apiVersion: openclaw.io/v1alpha1
kind: Agent
metadata: {tenant: acme}
spec:
  kind: scout
  model: amazon.nova-lite-v1:0
  desiredCount: 2
---
"#;

    #[test]
    fn parses_multi_document_files() {
        let objs = parse_and_validate(GOOD).expect("valid");
        let ids: Vec<String> = objs.iter().map(Object::display_id).collect();
        assert_eq!(ids, ["tenant/acme", "agent/acme/scout"]);
    }

    #[test]
    fn json_lists_parse_too() {
        let json = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"openclaw.io/v1alpha1","kind":"Agent","metadata":{"tenant":"acme"},"spec":{"kind":"scout","model":"amazon.nova-lite-v1:0"}}]}"#;
        let objs = parse_and_validate(json).expect("valid");
        assert_eq!(objs.len(), 1);
    }

    #[test]
    fn every_bad_document_is_reported() {
        let text = format!(
            "{GOOD}\napiVersion: openclaw.io/v1alpha1\nkind: Agent\nmetadata: {{tenant: acme}}\nspec: {{kind: scout, model: x, cpu: 256, memory: 4096}}\n---\nkind: Gadget\n---\napiVersion: openclaw.io/v1alpha1\nkind: Tenant\nmetadata: {{name: b}}\nspec: {{displayName: B, region: us-east-1, colour: red}}\n"
        );
        let errs = parse_and_validate(&text).expect_err("invalid");
        let msgs: Vec<String> = errs.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 4, "{msgs:#?}");
        assert!(
            msgs[0].starts_with("document 3 (agent/acme/scout): spec.model:"),
            "{}",
            msgs[0]
        );
        assert!(msgs[1].contains("spec.memory") && msgs[1].contains("agent_cpu_memory_fargate"));
        assert!(msgs[2].starts_with("document 4: kind: must be Tenant, Agent or List"));
        assert!(
            msgs[3].starts_with("document 5:") && msgs[3].contains("unknown field `colour`"),
            "{}",
            msgs[3]
        );
    }

    #[test]
    fn unknown_enum_values_name_the_field() {
        let text = "apiVersion: openclaw.io/v1alpha1\nkind: Agent\nmetadata: {tenant: acme}\nspec: {kind: gardener, model: amazon.nova-lite-v1:0}\n";
        let errs = parse_and_validate(text).expect_err("invalid");
        assert!(
            errs.to_string()
                .contains("spec.kind: unknown variant `gardener`"),
            "{errs}"
        );
    }

    #[test]
    fn yaml_bombs_are_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            text.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = c;
        }
        let errs = parse_and_validate(&text).expect_err("bomb");
        assert_eq!(errs.0.len(), 1, "{errs}");
    }

    #[test]
    fn oversize_manifests_are_refused() {
        let text = "#".repeat(MAX_MANIFEST_BYTES + 1);
        assert!(parse_and_validate(&text).is_err());
    }
}

#[cfg(test)]
mod fuzz {
    //! Hostile input never becomes a command: every manifest is rejected with an error or
    //! accepted with names that meet the naming rule (and so quote safely everywhere).
    use super::*;
    use crate::naming::TenantName;
    use proptest::prelude::*;

    fn hostile() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9-]{1,30}[a-z0-9]",
            ".{0,80}",
            Just("acme'; DROP TABLE openclaw.tenants; --".to_owned()),
            Just("acme\"".to_owned()),
            Just("../../etc".to_owned()),
            Just("acme/*".to_owned()),
            Just("аcme".to_owned()),
            Just("acme\u{200b}".to_owned()),
            Just("ACME".to_owned()),
            Just("a".repeat(5000)),
            Just("acme\nkind: Agent".to_owned()),
        ]
    }

    fn tenant_doc(name: &str, region: &str, model: &str) -> String {
        let v = serde_json::json!({
            "apiVersion": "openclaw.io/v1alpha1", "kind": "Tenant",
            "metadata": {"name": name},
            "spec": {"displayName": name, "region": region,
                     "agents": [{"kind": "scout", "model": model}]}
        });
        serde_yaml::to_string(&v).unwrap_or_default()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn manifests_with_hostile_names_are_rejected_or_safe(name in hostile(), region in hostile(), model in hostile()) {
            match parse_and_validate(&tenant_doc(&name, &region, &model)) {
                Ok(objs) => {
                    prop_assert_eq!(objs.len(), 1);
                    let t = TenantName::parse(&name);
                    prop_assert!(t.is_ok(), "accepted an invalid name {:?}", name);
                    let t = t.expect("checked");
                    prop_assert!(crate::naming::DbName::legacy(&t).as_str().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
                    prop_assert!(!t.secret_prefix().contains(".."));
                    prop_assert!(crate::validate::model_ok(&model) && crate::validate::region_ok(&region));
                }
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(!msg.is_empty());
                    prop_assert!(msg.len() < 4000, "error too long: {} bytes", msg.len());
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics_the_parser(text in ".{0,400}") {
            let _ = parse_and_validate(&text);
        }

        #[test]
        fn yaml_anchors_and_aliases_do_not_change_meaning(name in "[a-z][a-z0-9-]{1,30}[a-z0-9]") {
            let doc = format!(
                "apiVersion: openclaw.io/v1alpha1\nkind: Tenant\nmetadata: {{name: &n {name}}}\nspec: {{displayName: *n, region: us-east-1}}\n"
            );
            let objs = parse_and_validate(&doc).expect("aliases are plain values");
            match &objs[0] {
                Object::Tenant(t) => {
                    prop_assert_eq!(&t.metadata.name, &name);
                    prop_assert_eq!(&t.spec.display_name, &name);
                }
                Object::Agent(_) => prop_assert!(false, "wrong kind"),
            }
        }
    }
}
