//! A node's time zone for its local hours: a fixed UTC offset, or an IANA
//! zone whose offset follows daylight saving (the 2021 study showed each
//! node's flows per hour in its own local time).
use std::fmt;

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// A time zone given as `+HH:MM`/`-HH:MM` or by IANA name (`Europe/Berlin`).
#[derive(Clone)]
pub enum Zone {
    /// A fixed offset, minutes east of UTC.
    Fixed(i32),
    /// An IANA zone.
    Named {
        /// Its name, as given.
        name: String,
        /// The zone (from the system's tz database, else jiff's copy).
        tz: jiff::tz::TimeZone,
    },
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Fixed(m) => write!(f, "Zone::Fixed({m})"),
            Zone::Named { name, .. } => write!(f, "Zone::Named({name})"),
        }
    }
}

impl PartialEq for Zone {
    fn eq(&self, o: &Zone) -> bool {
        match (self, o) {
            (Zone::Fixed(a), Zone::Fixed(b)) => a == b,
            (Zone::Named { name: a, .. }, Zone::Named { name: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::Fixed(0)
    }
}

/// `+HH:MM` or `-HH:MM` (`+H` too) as minutes east of UTC.
fn fixed_minutes(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m <= 59).then_some(sign * (h * 60 + m))
}

/// `UTC+HH:MM` of an offset in minutes.
pub fn offset_label(minutes: i32) -> String {
    format!(
        "UTC{}{:02}:{:02}",
        if minutes < 0 { '-' } else { '+' },
        minutes.abs() / 60,
        minutes.abs() % 60
    )
}

impl Zone {
    /// Parses `+HH:MM`, `-HH:MM` or an IANA name; the error says which
    /// forms are accepted.
    pub fn parse(s: &str) -> Result<Zone, String> {
        if let Some(m) = fixed_minutes(s) {
            return Ok(Zone::Fixed(m));
        }
        if s.starts_with(['+', '-']) {
            return Err(format!(
                "{s:?}: expected +HH:MM, -HH:MM or an IANA time zone such as Europe/Berlin"
            ));
        }
        jiff::tz::TimeZone::get(s)
            .map(|tz| Zone::Named {
                name: s.to_owned(),
                tz,
            })
            .map_err(|e| format!("{s:?}: not a known IANA time zone ({e}); or give +HH:MM"))
    }

    /// The offset east of UTC at time `t_ms`, minutes.
    pub fn offset_minutes(&self, t_ms: u64) -> i32 {
        match self {
            Zone::Fixed(m) => *m,
            Zone::Named { tz, .. } => {
                let ts = jiff::Timestamp::from_millisecond(t_ms.min(i64::MAX as u64) as i64)
                    .unwrap_or(jiff::Timestamp::MAX);
                tz.to_offset(ts).seconds() / 60
            }
        }
    }

    /// The zone in words over `[from_ms, to_ms]`: its name and the offsets
    /// in force (one for a fixed offset or a period without a change).
    pub fn describe(&self, from_ms: u64, to_ms: u64) -> String {
        match self {
            Zone::Fixed(m) => offset_label(*m),
            Zone::Named { name, .. } => {
                let mut offsets: Vec<i32> = Vec::new();
                let mut t = from_ms - from_ms % HOUR_MS;
                // Hour by hour: a period is at most a few years of hours.
                let mut steps = 0;
                while t <= to_ms && steps < 200_000 {
                    let o = self.offset_minutes(t);
                    if offsets.last() != Some(&o) {
                        offsets.push(o);
                    }
                    t += HOUR_MS;
                    steps += 1;
                }
                offsets.dedup();
                let labels: Vec<String> = offsets.iter().map(|o| offset_label(*o)).collect();
                if labels.len() > 1 {
                    format!(
                        "{name} ({}: daylight saving followed)",
                        labels.join(", then ")
                    )
                } else {
                    format!("{name} ({})", labels.first().cloned().unwrap_or_default())
                }
            }
        }
    }
}

/// Local hours of the day in a zone, the offset looked up once per UTC
/// hour (transitions fall on whole UTC hours in every zone but a few
/// half-hour ones, whose flows of that one hour move by half an hour).
pub struct LocalClock<'a> {
    zone: &'a Zone,
    hour: u64,
    offset_ms: i64,
}

impl<'a> LocalClock<'a> {
    /// A clock of `zone`.
    pub fn new(zone: &'a Zone) -> LocalClock<'a> {
        let offset_ms = match zone {
            Zone::Fixed(m) => i64::from(*m) * 60_000,
            Zone::Named { .. } => 0,
        };
        LocalClock {
            zone,
            hour: u64::MAX,
            offset_ms,
        }
    }

    /// The local hour of the day (0–23) of `t_ms`.
    pub fn hour_of_day(&mut self, t_ms: u64) -> usize {
        if let Zone::Named { .. } = self.zone {
            let h = t_ms / HOUR_MS;
            if h != self.hour {
                self.hour = h;
                self.offset_ms = i64::from(self.zone.offset_minutes(h * HOUR_MS)) * 60_000;
            }
        }
        ((t_ms as i64 + self.offset_ms).rem_euclid(DAY_MS) / HOUR_MS as i64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2021-03-28 01:00 UTC: Berlin goes from UTC+01:00 to UTC+02:00; on
    /// 2021-10-31 01:00 UTC back.
    const SPRING: u64 = 1_616_893_200_000;
    const AUTUMN: u64 = 1_635_642_000_000;

    #[test]
    fn a_named_zone_follows_daylight_saving_across_a_change_date() {
        let z = Zone::parse("Europe/Berlin").unwrap();
        let mut c = LocalClock::new(&z);
        // 00:30 UTC is 01:30 CET; 01:30 UTC is 03:30 CEST: 02:00 local never was.
        assert_eq!(c.hour_of_day(SPRING - 1_800_000), 1);
        assert_eq!(c.hour_of_day(SPRING + 1_800_000), 3);
        assert_eq!(z.offset_minutes(SPRING - 1), 60);
        assert_eq!(z.offset_minutes(SPRING), 120);
        // In autumn 02:xx local happens twice (00:30 and 01:30 UTC).
        assert_eq!(c.hour_of_day(AUTUMN - 1_800_000), 2);
        assert_eq!(c.hour_of_day(AUTUMN + 1_800_000), 2);
        // A fixed offset does not follow it.
        let f = Zone::parse("+01:00").unwrap();
        let mut fc = LocalClock::new(&f);
        assert_eq!(fc.hour_of_day(SPRING + 1_800_000), 2);
        assert_eq!(
            z.describe(SPRING - 3 * HOUR_MS, SPRING + 3 * HOUR_MS),
            "Europe/Berlin (UTC+01:00, then UTC+02:00: daylight saving followed)"
        );
        assert_eq!(
            z.describe(SPRING, SPRING + HOUR_MS),
            "Europe/Berlin (UTC+02:00)"
        );
        assert_eq!(f.describe(0, 1), "UTC+01:00");
    }

    #[test]
    fn zones_parse_as_offsets_or_names_and_bad_ones_say_what_is_expected() {
        assert_eq!(Zone::parse("+05:30").unwrap(), Zone::Fixed(330));
        assert_eq!(Zone::parse("-8").unwrap(), Zone::Fixed(-480));
        assert_eq!(
            Zone::parse("Asia/Tokyo").unwrap().offset_minutes(SPRING),
            540
        );
        for bad in ["+25:00", "-1:99", "Europe/Nowhere", "5", ""] {
            let e = Zone::parse(bad).unwrap_err();
            assert!(e.contains("+HH:MM"), "{bad}: {e}");
        }
    }
}
