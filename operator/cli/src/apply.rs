//! `openclaw apply -f FILE|-`: validate every document, then write them all in one transaction,
//! reporting created / configured / unchanged per object, as kubectl does.
//!
//! Must never: write anything when one document is invalid, or leave a half-applied file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crds::api::{AgentKind, AgentSpec};
use crds::manifest::{self, Object};
use sqlx::PgPool;

use operator::store::{self, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    Deleted,
    /// The operator tears its resources down, then the row goes.
    MarkedForDeletion,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
            Outcome::Deleted => "deleted",
            Outcome::MarkedForDeletion => "marked for deletion",
        })
    }
}

/// One line of `apply`'s report: `tenant/acme created`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub object: String,
    pub outcome: Outcome,
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.object, self.outcome)
    }
}

/// Each message is whole: it carries no `source`, so an error chain never prints it twice.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("nothing was applied; the manifest has errors:\n{0}")]
    Invalid(manifest::ManifestErrors),
    #[error("nothing was applied: {object}: {message}")]
    Conflict { object: String, message: String },
    #[error("nothing was applied: {object}: {error}")]
    Store { object: String, error: StoreError },
}

impl From<manifest::ManifestErrors> for ApplyError {
    fn from(e: manifest::ManifestErrors) -> Self {
        ApplyError::Invalid(e)
    }
}

impl ApplyError {
    /// The object is marked for deletion: neither `apply` nor `diff` acts on it until it is gone.
    fn being_deleted(object: String) -> Self {
        ApplyError::Conflict {
            object,
            message: "is being deleted; apply again once it is gone".into(),
        }
    }

    /// Bad input (the manifest, or what it asks of the store) rather than a failure to act.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ApplyError::Invalid(_) | ApplyError::Conflict { .. })
    }
}

/// Checks that go across documents: duplicates, and an Agent document aimed at a tenant whose
/// own document already lists its agents.
fn cross_check(objects: &[Object]) -> Result<(), ApplyError> {
    let mut seen = BTreeSet::new();
    let mut listed = BTreeSet::new();
    for obj in objects {
        if !seen.insert(obj.display_id()) {
            return Err(ApplyError::Conflict {
                object: obj.display_id(),
                message: "appears more than once in the manifest".into(),
            });
        }
        if let Object::Tenant(t) = obj {
            if let Some(agents) = &t.spec.agents {
                for a in agents {
                    listed.insert(format!("agent/{}/{}", t.metadata.name, a.kind));
                }
                listed.insert(format!("tenant-list/{}", t.metadata.name));
            }
        }
    }
    for obj in objects {
        if let Object::Agent(a) = obj {
            if listed.contains(&format!("tenant-list/{}", a.metadata.tenant)) {
                return Err(ApplyError::Conflict {
                    object: obj.display_id(),
                    message: format!(
                        "tenant/{} in the same manifest lists its agents; declare this agent \
                         there, or drop the tenant's `agents` list",
                        a.metadata.tenant
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Parses, validates and applies `text`. All or nothing.
pub async fn apply(pool: &PgPool, text: &str) -> Result<Vec<Applied>, ApplyError> {
    apply_opts(pool, text, false).await
}

/// As [`apply`]; with `dry_run`, everything runs inside the transaction (the store's rules and
/// triggers too) and the transaction is rolled back, so the report is what `apply` would do.
pub async fn apply_opts(
    pool: &PgPool,
    text: &str,
    dry_run: bool,
) -> Result<Vec<Applied>, ApplyError> {
    let objects = manifest::parse_and_validate(text)?;
    cross_check(&objects)?;
    let store_err = |object: &str| {
        let object = object.to_owned();
        move |error: StoreError| ApplyError::Store {
            object: object.clone(),
            error,
        }
    };
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| store_err("transaction")(e.into()))?;
    let mut report = Vec::new();
    // Tenants first, so that Agent documents may refer to tenants created by the same file.
    for obj in objects.iter().filter(|o| matches!(o, Object::Tenant(_))) {
        let Object::Tenant(t) = obj else { continue };
        let id = obj.display_id();
        let name = &t.metadata.name;
        let existing = store::lock_tenant(&mut tx, name)
            .await
            .map_err(store_err(&id))?;
        let outcome = match existing {
            None => {
                store::insert_tenant(&mut tx, name, &t.spec)
                    .await
                    .map_err(store_err(&id))?;
                Outcome::Created
            }
            Some(row) => {
                if row.deletion_requested_at.is_some() {
                    return Err(ApplyError::being_deleted(id));
                }
                let current = row.spec(None).map_err(store_err(&id))?;
                let mut wanted = t.spec.clone();
                wanted.agents = None;
                if current == wanted {
                    Outcome::Unchanged
                } else {
                    store::update_tenant_spec(&mut tx, name, &t.spec)
                        .await
                        .map_err(store_err(&id))?;
                    Outcome::Configured
                }
            }
        };
        report.push(Applied {
            object: id,
            outcome,
        });
        if let Some(agents) = &t.spec.agents {
            let current = store::list_agents(&mut tx, Some(name))
                .await
                .map_err(store_err(name))?;
            let wanted: BTreeMap<AgentKind, &AgentSpec> =
                agents.iter().map(|a| (a.kind, a)).collect();
            for spec in wanted.values() {
                report.push(upsert_agent(&mut tx, name, spec).await?);
            }
            for row in current {
                let kind = row.agent_kind().map_err(store_err(name))?;
                if !wanted.contains_key(&kind) && row.deletion_requested_at.is_none() {
                    store::delete_agent(&mut tx, name, kind)
                        .await
                        .map_err(store_err(name))?;
                    report.push(Applied {
                        object: format!("agent/{name}/{kind}"),
                        outcome: Outcome::Deleted,
                    });
                }
            }
        }
    }
    for obj in &objects {
        let Object::Agent(a) = obj else { continue };
        let id = obj.display_id();
        let tenant = store::lock_tenant(&mut tx, &a.metadata.tenant)
            .await
            .map_err(store_err(&id))?;
        match tenant {
            None => {
                return Err(ApplyError::Conflict {
                    object: id,
                    message: format!("tenant {:?} does not exist", a.metadata.tenant),
                })
            }
            Some(t) if t.deletion_requested_at.is_some() => {
                return Err(ApplyError::Conflict {
                    object: id,
                    message: format!("tenant {:?} is being deleted", a.metadata.tenant),
                })
            }
            Some(_) => {}
        }
        report.push(upsert_agent(&mut tx, &a.metadata.tenant, &a.spec).await?);
    }
    if dry_run {
        tx.rollback()
            .await
            .map_err(|e| store_err("rollback")(e.into()))?;
    } else {
        tx.commit()
            .await
            .map_err(|e| store_err("commit")(e.into()))?;
    }
    Ok(report)
}

/// `delete -f`: asks for the deletion of every object `text` names, all or nothing. A tenant's
/// document deletes the tenant (its agents go with it); an agent's document deletes that agent.
/// An object that does not exist refuses the whole file.
pub async fn delete(pool: &PgPool, text: &str) -> Result<Vec<Applied>, ApplyError> {
    let objects = manifest::parse_and_validate(text)?;
    cross_check(&objects)?;
    let mut tx = pool.begin().await.map_err(|e| ApplyError::Store {
        object: "transaction".into(),
        error: e.into(),
    })?;
    let mut report = Vec::new();
    for obj in &objects {
        let id = obj.display_id();
        let map = |error| ApplyError::Store {
            object: id.clone(),
            error,
        };
        let deleted = match obj {
            Object::Tenant(t) => store::delete_tenant(&mut tx, &t.metadata.name)
                .await
                .map_err(map)?,
            Object::Agent(a) => store::delete_agent(&mut tx, &a.metadata.tenant, a.spec.kind)
                .await
                .map_err(map)?,
        };
        let outcome = match deleted {
            store::Deleted::NotFound => {
                return Err(ApplyError::Conflict {
                    object: id,
                    message: "not found; nothing was deleted".into(),
                })
            }
            store::Deleted::Removed => Outcome::Deleted,
            store::Deleted::Marked => Outcome::MarkedForDeletion,
        };
        report.push(Applied {
            object: id,
            outcome,
        });
    }
    tx.commit().await.map_err(|e| ApplyError::Store {
        object: "commit".into(),
        error: e.into(),
    })?;
    Ok(report)
}

async fn upsert_agent(
    conn: &mut sqlx::PgConnection,
    tenant: &str,
    spec: &AgentSpec,
) -> Result<Applied, ApplyError> {
    let id = format!("agent/{tenant}/{}", spec.kind);
    let map = |error| ApplyError::Store {
        object: id.clone(),
        error,
    };
    let current = store::list_agents(conn, Some(tenant))
        .await
        .map_err(map)?
        .into_iter()
        .find(|r| r.kind == spec.kind.as_str());
    let outcome = match current {
        None => {
            store::insert_agent(conn, tenant, spec).await.map_err(map)?;
            Outcome::Created
        }
        Some(row) if row.deletion_requested_at.is_some() => {
            return Err(ApplyError::being_deleted(id))
        }
        Some(row) => {
            if row.spec().map_err(map)? == *spec {
                Outcome::Unchanged
            } else {
                store::update_agent_spec(conn, tenant, spec)
                    .await
                    .map_err(map)?;
                Outcome::Configured
            }
        }
    };
    Ok(Applied {
        object: id,
        outcome,
    })
}

/// What `apply` would change for one object, field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDiff {
    pub object: String,
    pub outcome: Outcome,
    pub changes: Vec<crds::diff::Change>,
}

impl fmt::Display for ObjectDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.object, self.outcome)?;
        for c in &self.changes {
            writeln!(f, "  {c}")?;
        }
        Ok(())
    }
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// `diff -f`: what `apply` would change in the store, field by field, by the same rules (a
/// tenant document without `agents` leaves its agents alone). Reads only.
pub async fn diff(pool: &PgPool, text: &str) -> Result<Vec<ObjectDiff>, ApplyError> {
    let objects = manifest::parse_and_validate(text)?;
    cross_check(&objects)?;
    let mut conn = pool.acquire().await.map_err(|e| ApplyError::Store {
        object: "connection".into(),
        error: e.into(),
    })?;
    let mut out = Vec::new();
    for obj in &objects {
        let id = obj.display_id();
        let map = |error| ApplyError::Store {
            object: id.clone(),
            error,
        };
        let being_deleted = || ApplyError::being_deleted(id.clone());
        let (before, after) = match obj {
            Object::Tenant(t) => {
                let after = json(&t.spec);
                match store::get_tenant(&mut conn, &t.metadata.name)
                    .await
                    .map_err(map)?
                {
                    None => (None, after),
                    Some(row) if row.deletion_requested_at.is_some() => return Err(being_deleted()),
                    Some(row) => {
                        let agents = match &t.spec.agents {
                            None => None,
                            Some(listed) => {
                                let rows = store::list_agents(&mut conn, Some(&t.metadata.name))
                                    .await
                                    .map_err(map)?;
                                // As apply refuses it: a listed agent that is being deleted.
                                if let Some(r) = rows.iter().find(|r| {
                                    r.deletion_requested_at.is_some()
                                        && listed.iter().any(|a| a.kind.as_str() == r.kind)
                                }) {
                                    return Err(ApplyError::being_deleted(format!(
                                        "agent/{}/{}",
                                        t.metadata.name, r.kind
                                    )));
                                }
                                Some(
                                    rows.iter()
                                        .filter(|a| a.deletion_requested_at.is_none())
                                        .map(store::AgentRow::spec)
                                        .collect::<Result<Vec<_>, _>>()
                                        .map_err(map)?,
                                )
                            }
                        };
                        (Some(json(&row.spec(agents).map_err(map)?)), after)
                    }
                }
            }
            Object::Agent(a) => {
                let tenant = &a.metadata.tenant;
                match store::get_tenant(&mut conn, tenant).await.map_err(map)? {
                    None => {
                        return Err(ApplyError::Conflict {
                            object: id,
                            message: format!("tenant {tenant:?} does not exist"),
                        })
                    }
                    Some(t) if t.deletion_requested_at.is_some() => return Err(being_deleted()),
                    Some(_) => {}
                }
                let row = store::list_agents(&mut conn, Some(tenant))
                    .await
                    .map_err(map)?
                    .into_iter()
                    .find(|r| r.kind == a.spec.kind.as_str());
                match row {
                    Some(r) if r.deletion_requested_at.is_some() => return Err(being_deleted()),
                    Some(r) => (Some(json(&r.spec().map_err(map)?)), json(&a.spec)),
                    None => (None, json(&a.spec)),
                }
            }
        };
        let empty = serde_json::json!({});
        let changes = crds::diff::fields("spec", before.as_ref().unwrap_or(&empty), &after);
        let outcome = match (&before, changes.is_empty()) {
            (None, _) => Outcome::Created,
            (Some(_), true) => Outcome::Unchanged,
            (Some(_), false) => Outcome::Configured,
        };
        out.push(ObjectDiff {
            object: id,
            outcome,
            changes,
        });
    }
    Ok(out)
}
