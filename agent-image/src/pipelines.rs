//! The three agents' pipelines: system prompt, tools, and how a task's result is assembled.
//!
//! Butler reads and summarises mail, drafts replies and proposes meeting slots (Gmail and
//! Google Calendar). Scout scores accounts from the tenant's intent signals. Strategist builds an
//! account brief from CRM data (HubSpot or Salesforce) and the tenant's own notes.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration as ChronoDuration, TimeZone, Utc};
use chrono_tz::Tz;
use crds::api::{AgentKind, Integration};
use reqwest::Method;
use serde_json::{json, Value};

use crate::bedrock::ToolDef;
use crate::Agent;

pub fn system_prompt(kind: AgentKind) -> &'static str {
    match kind {
        AgentKind::Butler => {
            "You are Butler, a personal assistant. Read the user's recent mail, summarise what \
             matters, draft replies where one is expected, and propose meeting slots that fit the \
             calendar. Use the tools; never invent messages or events."
        }
        AgentKind::Scout => {
            "You are Scout. Rank accounts by buying intent from the signals the tools return \
             (website visits, hiring, funding, content engagement), and give one reason per \
             account."
        }
        AgentKind::Strategist => {
            "You are Strategist. Write a short account brief and three next steps from the CRM \
             record and the account notes the tools return."
        }
    }
}

pub fn tools(kind: AgentKind) -> Vec<ToolDef> {
    let obj = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required});
    match kind {
        AgentKind::Butler => vec![
            ToolDef {
                name: "list_messages",
                description: "List recent messages in the user's mailbox matching a Gmail query.",
                schema: obj(
                    json!({"query": {"type": "string"}, "max": {"type": "integer"}}),
                    &[],
                ),
            },
            ToolDef {
                name: "get_message",
                description: "Read one message by id.",
                schema: obj(json!({"id": {"type": "string"}}), &["id"]),
            },
            ToolDef {
                name: "create_draft",
                description: "Create a reply draft (not sent).",
                schema: obj(
                    json!({"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}}),
                    &["to", "subject", "body"],
                ),
            },
            ToolDef {
                name: "propose_slots",
                description:
                    "Free 30-minute slots in working hours over the next days, from the calendar.",
                schema: obj(json!({"days": {"type": "integer"}}), &[]),
            },
        ],
        AgentKind::Scout => vec![ToolDef {
            name: "get_signals",
            description: "Intent signals per account with their computed scores.",
            schema: obj(json!({}), &[]),
        }],
        AgentKind::Strategist => vec![
            ToolDef {
                name: "get_account",
                description: "The tenant's own record and notes for an account.",
                schema: obj(json!({"account_id": {"type": "string"}}), &["account_id"]),
            },
            ToolDef {
                name: "get_crm_company",
                description: "The CRM record of a company with its deals (HubSpot) or \
                    opportunities (Salesforce). `crm` picks the CRM when both are connected.",
                schema: obj(
                    json!({"crm_id": {"type": "string"}, "crm": {"type": "string", "enum": ["hubspot", "salesforce"]}}),
                    &["crm_id"],
                ),
            },
        ],
    }
}

/// The user turn for a task.
pub fn prompt(kind: AgentKind, input: &Value) -> String {
    match kind {
        AgentKind::Butler => {
            format!(
            "Go through my mail matching {:?}, summarise it, draft the replies that are needed, \
             and propose meeting slots.",
            input.get("query").and_then(Value::as_str).unwrap_or("is:unread")
        )
        }
        AgentKind::Scout => format!(
            "Rank my accounts by intent; show the top {}.",
            input.get("top").and_then(Value::as_u64).unwrap_or(5)
        ),
        AgentKind::Strategist => format!(
            "Prepare a brief for account {:?}.",
            input
                .get("account_id")
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
    }
}

/// How much each kind of signal says about intent, and how fast it fades (half-life in days).
fn signal_factor(kind: &str) -> (f64, f64) {
    match kind {
        "funding" => (3.0, 60.0),
        "hiring" => (2.0, 30.0),
        "visit" => (1.0, 7.0),
        "content" => (1.5, 14.0),
        _ => (0.5, 7.0),
    }
}

/// Scores accounts from their signals: weight × kind factor × half-life decay, summed. Pure.
pub fn score_accounts(signals: &[(String, String, f64, String, f64)]) -> Vec<Value> {
    let mut per: BTreeMap<&str, (f64, Vec<String>)> = BTreeMap::new();
    for (account, kind, weight, detail, age_days) in signals {
        let (factor, half_life) = signal_factor(kind);
        let s = weight * factor * 0.5f64.powf(age_days.max(0.0) / half_life);
        let e = per.entry(account).or_default();
        e.0 += s;
        e.1.push(if detail.is_empty() {
            kind.clone()
        } else {
            format!("{kind}: {detail}")
        });
    }
    let mut ranked: Vec<(&str, f64, Vec<String>)> =
        per.into_iter().map(|(a, (s, r))| (a, s, r)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    ranked
        .into_iter()
        .map(|(a, s, reasons)| json!({"account": a, "score": (s * 1000.0).round() / 1000.0, "reasons": reasons}))
        .collect()
}

/// Working hours, in the user's time zone: Butler proposes slots between these hours.
pub const WORKDAY: (u32, u32) = (9, 17);

/// The task's time zone: its input's `timeZone` (a scheduled task carries its schedule's), UTC
/// when it names none.
pub fn task_zone(input: &Value) -> Result<Tz, String> {
    match input.get("timeZone") {
        None | Some(Value::Null) => Ok(Tz::UTC),
        Some(Value::String(z)) => {
            crds::schedule::parse_zone(z).map_err(|e| format!("input.timeZone {z:?} {e}"))
        }
        Some(_) => Err("input.timeZone must be a string such as Europe/Berlin".into()),
    }
}

/// Free 30-minute slots in working hours ([`WORKDAY`]) on weekdays, as the clock reads in `zone`,
/// over the `days` days after today there, avoiding `busy` (start, end). A slot the clock skips
/// (a daylight-saving change) is not offered; a repeated one is offered once. Pure.
pub fn free_slots(
    now: chrono::DateTime<Utc>,
    zone: Tz,
    days: i64,
    busy: &[(chrono::DateTime<Utc>, chrono::DateTime<Utc>)],
    limit: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let today = now.with_timezone(&zone).date_naive();
    for d in 1..=days {
        let day = today + ChronoDuration::days(d);
        if day.weekday().number_from_monday() > 5 {
            continue;
        }
        for half_hour in (WORKDAY.0 * 2)..(WORKDAY.1 * 2) {
            let Some(local) = day.and_hms_opt(half_hour / 2, 30 * (half_hour % 2), 0) else {
                continue;
            };
            let Some(start) = zone.from_local_datetime(&local).earliest() else {
                continue;
            };
            let end = start + ChronoDuration::minutes(30);
            if busy.iter().all(|(b0, b1)| end <= *b0 || start >= *b1) {
                out.push(start.to_rfc3339());
                if out.len() >= limit {
                    return out;
                }
            }
        }
    }
    out
}

fn arg<'a>(input: &'a Value, key: &str) -> Result<&'a str, String> {
    input
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string argument {key:?}"))
}

/// Salesforce's REST API version the client speaks.
pub const SALESFORCE_API: &str = "v61.0";

/// Which CRM a Strategist call goes to: the one `requested`, which must be granted, or the one
/// granted (HubSpot when both are). Pure.
pub fn crm_for(granted: &[Integration], requested: Option<&Value>) -> Result<Integration, String> {
    let crms = [Integration::Hubspot, Integration::Salesforce];
    match requested {
        None | Some(Value::Null) => crms
            .into_iter()
            .find(|c| granted.contains(c))
            .ok_or_else(|| "no CRM is connected for this agent".into()),
        Some(v) => {
            let want = v.as_str().and_then(Integration::parse);
            match want {
                Some(c) if crms.contains(&c) && granted.contains(&c) => Ok(c),
                Some(c) if crms.contains(&c) => Err(format!("{c} is not connected for this agent")),
                _ => Err("crm must be hubspot or salesforce".into()),
            }
        }
    }
}

/// A Salesforce record id: 15 or 18 letters and digits. Nothing else reaches a URL or a SOQL
/// query, so a model cannot inject either.
pub fn salesforce_id(id: &str) -> Result<&str, String> {
    if matches!(id.len(), 15 | 18) && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(format!("invalid Salesforce id {id:?}"))
    }
}

/// The SOQL query for an account's opportunities (pure; `account` passed [`salesforce_id`]).
pub fn opportunities_soql(account: &str) -> String {
    format!(
        "SELECT Id, Name, StageName, Amount, CloseDate FROM Opportunity \
         WHERE AccountId = '{account}' ORDER BY CloseDate LIMIT 20"
    )
}

/// Only path-safe ids reach a URL.
fn path_id(id: &str) -> Result<&str, String> {
    if !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        Ok(id)
    } else {
        Err(format!("invalid id {id:?}"))
    }
}

impl Agent {
    /// Runs one tool call. `Ok(Err(msg))` is a tool error the model sees; `Err` stops the task.
    pub async fn call_tool(
        &self,
        name: &str,
        input: Value,
        zone: Tz,
    ) -> anyhow::Result<Result<Value, String>> {
        let c = &self.config;
        Ok(match (c.kind, name) {
            (AgentKind::Butler, "list_messages") => {
                let q = input
                    .get("query")
                    .and_then(Value::as_str)
                    .unwrap_or("is:unread");
                let max = input
                    .get("max")
                    .and_then(Value::as_u64)
                    .unwrap_or(10)
                    .min(50);
                let url = format!("{}/gmail/v1/users/me/messages", c.gmail_base);
                let url = reqwest::Url::parse_with_params(
                    &url,
                    &[("q", q), ("maxResults", &max.to_string())],
                )?;
                Ok(self
                    .apis
                    .call(Integration::Gmail, Method::GET, url.as_str(), None)
                    .await?)
            }
            (AgentKind::Butler, "get_message") => match arg(&input, "id").and_then(path_id) {
                Ok(id) => {
                    let url = format!("{}/gmail/v1/users/me/messages/{id}", c.gmail_base);
                    Ok(self
                        .apis
                        .call(Integration::Gmail, Method::GET, &url, None)
                        .await?)
                }
                Err(e) => Err(e),
            },
            (AgentKind::Butler, "create_draft") => {
                let (to, subject, body) = match (
                    arg(&input, "to"),
                    arg(&input, "subject"),
                    arg(&input, "body"),
                ) {
                    (Ok(a), Ok(b), Ok(c)) => (a, b, c),
                    _ => return Ok(Err("to, subject and body are required".into())),
                };
                let raw = format!("To: {to}\r\nSubject: {subject}\r\n\r\n{body}");
                let url = format!("{}/gmail/v1/users/me/drafts", c.gmail_base);
                let draft = json!({"message": {"raw": base64_url(raw.as_bytes())}});
                Ok(self
                    .apis
                    .call(Integration::Gmail, Method::POST, &url, Some(&draft))
                    .await?)
            }
            (AgentKind::Butler, "propose_slots") => {
                let days = input
                    .get("days")
                    .and_then(Value::as_i64)
                    .unwrap_or(3)
                    .clamp(1, 14);
                let now = Utc::now();
                let url = format!("{}/calendar/v3/calendars/primary/events", c.calendar_base);
                let url = reqwest::Url::parse_with_params(
                    &url,
                    &[
                        ("timeMin", now.to_rfc3339()),
                        (
                            "timeMax",
                            (now + ChronoDuration::days(days + 1)).to_rfc3339(),
                        ),
                        ("singleEvents", "true".into()),
                    ],
                )?;
                let events = self
                    .apis
                    .call(Integration::Calendar, Method::GET, url.as_str(), None)
                    .await?;
                let busy: Vec<_> = events
                    .get("items")
                    .and_then(Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|e| {
                                let t = |k: &str| {
                                    e.get(k)?
                                        .get("dateTime")?
                                        .as_str()
                                        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                                        .map(|d| d.with_timezone(&Utc))
                                };
                                Some((t("start")?, t("end")?))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(json!({"timeZone": zone.name(), "slots": free_slots(now, zone, days, &busy, 5)}))
            }
            (AgentKind::Scout, "get_signals") => {
                let signals = crate::db::signals(&self.pool, &self.db).await?;
                Ok(json!({"accounts": score_accounts(&signals)}))
            }
            (AgentKind::Strategist, "get_account") => match arg(&input, "account_id") {
                Ok(id) => match crate::db::account(&self.pool, &self.db, id).await? {
                    Some((name, domain, crm_id, notes)) => Ok(
                        json!({"id": id, "name": name, "domain": domain, "crm_id": crm_id, "notes": notes}),
                    ),
                    None => Err(format!("no account {id:?}")),
                },
                Err(e) => Err(e),
            },
            (AgentKind::Strategist, "get_crm_company") => {
                let granted: Vec<Integration> = c.oauth_secrets.iter().map(|(i, _)| *i).collect();
                let crm = match crm_for(&granted, input.get("crm")) {
                    Ok(crm) => crm,
                    Err(e) => return Ok(Err(e)),
                };
                if crm == Integration::Salesforce {
                    return Ok(match arg(&input, "crm_id").and_then(salesforce_id) {
                        Ok(id) => Ok(self.salesforce_account(id).await?),
                        Err(e) => Err(e),
                    });
                }
                match arg(&input, "crm_id").and_then(path_id) {
                    Ok(id) => {
                        let url = format!(
                            "{}/crm/v3/objects/companies/{id}?associations=deals,contacts",
                            c.hubspot_base
                        );
                        Ok(self
                            .apis
                            .call(Integration::Hubspot, Method::GET, &url, None)
                            .await?)
                    }
                    Err(e) => Err(e),
                }
            }
            (_, other) => Err(format!("unknown tool {other:?}")),
        })
    }

    /// A Salesforce account with its open opportunities (two REST calls).
    async fn salesforce_account(&self, id: &str) -> anyhow::Result<Value> {
        let base = match &self.config.salesforce_base {
            Some(b) => b.clone(),
            None => self.apis.salesforce_base().await?,
        };
        let data = format!("{base}/services/data/{SALESFORCE_API}");
        let account = self
            .apis
            .call(
                Integration::Salesforce,
                Method::GET,
                &format!("{data}/sobjects/Account/{id}?fields=Name,Website,Industry,Description"),
                None,
            )
            .await?;
        let url = reqwest::Url::parse_with_params(
            &format!("{data}/query"),
            &[("q", opportunities_soql(id))],
        )?;
        let found = self
            .apis
            .call(Integration::Salesforce, Method::GET, url.as_str(), None)
            .await?;
        Ok(json!({
            "id": id,
            "account": account,
            "opportunities": found.get("records").cloned().unwrap_or(Value::Array(Vec::new())),
        }))
    }

    /// The task's result: the model's answer plus what this kind computes itself.
    pub async fn result(&self, input: &Value, answer: &str) -> anyhow::Result<Value> {
        let c = &self.config;
        Ok(match c.kind {
            AgentKind::Scout => {
                let top = input.get("top").and_then(Value::as_u64).unwrap_or(5) as usize;
                let signals = crate::db::signals(&self.pool, &self.db).await?;
                let ranking: Vec<Value> = score_accounts(&signals).into_iter().take(top).collect();
                json!({"ranking": ranking, "narrative": answer})
            }
            AgentKind::Butler => json!({"summary": answer}),
            AgentKind::Strategist => json!({
                "account_id": input.get("account_id").cloned().unwrap_or(Value::Null),
                "brief": answer,
            }),
        })
    }
}

fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..(chunk.len() + 1) {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_rank_strong_recent_signals_first() {
        let s = |a: &str, k: &str, w: f64, age: f64| {
            (a.to_owned(), k.to_owned(), w, String::new(), age)
        };
        let ranked = score_accounts(&[
            s("old-visits", "visit", 1.0, 70.0),
            s("funded", "funding", 1.0, 1.0),
            s("hiring", "hiring", 1.0, 0.0),
            s("hiring", "visit", 1.0, 0.0),
        ]);
        let order: Vec<&str> = ranked
            .iter()
            .map(|r| r["account"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(order, ["hiring", "funded", "old-visits"]);
        assert_eq!(ranked[0]["score"], 3.0);
        assert_eq!(ranked[0]["reasons"], json!(["hiring", "visit"]));
    }

    #[test]
    fn slots_avoid_busy_times_and_weekends() {
        // A Friday: the next day is Saturday, so slots start on Monday.
        let now = Utc
            .with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
            .single()
            .expect("time");
        let monday9 = Utc
            .with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
            .single()
            .expect("time");
        let busy = [(monday9, monday9 + ChronoDuration::minutes(60))];
        let slots = free_slots(now, Tz::UTC, 3, &busy, 2);
        assert_eq!(
            slots,
            ["2026-11-30T10:00:00+00:00", "2026-11-30T10:30:00+00:00"]
        );
    }

    #[test]
    fn slots_are_working_hours_where_the_user_is() {
        // Friday 2026-11-27 20:00 UTC is already Saturday in Tokyo: Monday there comes first.
        let now = Utc
            .with_ymd_and_hms(2026, 11, 27, 20, 0, 0)
            .single()
            .expect("time");
        let tokyo = free_slots(now, chrono_tz::Asia::Tokyo, 3, &[], 1);
        assert_eq!(tokyo, ["2026-11-30T09:00:00+09:00"]);
        // New York's 09:00 is 14:00 UTC in winter and 13:00 UTC in summer.
        let ny = chrono_tz::America::New_York;
        let winter = free_slots(now, ny, 3, &[], 1);
        assert_eq!(winter, ["2026-11-30T09:00:00-05:00"]);
        let summer_now = Utc
            .with_ymd_and_hms(2026, 7, 3, 12, 0, 0)
            .single()
            .expect("time");
        assert_eq!(
            free_slots(summer_now, ny, 3, &[], 1),
            ["2026-07-06T09:00:00-04:00"]
        );
        // The last slot of the day starts at 16:30 local.
        let all = free_slots(now, ny, 3, &[], 16);
        assert_eq!(all.len(), 16);
        assert_eq!(all[15], "2026-11-30T16:30:00-05:00");
    }

    #[test]
    fn a_tasks_zone_is_its_inputs_or_utc() {
        assert_eq!(task_zone(&json!({})), Ok(Tz::UTC));
        assert_eq!(
            task_zone(&json!({"timeZone": "Europe/Berlin"})),
            Ok(chrono_tz::Europe::Berlin)
        );
        assert!(task_zone(&json!({"timeZone": "CEST"}))
            .expect_err("abbreviation")
            .contains("IANA"));
        assert!(task_zone(&json!({"timeZone": 2})).is_err());
    }

    #[test]
    fn a_call_goes_to_the_crm_asked_for_if_connected_else_the_one_connected() {
        use Integration::{Hubspot, Salesforce};
        assert_eq!(crm_for(&[Salesforce], None), Ok(Salesforce));
        assert_eq!(crm_for(&[Hubspot, Salesforce], None), Ok(Hubspot));
        assert_eq!(
            crm_for(&[Hubspot, Salesforce], Some(&json!("salesforce"))),
            Ok(Salesforce)
        );
        assert!(crm_for(&[Hubspot], Some(&json!("salesforce")))
            .expect_err("not connected")
            .contains("not connected"));
        assert!(crm_for(&[Hubspot], Some(&json!("gmail"))).is_err());
        assert!(crm_for(&[], None).is_err());
    }

    #[test]
    fn salesforce_ids_are_the_only_thing_that_reaches_soql() {
        assert_eq!(
            salesforce_id("001000000000001AAA"),
            Ok("001000000000001AAA")
        );
        assert!(salesforce_id("001000000000001").is_ok());
        for bad in [
            "001000000000001' OR Name != '",
            "../../sobjects/User",
            "001000000000001AA",
            "",
            "001000000000001AA%",
        ] {
            assert!(salesforce_id(bad).is_err(), "{bad}");
        }
        assert_eq!(
            opportunities_soql("001000000000001AAA"),
            "SELECT Id, Name, StageName, Amount, CloseDate FROM Opportunity \
             WHERE AccountId = '001000000000001AAA' ORDER BY CloseDate LIMIT 20"
        );
    }

    #[test]
    fn ids_in_urls_are_path_safe() {
        assert!(path_id("18c2f0a9b").is_ok());
        for bad in ["../x", "a/b", "", "a?b", "a b"] {
            assert!(path_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn base64url_matches_the_rfc() {
        assert_eq!(base64_url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_url(b"fo"), "Zm8");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
    }
}
