//! `get`, `describe`: how the store's objects are shown to people and to scripts.
//!
//! Owns: the table, YAML and JSON renderings. The YAML and JSON forms are valid input for `apply`
//! (status is ignored there), so `get -o yaml | apply -f -` round-trips.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use operator::store::{self, AgentRow, StoreError, TenantRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Yaml,
    Json,
    /// `kind/name` per line, as `kubectl get -o name` prints (for scripts and `xargs`).
    Name,
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
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            vec![
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
            ]
        })
        .collect();
    table(
        &[
            "TENANT", "KIND", "PHASE", "RUNNING", "CPU", "MEMORY", "MODEL",
        ],
        &rows,
    )
}

/// Renders manifests: YAML as a multi-document stream, JSON as a `List`.
pub fn manifests<T: serde::Serialize>(items: &[T], format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Yaml => {
            let mut out = String::new();
            for item in items {
                out.push_str("---\n");
                out.push_str(&serde_yaml::to_string(item)?);
            }
            out
        }
        Format::Json => {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
            serde_json::to_string_pretty(&list)? + "\n"
        }
        Format::Table | Format::Name => anyhow::bail!("{format:?} output has no manifest form"),
    })
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
    fn ages_read_like_kubectl() {
        let now = Utc::now();
        assert_eq!(age(now - chrono::Duration::seconds(5), now), "5s");
        assert_eq!(age(now - chrono::Duration::minutes(5), now), "5m");
        assert_eq!(age(now - chrono::Duration::hours(5), now), "5h");
        assert_eq!(age(now - chrono::Duration::days(5), now), "5d");
    }
}
