//! The agent's schedules (`spec.schedules`): at each slot, one task per schedule, however many
//! replicas run and however often they restart.
//!
//! Owns: deciding which slot is due (`crds::schedule`) and inserting its task. The unique key
//! (kind, schedule, slot) of the tasks table is what makes a slot one task: every replica may
//! try, one insert wins. A slot missed while no replica ran is run once, as the latest slot.
//! Must never: insert a task for a slot that already has one, or for a slot before the last one
//! run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::config::Scheduled;
use crate::db;
use crds::api::AgentKind;
use crds::naming::DbName;

/// Longest sleep between looks, so a clock step or a lost wake-up costs at most this.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// The task input of a slot: the schedule's input, with the schedule's time zone unless the
/// input names its own (Butler's working hours follow it).
pub fn task_input(s: &Scheduled) -> Value {
    let mut input = s.spec.input.clone();
    if let Value::Object(map) = &mut input {
        map.entry("timeZone")
            .or_insert_with(|| Value::String(s.spec.time_zone.clone()));
    }
    input
}

/// Queues the due slot of every schedule. Returns the (schedule, slot) pairs this call inserted;
/// a slot another replica inserted first is not among them.
pub async fn tick(
    pool: &PgPool,
    schema: &DbName,
    kind: AgentKind,
    schedules: &[Scheduled],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<(String, DateTime<Utc>)>> {
    let mut queued = Vec::new();
    for s in schedules {
        let last = db::last_slot(pool, schema, kind, &s.spec.name).await?;
        let Some(slot) = s.parsed.due(last, since, now) else {
            continue;
        };
        if db::insert_scheduled(pool, schema, kind, &s.spec.name, slot, &task_input(s)).await? {
            tracing::info!(schedule = %s.spec.name, slot = %slot.to_rfc3339(), "scheduled task queued");
            queued.push((s.spec.name.clone(), slot));
        }
    }
    Ok(queued)
}

/// How long to sleep after `now`: until just past the earliest next slot, at most
/// [`LONGEST_WAIT`] (pure).
pub fn wait(schedules: &[Scheduled], now: DateTime<Utc>) -> Duration {
    schedules
        .iter()
        .filter_map(|s| s.parsed.next(now))
        .min()
        .and_then(|next| (next - now).to_std().ok())
        .map_or(LONGEST_WAIT, |d| {
            (d + Duration::from_millis(50)).min(LONGEST_WAIT)
        })
}

/// Runs until `stop` turns true. `since` is when this replica started: with no slot ever run, a
/// schedule's first task is for a slot after it.
pub async fn run(
    pool: PgPool,
    schema: DbName,
    kind: AgentKind,
    schedules: Vec<Scheduled>,
    mut stop: watch::Receiver<bool>,
) {
    if schedules.is_empty() {
        return;
    }
    let since = Utc::now();
    while !*stop.borrow() {
        let now = Utc::now();
        if let Err(e) = tick(&pool, &schema, kind, &schedules, since, now).await {
            tracing::warn!(error = %e, "cannot queue scheduled tasks; trying again");
        }
        tokio::select! {
            _ = tokio::time::sleep(wait(&schedules, Utc::now())) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::api::Schedule;

    fn scheduled(cron: &str, zone: &str, input: Value) -> Scheduled {
        let spec = Schedule {
            name: "digest".into(),
            cron: cron.into(),
            time_zone: zone.into(),
            input,
        };
        Scheduled {
            parsed: crds::schedule::parse(&spec).expect("valid"),
            spec,
        }
    }

    #[test]
    fn a_slots_input_carries_the_schedules_zone_unless_it_names_one() {
        let s = scheduled(
            "0 8 * * 1-5",
            "Europe/Berlin",
            serde_json::json!({"query": "is:unread"}),
        );
        assert_eq!(
            task_input(&s),
            serde_json::json!({"query": "is:unread", "timeZone": "Europe/Berlin"})
        );
        let own = scheduled(
            "0 8 * * 1-5",
            "Europe/Berlin",
            serde_json::json!({"timeZone": "Asia/Tokyo"}),
        );
        assert_eq!(task_input(&own)["timeZone"], "Asia/Tokyo");
    }

    #[test]
    fn the_scheduler_wakes_just_after_the_next_slot_and_at_least_every_half_minute() {
        let now = DateTime::parse_from_rfc3339("2026-12-04T10:14:50Z")
            .expect("time")
            .with_timezone(&Utc);
        let every15 = scheduled("*/15 * * * *", "UTC", serde_json::json!({}));
        assert_eq!(wait(&[every15], now), Duration::from_millis(10_050));
        let daily = scheduled("0 8 * * *", "UTC", serde_json::json!({}));
        assert_eq!(wait(&[daily], now), LONGEST_WAIT);
    }
}
