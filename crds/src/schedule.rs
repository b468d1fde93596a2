//! Agent schedules: a five-field cron pattern read in an IANA time zone, and which slot of it is
//! due.
//!
//! Owns: parsing a pattern and a zone (the rules `validate` reports), and the slot arithmetic the
//! agent's scheduler runs. A slot is an instant; the agent inserts one task per (schedule, slot)
//! under a unique key, so replicas and restarts never double one. Must never: touch I/O or read
//! the clock (callers pass `now`).

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use crate::api::Schedule;

/// Most schedules one agent may have.
pub const SCHEDULES_MAX: usize = 10;
/// Most bytes of a schedule's task input, as JSON: it travels in the task definition's
/// environment, whose whole size ECS caps.
pub const INPUT_MAX: usize = 1024;

/// A parsed schedule: its pattern and its zone.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub cron: Cron,
    pub zone: Tz,
}

/// A five-field pattern (minute hour day-of-month month day-of-week): no seconds, no years, no
/// `@` aliases, so no schedule fires more than once a minute. A pattern that parses but never
/// matches (`0 0 30 2 *`) is refused too.
pub fn parse_cron(pattern: &str) -> Result<Cron, String> {
    let fields = pattern.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "must have five fields (minute hour day-of-month month day-of-week), got {fields}"
        ));
    }
    if !pattern
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || "*/,-#?".contains(c))
    {
        return Err("may hold only letters, digits, spaces and * / , - # ?".into());
    }
    let cron = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    let reference = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single();
    match reference.map(|r| cron.find_next_occurrence(&r, false)) {
        Some(Ok(_)) => Ok(cron),
        _ => Err("never matches a date".into()),
    }
}

/// An IANA time zone name, e.g. `Europe/Berlin` or `UTC`.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name).map_err(|_| "is not an IANA time zone (such as Europe/Berlin)".into())
}

pub fn parse(s: &Schedule) -> Result<Parsed, String> {
    Ok(Parsed {
        cron: parse_cron(&s.cron).map_err(|e| format!("cron {e}"))?,
        zone: parse_zone(&s.time_zone).map_err(|e| format!("timeZone {e}"))?,
    })
}

impl Parsed {
    /// The latest slot at or before `now`.
    pub fn latest(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&now.with_timezone(&self.zone), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The first slot after `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&now.with_timezone(&self.zone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The slot to run now, if any: the latest slot at or before `now` that is later than the
    /// last slot run (`last`). Slots missed while no agent ran collapse into that one. With no
    /// slot ever run, only a slot at or after `since` (when the scheduler started) counts: a new
    /// schedule does not fire for a time before it existed.
    pub fn due(
        &self,
        last: Option<DateTime<Utc>>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let latest = self.latest(now)?;
        let fresh = match last {
            Some(last) => latest > last,
            None => latest >= since,
        };
        fresh.then_some(latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn sched(cron: &str, zone: &str) -> Parsed {
        parse(&Schedule {
            name: "s".into(),
            cron: cron.into(),
            time_zone: zone.into(),
            input: serde_json::json!({}),
        })
        .expect("valid")
    }

    #[test]
    fn only_five_field_patterns_that_match_some_date_are_accepted() {
        for ok in [
            "*/15 * * * *",
            "0 8 * * 1-5",
            "30 2 * * *",
            "0 9 1 * *",
            "0 8 * * MON-FRI",
        ] {
            assert!(parse_cron(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("* * * *", "five fields"),
            ("0 * * * * *", "five fields"),
            ("@hourly", "five fields"),
            ("61 * * * *", ""),
            ("0 25 * * *", ""),
            ("0 0 30 2 *", "never matches"),
            ("0 8 * * 1-5;", "may hold only"),
            ("0 8 * * $(id)", "may hold only"),
        ] {
            let e = parse_cron(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn zones_are_iana_names() {
        assert!(parse_zone("Europe/Berlin").is_ok());
        assert!(parse_zone("UTC").is_ok());
        for bad in ["CEST", "Europe/Atlantis", "", "+02:00"] {
            assert!(parse_zone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_berlin_morning_slot_follows_the_clock_across_daylight_saving() {
        // Berlin moves to summer time on 2026-03-29: 08:00 local is 07:00 UTC before, 06:00 after.
        let s = sched("0 8 * * *", "Europe/Berlin");
        assert_eq!(
            s.next(utc("2026-03-28T07:30:00Z")),
            Some(utc("2026-03-29T06:00:00Z"))
        );
        assert_eq!(
            s.latest(utc("2026-03-28T07:30:00Z")),
            Some(utc("2026-03-28T07:00:00Z"))
        );
        // Back to winter time on 2026-10-25.
        assert_eq!(
            s.next(utc("2026-10-24T06:30:00Z")),
            Some(utc("2026-10-25T07:00:00Z"))
        );
    }

    #[test]
    fn a_slot_in_a_skipped_or_repeated_hour_runs_once() {
        let s = sched("30 2 * * *", "Europe/Berlin");
        // 02:30 does not exist on 2026-03-29 (02:00 jumps to 03:00): the day still gets one slot,
        // at 03:00 when the clock resumes.
        let spring: Vec<_> = (0..3)
            .scan(utc("2026-03-28T12:00:00Z"), |t, _| {
                *t = s.next(*t)?;
                Some(*t)
            })
            .collect();
        assert_eq!(spring[0], utc("2026-03-29T01:00:00Z"), "{spring:?}");
        assert_eq!(spring[1], utc("2026-03-30T00:30:00Z"), "{spring:?}");
        // 02:30 happens twice on 2026-10-25: it runs at the first only.
        let autumn: Vec<_> = (0..2)
            .scan(utc("2026-10-24T12:00:00Z"), |t, _| {
                *t = s.next(*t)?;
                Some(*t)
            })
            .collect();
        assert_eq!(
            autumn,
            [utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]
        );
    }

    #[test]
    fn missed_slots_collapse_into_the_latest_and_a_run_slot_is_not_due_again() {
        let s = sched("*/15 * * * *", "UTC");
        let since = utc("2026-12-01T06:00:00Z");
        let now = utc("2026-12-01T10:37:00Z");
        // Down since 06:45: one slot is due, the latest, not eighteen.
        assert_eq!(
            s.due(Some(utc("2026-12-01T06:45:00Z")), since, now),
            Some(utc("2026-12-01T10:30:00Z"))
        );
        assert_eq!(s.due(Some(utc("2026-12-01T10:30:00Z")), since, now), None);
        // Never run: a slot from before the scheduler started is not due; one after it is.
        assert_eq!(s.due(None, utc("2026-12-01T10:31:00Z"), now), None);
        assert_eq!(
            s.due(None, utc("2026-12-01T10:30:00Z"), now),
            Some(utc("2026-12-01T10:30:00Z"))
        );
    }

    #[test]
    fn weekday_digests_skip_the_weekend_in_the_users_zone() {
        // 08:00 Mon-Fri in Berlin; Friday 2026-12-04 08:00 CET is 07:00 UTC.
        let s = sched("0 8 * * 1-5", "Europe/Berlin");
        assert_eq!(
            s.next(utc("2026-12-04T07:00:00Z")),
            Some(utc("2026-12-07T07:00:00Z")),
            "next is Monday"
        );
        // Late Sunday in UTC is already Monday in Tokyo.
        let tokyo = sched("0 8 * * 1", "Asia/Tokyo");
        assert_eq!(
            tokyo.next(utc("2026-12-06T00:00:00Z")),
            Some(utc("2026-12-06T23:00:00Z"))
        );
    }
}
