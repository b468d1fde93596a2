//! The database secret: the tenant role's login credential. The operator generates a password,
//! sets it on the tenant's PostgreSQL role as a SCRAM verifier, and stores it in `/openclaw/T/db`
//! with where to connect. With IAM database authentication there is no password, and the secret
//! goes once IAM logins work.
//!
//! Owns: the password's life (create, rotate on a recreated role, restore, tag, delete), and the
//! login probe: a login with the stored password, the only way to see a password set outside the
//! operator, answered by setting the stored one again. Must never: put the password into a
//! statement (only its verifier), a log, an error or the audit log, or log in anywhere but the
//! operator's own tenant database.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use crds::naming::TenantRef;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::aws::{AwsError, Clients};
use crate::config::DbEndpoint;
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::render::{DesiredSecret, DesiredTenant, SecretPurpose};
use crate::resources::secrets_manager::{self, ObservedSecret};
use crate::resources::sql::quote_ident;
use crate::resources::{tags, Change, Ctx, Operation, Ownership, Verb};
use crate::throttle::Bucket;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Generate a password, set it on the role, create the secret holding it.
    Create,
    /// Generate a password, set it on the role, put it in the existing secret.
    Rotate,
    Restore,
    Tag,
    Delete,
    /// Set the password the secret holds on the role again (its verifier), writing no secret: a
    /// tenant that keeps changing its password costs no secret version and no secret write.
    SetStoredPassword,
}

impl Operation for Op {
    fn resource(&self, tenant: &TenantRef) -> (Kind, String) {
        match self {
            Op::SetStoredPassword => (Kind::PgRole, tenant.db.role().to_owned()),
            _ => (Kind::Secret, tenant.db_secret_name()),
        }
    }

    fn verb(&self) -> Verb {
        match self {
            Op::SetStoredPassword => Verb::Update,
            Op::Create => Verb::Create,
            Op::Rotate => Verb::Rotate,
            Op::Restore => Verb::Restore,
            Op::Tag => Verb::Tag,
            Op::Delete => Verb::Delete,
        }
    }

    fn rank(&self) -> u8 {
        1
    }
}

/// What logging in as the tenant's role with the password in its secret showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Login {
    /// Not tried, or no clear answer (no secret, the role's connection limit reached, the role
    /// unable to log in at all: the other diffs judge those).
    #[default]
    Unknown,
    Accepted,
    /// The server refused the stored password: the role's password was set by someone else.
    Rejected,
    /// The role's connection limit is taken, so no login could be tried: a tenant holding every
    /// slot must not hide a password of its own that way.
    Crowded,
    /// The secret names another database user than the tenant's own (its agents would log in
    /// as that one, and work in its schema).
    WrongUser,
}

/// What the tenant wants of its database login.
#[derive(Debug, Clone, Copy)]
pub enum Desired<'a> {
    /// A password kept in `secret`; `role_recreated` when this pass creates the role afresh;
    /// `login` what a login with the stored password showed.
    Password {
        secret: &'a DesiredSecret,
        role_recreated: bool,
        login: Login,
    },
    /// IAM authentication: the password goes, but only once the role can log in with IAM.
    Iam { login_ready: bool },
    /// The tenant is deleted.
    Gone,
}

/// Plans the database secret (pure).
pub fn diff(
    own: &Ownership<'_>,
    name: &str,
    desired: &Desired<'_>,
    observed: Option<&ObservedSecret>,
) -> Result<Vec<Change<Op>>> {
    let mut out = Vec::new();
    match (desired, observed) {
        (Desired::Password { .. }, None) => {
            out.push(Change::new(Op::Create, "database secret missing", false))
        }
        (
            Desired::Password {
                secret,
                role_recreated,
                login,
            },
            Some(o),
        ) => {
            own.require_owned(Kind::Secret, name, &o.tags)?;
            if o.scheduled_for_deletion {
                out.push(Change::new(
                    Op::Restore,
                    "secret scheduled for deletion",
                    false,
                ));
            }
            out.extend(tags::change(Op::Tag, &o.tags, &secret.tags));
            if *role_recreated {
                out.push(Change::new(
                    Op::Rotate,
                    "tenant role recreated; its password is rotated",
                    false,
                ));
            } else if !o.scheduled_for_deletion {
                match login {
                    // Any role may ALTER ROLE CURRENT_USER PASSWORD: a login the operator does
                    // not know.
                    Login::Rejected => out.push(Change::new(
                        Op::SetStoredPassword,
                        "the role's password is not the one in its secret (set outside the \
                         operator); the stored one is set again",
                        true,
                    )),
                    Login::Crowded => out.push(Change::new(
                        Op::SetStoredPassword,
                        "no login possible (the role's connection limit is taken); the stored \
                         password is set again",
                        false,
                    )),
                    Login::WrongUser => out.push(Change::new(
                        Op::Rotate,
                        "the secret names another database user than the tenant's own; a new \
                         password is set and stored with the tenant's own user",
                        true,
                    )),
                    Login::Unknown | Login::Accepted => {}
                }
            }
        }
        (Desired::Iam { login_ready: false }, _) | (_, None) => {}
        (Desired::Iam { login_ready: true }, Some(o)) => {
            if own.owned(Kind::Secret, name, &o.tags) {
                // The tenant's roles log in with IAM now: the password must not outlive its use.
                out.push(Change::new(
                    Op::Delete,
                    "IAM database authentication replaces the password",
                    false,
                ));
            }
        }
        (Desired::Gone, Some(o)) => {
            if own.owned(Kind::Secret, name, &o.tags) {
                out.push(Change::new(Op::Delete, "tenant deleted", false));
            }
        }
    }
    Ok(out)
}

pub async fn apply(
    ctx: &Ctx<'_>,
    tenant: &TenantRef,
    desired: Option<&DesiredTenant>,
    observed: Option<&ObservedSecret>,
    op: &Op,
) -> Result<Option<String>> {
    let name = tenant.db_secret_name();
    let secret = || {
        desired
            .and_then(|d| {
                d.secrets
                    .iter()
                    .find(|s| s.purpose == SecretPurpose::Database)
            })
            .ok_or_else(|| ReconcileError::Internal("no rendered database secret".into()))
    };
    match op {
        Op::Create => set_password(ctx, tenant, secret()?, true).await,
        Op::Rotate => set_password(ctx, tenant, secret()?, false).await,
        Op::Restore => secrets_manager::restore(ctx.clients, &name).await,
        Op::Tag => {
            secrets_manager::tag(ctx.clients, &name, &secret()?.tags).await?;
            Ok(observed.map(|s| s.arn.clone()))
        }
        Op::Delete => secrets_manager::delete(ctx.clients, &name)
            .await
            .map(|()| None),
        Op::SetStoredPassword => {
            let password = stored_password(ctx.clients, tenant)
                .await?
                .ok_or_else(|| ReconcileError::Internal(format!("{name} holds no password")))?;
            set_role_password(ctx.tenant_db, tenant, &password).await?;
            Ok(None)
        }
    }
}

/// Generates a password, sets it on the role (as a SCRAM verifier), then stores it. Role first, so
/// a secret never holds a password the role does not have yet. If the store fails after the role
/// changed, a first create is retried whole (the secret is still missing); after a failed rotation
/// the secret's password is refused at the next login probe, which plans a rotation again.
async fn set_password(
    ctx: &Ctx<'_>,
    tenant: &TenantRef,
    d: &DesiredSecret,
    create: bool,
) -> Result<Option<String>> {
    let c = ctx.clients;
    let password = generate_password();
    set_role_password(ctx.tenant_db, tenant, &password).await?;
    let value = secret_value(ctx.db, tenant, &password);
    c.throttle.acquire(Bucket::SecretsWrite).await;
    if create {
        match c
            .secrets
            .create_secret()
            .name(&d.name)
            .description(&d.description)
            .secret_string(&value)
            .set_tags(Some(tags::to_secrets_manager(&d.tags)))
            .send()
            .await
        {
            Ok(r) => return Ok(r.arn().map(str::to_owned)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                secrets_manager::verify_ours(c, &d.name).await?;
            }
            Err(e) => return Err(AwsError::from_sdk("SecretsManager", "CreateSecret", &e).into()),
        }
    }
    let r = c
        .secrets
        .put_secret_value()
        .secret_id(&d.name)
        .secret_string(&value)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("SecretsManager", "PutSecretValue", &e))?;
    Ok(r.arn().map(str::to_owned))
}

/// Logs in to the tenant database as the tenant's role with the password its secret holds. Nobody
/// but a superuser may read a role's verifier, so this is how a password set outside the operator
/// shows. The password goes from the secret into the login and nowhere else: no error, log or
/// result carries it.
pub async fn probe_login(clients: &Clients, tenant_db: &PgPool, tenant: &TenantRef) -> Login {
    match stored_login(clients, tenant).await {
        Ok(Some(login)) => try_login(tenant_db, tenant, &login).await,
        _ => Login::Unknown,
    }
}

/// The user and password in a database secret's value.
struct StoredLogin {
    username: Option<String>,
    password: String,
}

/// The login in the tenant's database secret, if it holds one.
async fn stored_login(clients: &Clients, tenant: &TenantRef) -> Result<Option<StoredLogin>> {
    clients.throttle.acquire(Bucket::SecretsRead).await;
    let got = clients
        .secrets
        .get_secret_value()
        .secret_id(tenant.db_secret_name())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("SecretsManager", "GetSecretValue", &e))?;
    Ok(login_of(got.secret_string()))
}

/// The password in the tenant's database secret, if it holds one.
async fn stored_password(clients: &Clients, tenant: &TenantRef) -> Result<Option<String>> {
    Ok(stored_login(clients, tenant).await?.map(|l| l.password))
}

fn login_of(value: Option<&str>) -> Option<StoredLogin> {
    let v = serde_json::from_str::<serde_json::Value>(value?).ok()?;
    Some(StoredLogin {
        username: v
            .get("username")
            .and_then(|u| u.as_str())
            .map(str::to_owned),
        password: v.get("password")?.as_str()?.to_owned(),
    })
}

/// A secret naming another user is judged without a login: the login would be that user's.
async fn try_login(tenant_db: &PgPool, tenant: &TenantRef, login: &StoredLogin) -> Login {
    match &login.username {
        Some(u) if u != tenant.db.role() => Login::WrongUser,
        _ => login_with(tenant_db, tenant, &login.password).await,
    }
}

/// Secrets Manager's batch read takes at most this many secret ids.
const BATCH: usize = 20;
/// Logins tried at once by a batched probe (each tenant's own connection slot, one each).
const PROBES_AT_ONCE: usize = 4;

/// [`probe_login`] for many tenants, reading their secrets 20 to a call (BatchGetSecretValue), as
/// the resync's batched inventory does. Keyed by tenant name.
pub async fn probe_logins(
    clients: &Clients,
    tenant_db: &PgPool,
    tenants: &[TenantRef],
) -> BTreeMap<String, Login> {
    let mut out = BTreeMap::new();
    for chunk in tenants.chunks(BATCH) {
        clients.throttle.acquire(Bucket::SecretsRead).await;
        let names: Vec<String> = chunk.iter().map(|t| t.db_secret_name()).collect();
        let Ok(got) = clients
            .secrets
            .batch_get_secret_value()
            .set_secret_id_list(Some(names))
            .send()
            .await
        else {
            continue;
        };
        let found: Vec<(TenantRef, StoredLogin)> = chunk
            .iter()
            .filter_map(|t| {
                let value = got
                    .secret_values()
                    .iter()
                    .find(|v| v.name() == Some(t.db_secret_name().as_str()))
                    .and_then(|v| v.secret_string());
                login_of(value).map(|login| (t.clone(), login))
            })
            .collect();
        let logins = found.into_iter().map(|(t, stored)| {
            let pool = tenant_db.clone();
            async move {
                let login = try_login(&pool, &t, &stored).await;
                (t.as_str().to_owned(), login)
            }
        });
        // A few logins at once: each is a SCRAM exchange, mostly waiting on the server.
        let done: Vec<(String, Login)> = futures_util::stream::iter(logins)
            .buffer_unordered(PROBES_AT_ONCE)
            .collect()
            .await;
        out.extend(done);
    }
    out
}

async fn login_with(tenant_db: &PgPool, tenant: &TenantRef, password: &str) -> Login {
    let options = (*tenant_db.connect_options())
        .clone()
        .username(tenant.db.role())
        .password(password)
        .application_name("openclaw-login-probe");
    let attempt = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        <sqlx::PgConnection as sqlx::Connection>::connect_with(&options),
    )
    .await;
    match attempt {
        Ok(Ok(conn)) => {
            let _ = sqlx::Connection::close(conn).await;
            Login::Accepted
        }
        Ok(Err(sqlx::Error::Database(e))) => match e.code().as_deref() {
            Some("28P01") => Login::Rejected,
            Some("53300") => Login::Crowded,
            _ => Login::Unknown,
        },
        _ => Login::Unknown,
    }
}

/// The secret's value (pure): where to connect and the login, in the shape RDS's own database
/// secrets have, which the agent reads.
pub fn secret_value(db: &DbEndpoint, tenant: &TenantRef, password: &str) -> String {
    serde_json::json!({
        "engine": "postgres",
        "host": db.host,
        "port": db.port,
        "dbname": db.dbname,
        "username": tenant.db.role(),
        "password": password,
    })
    .to_string()
}

/// Sets the role's password from a SCRAM-SHA-256 verifier, so the password itself never
/// appears in a statement or a server log.
pub async fn set_role_password(pool: &PgPool, tenant: &TenantRef, password: &str) -> Result<()> {
    let role = quote_ident(tenant.db.role())?;
    let verifier = scram_verifier(password, &rand::rng().random::<[u8; 16]>(), 4096);
    sqlx::query(&format!("ALTER ROLE {role} PASSWORD '{verifier}'"))
        .execute(pool)
        .await?;
    Ok(())
}

/// `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802 / 7677), as PostgreSQL stores it.
pub fn scram_verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let hmac = |key: &[u8], msg: &[u8]| -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| {
            // HMAC accepts keys of any length; this cannot fail.
            unreachable!("hmac key")
        });
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    };
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key),
        B64.encode(server_key)
    )
}

/// A fresh random password: 32 characters from [A-Za-z0-9].
pub fn generate_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures::{desired, lines, no_records};
    use crate::resources::{Recorded, Tags};

    const NAME: &str = "/openclaw/acme/db";

    fn observed(scheduled: bool, tags: Tags) -> ObservedSecret {
        ObservedSecret {
            name: NAME.into(),
            arn: "arn:secret:db".into(),
            scheduled_for_deletion: scheduled,
            tags,
        }
    }

    #[test]
    fn diff_table() {
        let d = desired();
        let secret = &d.secrets[0];
        let ours = secret.tags.clone();
        let password = |role_recreated| Desired::Password {
            secret,
            role_recreated,
            login: Login::Accepted,
        };
        let cases: Vec<(&str, Desired<'_>, Option<ObservedSecret>, Vec<&str>)> = vec![
            (
                "missing",
                password(false),
                None,
                vec!["create secret /openclaw/acme/db"],
            ),
            (
                "converged",
                password(false),
                Some(observed(false, ours.clone())),
                vec![],
            ),
            (
                "scheduled for deletion",
                password(false),
                Some(observed(true, ours.clone())),
                vec!["restore secret /openclaw/acme/db"],
            ),
            (
                "a tag stripped (ours by the inventory)",
                password(false),
                Some(observed(false, Tags::new())),
                vec!["tag secret /openclaw/acme/db"],
            ),
            (
                "role recreated",
                password(true),
                Some(observed(false, ours.clone())),
                vec!["rotate secret /openclaw/acme/db"],
            ),
            (
                "IAM, logins not ready yet",
                Desired::Iam { login_ready: false },
                Some(observed(false, ours.clone())),
                vec![],
            ),
            (
                "IAM, logins ready",
                Desired::Iam { login_ready: true },
                Some(observed(false, ours.clone())),
                vec!["delete secret /openclaw/acme/db"],
            ),
            (
                "tenant deleted",
                Desired::Gone,
                Some(observed(false, ours.clone())),
                vec!["delete secret /openclaw/acme/db"],
            ),
            ("tenant deleted, nothing left", Desired::Gone, None, vec![]),
        ];
        let recorded: Recorded = [("secret".to_owned(), NAME.to_owned())].into();
        let own = Ownership {
            recorded: &recorded,
        };
        for (case, want, obs, expect) in cases {
            let got = diff(&own, NAME, &want, obs.as_ref()).expect(case);
            assert_eq!(lines(&got), expect, "{case}");
            assert!(got.iter().all(|c| !c.security), "{case}");
        }
    }

    /// A password set outside the operator is security drift, repaired by a fresh password; an
    /// unclear login, or a recreated role (rotated anyway), plans nothing more.
    #[test]
    fn a_rejected_stored_password_is_security_drift() {
        let d = desired();
        let secret = &d.secrets[0];
        let ours = observed(false, secret.tags.clone());
        let recorded: Recorded = [("secret".to_owned(), NAME.to_owned())].into();
        let own = Ownership {
            recorded: &recorded,
        };
        let want = |login, role_recreated| Desired::Password {
            secret,
            role_recreated,
            login,
        };
        let set_again = vec![format!(
            "update pg_role {}",
            crate::resources::fixtures::DB_NAME
        )];
        let got = diff(&own, NAME, &want(Login::Rejected, false), Some(&ours)).expect("diff");
        assert_eq!(lines(&got), set_again);
        assert!(got[0].security);
        // A secret naming another user is rotated onto the tenant's own, as security drift.
        let got = diff(&own, NAME, &want(Login::WrongUser, false), Some(&ours)).expect("diff");
        assert_eq!(lines(&got), ["rotate secret /openclaw/acme/db"]);
        assert!(got[0].security);
        for (login, recreated, expect) in [
            (Login::Unknown, false, vec![]),
            (Login::Accepted, false, vec![]),
            // No login could be tried: the stored password goes back on, as routine.
            (Login::Crowded, false, set_again.clone()),
            // A recreated role gets a new password anyway.
            (
                Login::Rejected,
                true,
                vec!["rotate secret /openclaw/acme/db".to_owned()],
            ),
        ] {
            let got = diff(&own, NAME, &want(login, recreated), Some(&ours)).expect("diff");
            assert_eq!(lines(&got), expect, "{login:?} {recreated}");
            assert!(got.iter().all(|c| !c.security), "{login:?} {recreated}");
        }
        // Restoring a secret scheduled for deletion comes first; its password is judged after.
        let scheduled = observed(true, secret.tags.clone());
        let got = diff(&own, NAME, &want(Login::Rejected, false), Some(&scheduled)).expect("diff");
        assert_eq!(lines(&got), vec!["restore secret /openclaw/acme/db"]);
    }

    #[test]
    fn a_secret_that_is_not_ours_is_a_conflict_and_never_deleted() {
        let d = desired();
        let recorded = no_records();
        let own = Ownership {
            recorded: &recorded,
        };
        let foreign = observed(false, Tags::new());
        let want = Desired::Password {
            secret: &d.secrets[0],
            role_recreated: false,
            login: Login::Rejected,
        };
        let err = diff(&own, NAME, &want, Some(&foreign)).expect_err("conflict");
        assert_eq!(err.code(), "ResourceConflict");
        for want in [Desired::Gone, Desired::Iam { login_ready: true }] {
            assert!(diff(&own, NAME, &want, Some(&foreign))
                .expect("diff")
                .is_empty());
        }
    }

    #[test]
    fn the_secret_holds_where_to_connect_and_the_tenants_own_login() {
        let db = DbEndpoint {
            host: "db.internal".into(),
            port: 5432,
            dbname: "tenants".into(),
        };
        let t = crate::resources::fixtures::tenant();
        let v: serde_json::Value =
            serde_json::from_str(&secret_value(&db, &t, "pw")).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"engine": "postgres", "host": "db.internal", "port": 5432,
                "dbname": "tenants", "username": crate::resources::fixtures::DB_NAME, "password": "pw"})
        );
    }

    #[test]
    fn scram_verifier_matches_the_rfc_7677_vector() {
        // RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let v = scram_verifier("pencil", &salt, 4096);
        // Keys computed independently (Python hashlib/hmac) from the RFC's inputs.
        assert_eq!(
            v,
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        );
    }

    #[test]
    fn passwords_are_long_and_random() {
        let a = generate_password();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, generate_password());
    }
}
