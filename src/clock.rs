//! The server's clock and calendar: "today" is a day in England (Europe/London), because a
//! vesting date starts at local midnight. A clock can be set to start at another time
//! (`--now`, for tests and demonstrations); it then runs on from there at the real rate.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;

/// The time now, possibly shifted by a fixed offset.
#[derive(Debug, Default)]
pub struct Clock {
    /// Seconds added to the system time.
    offset: AtomicI64,
    /// Today as text and the Unix time it ends, for the per-request check of a dated tile URL.
    today: std::sync::RwLock<(i64, String)>,
}

impl Clock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that reads `start` now and runs on from there.
    #[must_use]
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        let offset = start.timestamp() - Utc::now().timestamp();
        Self {
            offset: AtomicI64::new(offset),
            today: std::sync::RwLock::default(),
        }
    }

    /// Seconds since the Unix epoch.
    #[must_use]
    pub fn now_unix(&self) -> i64 {
        Utc::now().timestamp() + self.offset.load(Ordering::Relaxed)
    }

    /// The time now.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.now_unix(), 0).unwrap_or_default()
    }

    /// Today in England.
    #[must_use]
    pub fn today(&self) -> NaiveDate {
        london_day(self.now_unix())
    }

    /// Whether `day` (`YYYY-MM-DD`) is today in England (cheap: today's text is kept until
    /// its midnight).
    #[must_use]
    pub fn is_today(&self, day: &str) -> bool {
        let now = self.now_unix();
        if let Ok(t) = self.today.read()
            && now < t.0
        {
            return t.1 == day;
        }
        let today = london_day(now);
        let ends = london_midnight(today.succ_opt().unwrap_or(today));
        let text = today.format("%Y-%m-%d").to_string();
        let is = text == day;
        if let Ok(mut t) = self.today.write() {
            *t = (ends, text);
        }
        is
    }
}

/// The day in England at Unix time `t`.
#[must_use]
pub fn london_day(t: i64) -> NaiveDate {
    DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .with_timezone(&London)
        .date_naive()
}

/// Unix time of the midnight that starts `day` in England.
#[must_use]
pub fn london_midnight(day: NaiveDate) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    London
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc().timestamp(), |t| t.timestamp())
}

/// The day before `d` (`YYYY-MM-DD`), written the same way: the last day an LA abolished on
/// `d` was in force. `None` if `d` is not a date.
#[must_use]
pub fn day_before(d: &str) -> Option<String> {
    parse_day(d)
        .ok()
        .and_then(|d| d.pred_opt())
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// Parse a date written `YYYY-MM-DD`.
///
/// # Errors
/// What is wrong with it, for the client.
pub fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| d.format("%Y-%m-%d").to_string() == s)
        .ok_or_else(|| format!("\"{s}\" is not a date written YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_london_midnight_in_summer_and_winter() {
        let vesting = NaiveDate::from_ymd_opt(2027, 4, 1).expect("date");
        // 1 April 2027 is in British Summer Time: midnight is 23:00 UTC the day before.
        assert_eq!(
            london_midnight(vesting),
            Utc.with_ymd_and_hms(2027, 3, 31, 23, 0, 0)
                .unwrap()
                .timestamp()
        );
        assert_eq!(
            london_day(london_midnight(vesting) - 1).to_string(),
            "2027-03-31"
        );
        assert_eq!(
            london_day(london_midnight(vesting)).to_string(),
            "2027-04-01"
        );
        let winter = NaiveDate::from_ymd_opt(2026, 12, 6).expect("date");
        assert_eq!(
            london_midnight(winter),
            Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0)
                .unwrap()
                .timestamp()
        );
    }

    #[test]
    fn only_real_dates_written_in_full_parse() {
        assert!(parse_day("2027-04-01").is_ok());
        for bad in [
            "2027-4-1",
            "2027-02-30",
            "01/04/2027",
            "",
            "2027-04-01T00:00",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_clock_started_later_runs_on_from_there() {
        let start = Utc.with_ymd_and_hms(2027, 3, 31, 22, 59, 58).unwrap();
        let c = Clock::starting_at(start);
        assert!((c.now_unix() - start.timestamp()).abs() <= 1);
        assert_eq!(c.today().to_string(), "2027-03-31");
    }
}
