//! The cell's database as AWS describes it: discovery through the RDS API and the compliance
//! checks that gate onboarding.
//!
//! Owns: DescribeDBInstances / DescribeDBClusters and the compliance rules. Must never: change
//! the database (Terraform owns it).

use serde::Serialize;

use crate::aws::{AwsError, Clients};
use crate::config::{CellConfig, CellDatabase, DbAuth};
use crate::error::{ReconcileError, Result};

/// What discovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DbInfo {
    pub identifier: String,
    pub kind: &'static str,
    pub endpoint: Option<String>,
    pub port: Option<i32>,
    pub resource_id: Option<String>,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub storage_encrypted: bool,
    pub kms_key_id: Option<String>,
    pub publicly_accessible: bool,
    pub iam_auth_enabled: bool,
}

pub async fn discover(clients: &Clients, db: &CellDatabase) -> Result<DbInfo> {
    if let Some(id) = &db.rds_instance {
        let r = clients
            .rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RDS", "DescribeDBInstances", &e))?;
        let i = r
            .db_instances()
            .first()
            .ok_or_else(|| ReconcileError::Invalid(format!("RDS instance {id} not found")))?;
        return Ok(DbInfo {
            identifier: id.clone(),
            kind: "instance",
            endpoint: i.endpoint().and_then(|e| e.address()).map(str::to_owned),
            port: i.endpoint().and_then(|e| e.port()),
            resource_id: i.dbi_resource_id().map(str::to_owned),
            engine: i.engine().map(str::to_owned),
            engine_version: i.engine_version().map(str::to_owned),
            storage_encrypted: i.storage_encrypted().unwrap_or(false),
            kms_key_id: i.kms_key_id().map(str::to_owned),
            publicly_accessible: i.publicly_accessible().unwrap_or(false),
            iam_auth_enabled: i.iam_database_authentication_enabled().unwrap_or(false),
        });
    }
    let id = db
        .aurora_cluster
        .clone()
        .ok_or_else(|| ReconcileError::Invalid("cell.database names no database".into()))?;
    let r = clients
        .rds
        .describe_db_clusters()
        .db_cluster_identifier(&id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("RDS", "DescribeDBClusters", &e))?;
    let c = r
        .db_clusters()
        .first()
        .ok_or_else(|| ReconcileError::Invalid(format!("Aurora cluster {id} not found")))?;
    Ok(DbInfo {
        identifier: id.clone(),
        kind: "cluster",
        endpoint: c.endpoint().map(str::to_owned),
        port: c.port(),
        resource_id: c.db_cluster_resource_id().map(str::to_owned),
        engine: c.engine().map(str::to_owned),
        engine_version: c.engine_version().map(str::to_owned),
        storage_encrypted: c.storage_encrypted().unwrap_or(false),
        kms_key_id: c.kms_key_id().map(str::to_owned),
        publicly_accessible: c.publicly_accessible().unwrap_or(false),
        iam_auth_enabled: c.iam_database_authentication_enabled().unwrap_or(false),
    })
}

/// Why the database is not compliant (pure); empty when it is.
pub fn noncompliance(info: &DbInfo, cell: &CellConfig) -> Vec<&'static str> {
    let mut reasons = Vec::new();
    if !info.storage_encrypted {
        reasons.push("storage_unencrypted");
    }
    if info.publicly_accessible {
        reasons.push("publicly_accessible");
    }
    let iam_required =
        cell.db_auth == DbAuth::Iam || cell.database.as_ref().is_some_and(|d| d.require_iam_auth);
    if iam_required && !info.iam_auth_enabled {
        reasons.push("iam_auth_disabled");
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::cell;

    #[test]
    fn compliance_rules() {
        let good = DbInfo {
            storage_encrypted: true,
            iam_auth_enabled: true,
            ..Default::default()
        };
        let mut c = cell();
        assert!(noncompliance(&good, &c).is_empty());
        let bad = DbInfo {
            storage_encrypted: false,
            publicly_accessible: true,
            iam_auth_enabled: false,
            ..Default::default()
        };
        assert_eq!(
            noncompliance(&bad, &c),
            ["storage_unencrypted", "publicly_accessible"]
        );
        c.db_auth = DbAuth::Iam;
        assert_eq!(
            noncompliance(&bad, &c),
            [
                "storage_unencrypted",
                "publicly_accessible",
                "iam_auth_disabled"
            ]
        );
    }
}
