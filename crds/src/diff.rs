//! Field-by-field differences between two JSON documents of one kind (a spec as stored, and as a
//! manifest asks for it), for `openclaw diff`.
//!
//! Owns: the paths it names (`spec.agents[kind=scout].desiredCount`) and the rule that a list of
//! objects with a `kind` is matched by kind, not by position. Must never: read or write a store.

use serde_json::Value;

/// One changed field. `before` is `None` for an added field, `after` for a removed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Change {
    pub fn to_json(&self) -> Value {
        serde_json::json!({"path": self.path, "before": self.before, "after": self.after})
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.before, &self.after) {
            (None, Some(a)) => write!(f, "+ {}: {a}", self.path),
            (Some(b), None) => write!(f, "- {}: {b}", self.path),
            (Some(b), Some(a)) => write!(f, "~ {}: {b} → {a}", self.path),
            (None, None) => write!(f, "  {}", self.path),
        }
    }
}

/// The changes that turn `before` into `after`, in path order, under the path `prefix`.
pub fn fields(prefix: &str, before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(prefix, Some(before), Some(after), &mut out);
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The kinds of a list whose every item is an object with a distinct string `kind`.
fn kinds(items: &[Value]) -> Option<Vec<&str>> {
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| i.get("kind").and_then(Value::as_str))
        .collect::<Option<_>>()?;
    let mut sorted = kinds.clone();
    sorted.sort_unstable();
    sorted.dedup();
    (sorted.len() == kinds.len()).then_some(kinds)
}

fn walk(path: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<Change>) {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                walk(&join(path, k), b.get(k), a.get(k), out);
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a))) if b != a => {
            match (kinds(b), kinds(a)) {
                (Some(kb), Some(ka)) => {
                    let mut all: Vec<&str> = kb.iter().chain(ka.iter()).copied().collect();
                    all.sort_unstable();
                    all.dedup();
                    let find = |items: &'_ [Value], kind: &str| -> Option<Value> {
                        items
                            .iter()
                            .find(|i| i.get("kind").and_then(Value::as_str) == Some(kind))
                            .cloned()
                    };
                    for kind in all {
                        let (ib, ia) = (find(b, kind), find(a, kind));
                        walk(
                            &format!("{path}[kind={kind}]"),
                            ib.as_ref(),
                            ia.as_ref(),
                            out,
                        );
                    }
                }
                // A list of plain values (integrations, subnets) reads best whole.
                _ => out.push(Change {
                    path: path.to_owned(),
                    before: Some(Value::Array(b.clone())),
                    after: Some(Value::Array(a.clone())),
                }),
            }
        }
        (b, a) => {
            let (before, after) = (
                b.filter(|v| !v.is_null()).cloned(),
                a.filter(|v| !v.is_null()).cloned(),
            );
            if before != after {
                out.push(Change {
                    path: path.to_owned(),
                    before,
                    after,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(before: Value, after: Value) -> Vec<String> {
        fields("spec", &before, &after)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn equal_documents_have_no_changes() {
        let d = json!({"tier": "premium", "agents": [{"kind": "butler", "desiredCount": 1}]});
        assert!(fields("spec", &d, &d).is_empty());
    }

    #[test]
    fn scalars_change_added_and_removed_by_path() {
        assert_eq!(
            lines(
                json!({"tier": "standard", "displayName": "Acme", "paused": true}),
                json!({"tier": "premium", "displayName": "Acme", "region": "eu-west-1"}),
            ),
            [
                "- spec.paused: true",
                "+ spec.region: \"eu-west-1\"",
                "~ spec.tier: \"standard\" → \"premium\"",
            ]
        );
    }

    #[test]
    fn agents_match_by_kind_not_position() {
        let before = json!({"agents": [
            {"kind": "butler", "desiredCount": 1},
            {"kind": "scout", "desiredCount": 1},
        ]});
        let after = json!({"agents": [
            {"kind": "strategist", "desiredCount": 1},
            {"kind": "butler", "desiredCount": 3},
        ]});
        assert_eq!(
            lines(before, after),
            [
                "~ spec.agents[kind=butler].desiredCount: 1 → 3",
                "- spec.agents[kind=scout]: {\"desiredCount\":1,\"kind\":\"scout\"}",
                "+ spec.agents[kind=strategist]: {\"desiredCount\":1,\"kind\":\"strategist\"}",
            ]
        );
    }

    #[test]
    fn plain_lists_show_whole_and_reorders_of_kinds_are_no_change() {
        assert_eq!(
            lines(
                json!({"integrations": ["gmail"]}),
                json!({"integrations": ["gmail", "hubspot"]})
            ),
            ["~ spec.integrations: [\"gmail\"] → [\"gmail\",\"hubspot\"]"]
        );
        let a = json!({"agents": [{"kind": "butler"}, {"kind": "scout"}]});
        let b = json!({"agents": [{"kind": "scout"}, {"kind": "butler"}]});
        assert!(fields("spec", &a, &b).is_empty());
    }

    #[test]
    fn a_null_reads_as_absent() {
        assert!(fields("spec", &json!({"image": null}), &json!({})).is_empty());
        assert_eq!(
            lines(json!({"image": null}), json!({"image": "x@sha256:1"})),
            ["+ spec.image: \"x@sha256:1\""]
        );
    }
}
