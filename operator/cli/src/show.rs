//! `get`, `describe`: how the store's objects are shown to people and to scripts.
//!
//! Owns: the table, YAML and JSON renderings. The YAML and JSON forms are valid input for `apply`
//! (status is ignored there), so `get -o yaml | apply -f -` round-trips.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use operator::store::{self, AgentRow, StoreError, TenantRow};

/// `-o`: how `get` prints, in kubectl's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Table,
    /// The table with more columns.
    Wide,
    Yaml,
    Json,
    /// `kind/name` per line, as `kubectl get -o name` prints (for scripts and `xargs`).
    Name,
    /// A kubectl JSONPath template: `{.items[*].metadata.name}`.
    JsonPath(String),
}

/// Parses `-o`: `table`, `wide`, `yaml`, `json`, `name` or `jsonpath=TEMPLATE`.
pub fn parse_format(s: &str) -> Result<Format, String> {
    Ok(match s {
        "table" => Format::Table,
        "wide" => Format::Wide,
        "yaml" => Format::Yaml,
        "json" => Format::Json,
        "name" => Format::Name,
        _ => match s.strip_prefix("jsonpath=") {
            Some(t) => {
                jsonpath_template(t)?;
                Format::JsonPath(t.to_owned())
            }
            None => {
                return Err(format!(
                    "must be table, wide, yaml, json, name or jsonpath=TEMPLATE (got {s:?})"
                ))
            }
        },
    })
}

/// A piece of a JSONPath template: text printed as it is, or a path whose values are printed.
#[derive(Debug)]
enum Piece {
    Text(String),
    Path(serde_json_path::JsonPath),
}

/// Splits a kubectl template into text and `{…}` paths. A path may start with `.` (kubectl) or
/// `$` (RFC 9535); `{"\n"}` is a quoted literal.
fn jsonpath_template(t: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_owned()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("jsonpath: unclosed '{{' in {t:?}"))?;
        let expr = rest[open + 1..open + close].trim();
        if let Some(lit) = expr.strip_prefix('"').and_then(|e| e.strip_suffix('"')) {
            pieces.push(Piece::Text(lit.replace("\\n", "\n").replace("\\t", "\t")));
        } else {
            let full = match expr.strip_prefix('.') {
                Some(_) => format!("${expr}"),
                None => expr.to_owned(),
            };
            let path = serde_json_path::JsonPath::parse(&full)
                .map_err(|e| format!("jsonpath: {expr:?} is not a JSONPath: {e}"))?;
            pieces.push(Piece::Path(path));
        }
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

/// Evaluates a template against `doc`, as kubectl does: several values of one path are joined by
/// spaces, strings print bare and anything else as JSON.
pub fn jsonpath(template: &str, doc: &serde_json::Value) -> anyhow::Result<String> {
    let pieces = jsonpath_template(template).map_err(anyhow::Error::msg)?;
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Path(p) => {
                let values: Vec<String> = p
                    .query(doc)
                    .all()
                    .into_iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                out.push_str(&values.join(" "));
            }
        }
    }
    Ok(out)
}

/// Left-aligned columns separated by three spaces, as kubectl prints them.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}   ", w = widths[i]));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - since).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn phase_of(deleting: bool, phase: &str) -> String {
    if deleting && phase != "Deleting" {
        "Deleting".into()
    } else {
        phase.into()
    }
}

pub const TENANT_COLUMNS: [&str; 7] = [
    "NAME",
    "PHASE",
    "AGENTS",
    "REGION",
    "TIER",
    "OBSERVED/GEN",
    "AGE",
];

pub fn tenants_table(tenants: &[TenantRow], agents: &[AgentRow], now: DateTime<Utc>) -> String {
    table(&TENANT_COLUMNS, &tenant_rows(tenants, agents, now))
}

/// `get tenants -o wide`: the table, then whether it is paused, its database name (the map to
/// its opaque role and schema) and its status message.
pub fn tenants_wide(tenants: &[TenantRow], agents: &[AgentRow], now: DateTime<Utc>) -> String {
    let mut headers = TENANT_COLUMNS.to_vec();
    headers.extend(["PAUSED", "DB NAME", "MESSAGE"]);
    let rows: Vec<Vec<String>> = tenant_rows(tenants, agents, now)
        .into_iter()
        .zip(tenants)
        .map(|(mut row, t)| {
            row.push(t.paused.to_string());
            row.push(t.db_name.clone());
            row.push(t.status_message.clone().unwrap_or_default());
            row
        })
        .collect();
    table(&headers, &rows)
}

/// One row per tenant, in [`TENANT_COLUMNS`] order (AGE last).
pub fn tenant_rows(
    tenants: &[TenantRow],
    agents: &[AgentRow],
    now: DateTime<Utc>,
) -> Vec<Vec<String>> {
    tenants
        .iter()
        .map(|t| {
            let n = agents.iter().filter(|a| a.tenant == t.name).count();
            let ready = agents
                .iter()
                .filter(|a| a.tenant == t.name && a.phase == "Ready")
                .count();
            vec![
                t.name.clone(),
                phase_of(t.deletion_requested_at.is_some(), &t.phase),
                format!("{ready}/{n}"),
                t.region.clone(),
                t.tier.clone(),
                format!("{}/{}", t.observed_generation, t.generation),
                age(t.created_at, now),
            ]
        })
        .collect()
}

pub fn agents_table(agents: &[AgentRow]) -> String {
    agents_columns(agents, false)
}

/// `get agents -o wide`: the table, then the image, integrations and status message.
pub fn agents_wide(agents: &[AgentRow]) -> String {
    agents_columns(agents, true)
}

fn agents_columns(agents: &[AgentRow], wide: bool) -> String {
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            let mut row = vec![
                a.tenant.clone(),
                a.kind.clone(),
                phase_of(a.deletion_requested_at.is_some(), &a.phase),
                format!(
                    "{}/{}",
                    a.running_count
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into()),
                    a.desired_count
                ),
                a.cpu.to_string(),
                a.memory.to_string(),
                a.model.clone(),
            ];
            if wide {
                row.push(a.image.clone().unwrap_or_else(|| "(cell default)".into()));
                row.push(a.integrations.join(","));
                row.push(a.status_message.clone().unwrap_or_default());
            }
            row
        })
        .collect();
    let mut headers = vec![
        "TENANT", "KIND", "PHASE", "RUNNING", "CPU", "MEMORY", "MODEL",
    ];
    if wide {
        headers.extend(["IMAGE", "INTEGRATIONS", "MESSAGE"]);
    }
    table(&headers, &rows)
}

/// Renders manifests: YAML as a multi-document stream, JSON as a `List`. A JSONPath template
/// reads the `List`, or the object itself when one was asked for by name (as kubectl does).
pub fn manifests<T: serde::Serialize>(
    items: &[T],
    format: Format,
    by_name: bool,
) -> anyhow::Result<String> {
    Ok(match format {
        Format::Yaml => {
            let mut out = String::new();
            for item in items {
                out.push_str("---\n");
                out.push_str(&serde_yaml::to_string(item)?);
            }
            out
        }
        Format::Json => serde_json::to_string_pretty(&list_of(items)?)? + "\n",
        Format::JsonPath(t) => match items {
            [one] if by_name => jsonpath(&t, &serde_json::to_value(one)?)?,
            _ => jsonpath(&t, &list_of(items)?)?,
        },
        Format::Table | Format::Wide | Format::Name => {
            anyhow::bail!("{format:?} output has no manifest form")
        }
    })
}

/// The `List` that `-o json` prints and `-o jsonpath` reads, as `kubectl get` does.
fn list_of<T: serde::Serialize>(items: &[T]) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}))
}

pub async fn describe_tenant(
    conn: &mut PgConnection,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let Some(t) = store::get_tenant(conn, name).await? else {
        return Ok(None);
    };
    let agents = store::list_agents(conn, Some(name)).await?;
    let resources = store::managed_resources(conn, name).await?;
    let audit = store::audit_rows(conn, Some(name), Some(10)).await?;
    let mut s = String::new();
    s.push_str(&format!("Name:          {}\n", t.name));
    s.push_str(&format!("Display name:  {}\n", t.display_name));
    s.push_str(&format!("Region:        {}\n", t.region));
    s.push_str(&format!("Tier:          {}\n", t.tier));
    // Its role and schema in the tenant database: the name there is opaque, so this is the map.
    s.push_str(&format!("Database name: {}\n", t.db_name));
    s.push_str(&format!(
        "Phase:         {}\n",
        phase_of(t.deletion_requested_at.is_some(), &t.phase)
    ));
    if let Some(m) = &t.status_message {
        s.push_str(&format!("Message:       {m}\n"));
    }
    s.push_str(&format!(
        "Generation:    {} (observed {})\n",
        t.generation, t.observed_generation
    ));
    s.push_str(&format!(
        "Created:       {} ({} ago)\n",
        t.created_at.to_rfc3339(),
        age(t.created_at, now)
    ));
    if let Some(d) = t.deletion_requested_at {
        s.push_str(&format!("Deletion requested: {}\n", d.to_rfc3339()));
    }
    if !t.finalizers.is_empty() {
        s.push_str(&format!("Finalizers:    {}\n", t.finalizers.join(", ")));
    }
    s.push_str("Conditions:\n");
    let conditions = t.status().conditions;
    if conditions.is_empty() {
        s.push_str("  <none>\n");
    } else {
        let rows: Vec<Vec<String>> = conditions
            .iter()
            .map(|c| {
                vec![
                    c.type_.clone(),
                    c.status.clone(),
                    c.reason.clone(),
                    c.message.clone(),
                ]
            })
            .collect();
        for line in table(&["TYPE", "STATUS", "REASON", "MESSAGE"], &rows).lines() {
            s.push_str(&format!("  {line}\n"));
        }
    }
    s.push_str("Agents:\n");
    if agents.is_empty() {
        s.push_str("  <none>\n");
    } else {
        for line in agents_table(&agents).lines() {
            s.push_str(&format!("  {line}\n"));
        }
    }
    s.push_str("Resources:\n");
    if resources.is_empty() {
        s.push_str("  <none>\n");
    } else {
        let rows: Vec<Vec<String>> = resources
            .iter()
            .map(|r| {
                vec![
                    r.kind.clone(),
                    r.name.clone(),
                    r.drift_repairs.to_string(),
                    r.last_error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        for line in table(&["KIND", "NAME", "REPAIRS", "LAST ERROR"], &rows).lines() {
            s.push_str(&format!("  {line}\n"));
        }
    }
    s.push_str("Recent audit entries:\n");
    if audit.is_empty() {
        s.push_str("  <none>\n");
    } else {
        let rows: Vec<Vec<String>> = audit
            .iter()
            .map(|a| {
                let at = DateTime::<Utc>::from_timestamp_micros(a.at_micros)
                    .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                    .unwrap_or_default();
                vec![
                    a.seq.to_string(),
                    at,
                    a.actor.clone(),
                    a.action.clone(),
                    format!(
                        "{} {}",
                        a.resource_kind.clone().unwrap_or_default(),
                        a.resource_name.clone().unwrap_or_default()
                    ),
                ]
            })
            .collect();
        for line in table(&["SEQ", "AT", "ACTOR", "ACTION", "RESOURCE"], &rows).lines() {
            s.push_str(&format!("  {line}\n"));
        }
    }
    Ok(Some(s))
}

/// The `openclaw cost` table.
/// One line of a resync's figures (`Report::summary`), and who ran it when the leader did.
pub fn resync_summary(v: &serde_json::Value, leader: Option<&str>) -> String {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let by = leader
        .map(|l| format!("; run by the leader {l}, which repairs the drifted tenants"))
        .unwrap_or_default();
    format!(
        "tenants {}; drifted {} (security {}); orphans {} (removed {}); inventory {}; \
         AWS calls {} ({} writes) in {:.2}s{by}\n",
        n("tenants"),
        n("drifted"),
        n("security"),
        n("orphans"),
        n("orphans_removed"),
        n("inventory"),
        n("aws_calls"),
        n("aws_writes"),
        v["seconds"].as_f64().unwrap_or(0.0),
    )
}

pub fn cost_table(rows: &[operator::cost::TenantCost]) -> String {
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|c| {
            let input: i64 = c.tokens.iter().map(|t| t.1).sum();
            let output: i64 = c.tokens.iter().map(|t| t.2).sum();
            vec![
                c.tenant.clone(),
                input.to_string(),
                output.to_string(),
                format!("{:.4}", c.bedrock_usd),
                format!("{:.1}", c.vcpu_seconds),
                format!("{:.1}", c.gb_seconds),
                format!("{:.4}", c.fargate_usd),
                format!("{:.4}", c.bedrock_usd + c.fargate_usd),
            ]
        })
        .collect();
    table(
        &[
            "TENANT",
            "INPUT_TOKENS",
            "OUTPUT_TOKENS",
            "BEDROCK_USD",
            "VCPU_SECONDS",
            "GB_SECONDS",
            "FARGATE_USD",
            "TOTAL_USD",
        ],
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let out = table(
            &["NAME", "PHASE"],
            &[
                vec!["acme".into(), "Ready".into()],
                vec!["globex-corp".into(), "Pending".into()],
            ],
        );
        assert_eq!(
            out,
            "NAME          PHASE\nacme          Ready\nglobex-corp   Pending\n"
        );
    }

    #[test]
    fn jsonpath_templates_read_like_kubectl() {
        let doc = serde_json::json!({"items": [
            {"metadata": {"name": "acme"}, "spec": {"agents": [{"kind": "butler"}], "n": 3}},
            {"metadata": {"name": "globex"}, "spec": {"agents": [], "n": 1}},
        ]});
        let t = |s: &str| jsonpath(s, &doc).expect("template");
        assert_eq!(t("{.items[*].metadata.name}"), "acme globex");
        assert_eq!(t("{$.items[0].spec.n}"), "3");
        assert_eq!(
            t("name={.items[1].metadata.name}{\"\\n\"}"),
            "name=globex\n"
        );
        assert_eq!(t("{.items[0].spec.agents}"), r#"[{"kind":"butler"}]"#);
        assert_eq!(t("{.items[*].missing}"), "");
        assert!(jsonpath("{.items[", &doc).is_err());
        assert!(jsonpath("{.items", &doc)
            .expect_err("unclosed")
            .to_string()
            .contains("unclosed"));
    }

    #[test]
    fn output_formats_parse_by_name() {
        assert_eq!(parse_format("wide"), Ok(Format::Wide));
        assert_eq!(parse_format("name"), Ok(Format::Name));
        assert_eq!(
            parse_format("jsonpath={.items}"),
            Ok(Format::JsonPath("{.items}".into()))
        );
        assert!(parse_format("jsonpath={.items[").is_err());
        assert!(parse_format("xml")
            .expect_err("xml")
            .contains("jsonpath=TEMPLATE"));
    }

    #[test]
    fn ages_read_like_kubectl() {
        let now = Utc::now();
        assert_eq!(age(now - chrono::Duration::seconds(5), now), "5s");
        assert_eq!(age(now - chrono::Duration::minutes(5), now), "5m");
        assert_eq!(age(now - chrono::Duration::hours(5), now), "5h");
        assert_eq!(age(now - chrono::Duration::days(5), now), "5d");
    }
}
