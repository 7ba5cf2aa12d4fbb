//! Parsing of human durations on the command line: a bare number of seconds (`30`, `1.5`),
//! `20us`, `500ms`, `30s`, `5m`, `1h` (also spelled `sec` and `min`), and sums such as `1m30s`.
//!
//! The plan's durations are stricter (a unit always, no `sec`/`min`, no sums): see
//! docs/plan-language.md; the README says how the two differ.
//!
//! Every duration, however it is written, is at most [`MAX_DURATION`]: the run turns durations
//! into deadlines (`Instant + duration`, and nanoseconds since boot shared with the load
//! processes), which a larger value would overflow (a panic) or wrap (a run that ends at once).

use std::time::Duration;

/// The longest duration a flag takes: 10^9 seconds (about 31.7 years), whether written as a
/// bare number of seconds or with units; the same bound as a plan's durations.
pub use molotov_dsl::MAX_DURATION;

/// The error of a duration over [`MAX_DURATION`].
fn out_of_range(text: &str) -> String {
    format!(
        "invalid duration {text:?}: out of range (at most {} seconds, about 31 years)",
        MAX_DURATION.as_secs()
    )
}

/// [`parse_duration`], refusing zero (for flags where zero means nothing sensible).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        Err("must be more than 0".into())
    } else {
        Ok(d)
    }
}

/// Parses a duration; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "empty duration: give seconds (30, 1.5) or a number with a unit (500ms, 30s, 5m, 1h)"
                .into(),
        );
    }
    if text.starts_with('-') {
        return Err(format!(
            "invalid duration {text:?}: a duration cannot be negative"
        ));
    }
    // A bare number is seconds, with the same bound as every other form.
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u64>() {
            Ok(secs) if secs <= MAX_DURATION.as_secs() => Ok(Duration::from_secs(secs)),
            _ => Err(out_of_range(text)),
        };
    }
    // A fraction of seconds too (`-d 1.5`): a bare `10` is 10 s, so `1.5` is 1.5 s (it used to
    // be refused for want of a unit). Digits and one dot only: no exponent, no sign.
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && text.bytes().filter(|&b| b == b'.').count() == 1
        && text.bytes().any(|b| b.is_ascii_digit())
    {
        return match text.parse::<f64>() {
            Ok(secs) if (0.0..=MAX_DURATION.as_secs_f64()).contains(&secs) => {
                Ok(Duration::from_secs_f64(secs))
            }
            Ok(_) => Err(out_of_range(text)),
            Err(_) => Err(format!("invalid duration {text:?}: not a number")),
        };
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    // Units go from the largest to the smallest, each once (`1h30m`, not `1m1m` or `1s1h`):
    // anything else is a typo more likely than a sum.
    let mut last_scale = f64::INFINITY;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "invalid duration {text:?}: expected a number at {rest:?}"
            ));
        }
        let number: f64 = rest[..digits].parse().map_err(|_| {
            format!(
                "invalid duration {text:?}: {:?} is not a number",
                &rest[..digits]
            )
        })?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "invalid duration {text:?}: a unit is needed after {number}: in a sum every \
                     number has one (us, ms, s, m, h), as in 1m30s"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration {text:?}: unknown unit {other:?} (use us, ms, s, m or h)"
                ));
            }
        };
        if scale >= last_scale {
            return Err(format!(
                "invalid duration {text:?}: each unit once, from the largest to the smallest \
                 (as in 1h30m or 1m30s)"
            ));
        }
        last_scale = scale;
        let secs = number * scale;
        if !secs.is_finite() || !(0.0..=MAX_DURATION.as_secs_f64()).contains(&secs) {
            return Err(out_of_range(text));
        }
        total += Duration::from_secs_f64(secs);
    }
    // Each part is in range, their sum need not be (`277777h59m60s`).
    if total > MAX_DURATION {
        return Err(out_of_range(text));
    }
    Ok(total)
}

/// A duration as a plan would write it (`100ms`, `1.5s`, `2m`, `1h`): whole hours or minutes
/// in those units, otherwise seconds from one second up and milliseconds below, with only
/// the decimals it has. For messages that quote a plan's value (`delay 100ms`, not the
/// report's `100.00ms`).
pub fn natural(d: Duration) -> String {
    const NS_PER_S: u128 = 1_000_000_000;
    const NS_PER_MS: u128 = 1_000_000;
    let ns = d.as_nanos();
    for (unit, per) in [("h", 3600 * NS_PER_S), ("m", 60 * NS_PER_S)] {
        if ns > 0 && ns.is_multiple_of(per) {
            return format!("{}{unit}", ns / per);
        }
    }
    let (per, unit, digits) = if ns >= NS_PER_S {
        (NS_PER_S, "s", 9)
    } else {
        (NS_PER_MS, "ms", 6)
    };
    let whole = ns / per;
    let fraction = ns % per;
    if fraction == 0 {
        return format!("{whole}{unit}");
    }
    let decimals = format!("{fraction:0digits$}");
    format!("{whole}.{}{unit}", decimals.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok: &[(&str, u64)] = &[
            ("30", 30_000),
            ("0", 0),
            ("500ms", 500),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("1m30s", 90_000),
            ("1.5s", 1_500),
            (" 2s ", 2_000),
            // A bare number is seconds, a fraction too (`-d 1.5` used to want a unit).
            ("1.5", 1_500),
            ("0.25", 250),
            (".5", 500),
            ("2.", 2_000),
            // The long spellings of seconds and minutes.
            ("10sec", 10_000),
            ("1min", 60_000),
            ("1min30sec", 90_000),
        ];
        for &(text, ms) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in [
            "", "-1", "s", "10x", "1.2.3s", "3 s", "ms10", "1e99h", "1.2.3", ".", "1e3", "-1.5",
            "1m30",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(
            parse_duration("1m30"),
            Err(
                "invalid duration \"1m30\": a unit is needed after 30: in a sum every number \
                 has one (us, ms, s, m, h), as in 1m30s"
                    .into()
            )
        );
        // A fraction of seconds has the bound of every other form, and zero is zero.
        assert!(
            parse_duration("1000000000.5")
                .unwrap_err()
                .contains("out of range")
        );
        assert_eq!(parse_duration("0.0"), Ok(Duration::ZERO));
        assert!(parse_positive_duration("0.0").is_err());
        // Microseconds, for the knobs that live there (`--spin-before-park 20us`).
        for (text, us) in [
            ("20us", 20),
            ("20µs", 20),
            ("1ms500us", 1_500),
            ("0.5us", 0),
        ] {
            assert_eq!(
                parse_duration(text).map(|d| d.as_micros()),
                Ok(us),
                "{text}"
            );
        }
        assert_eq!(
            parse_duration("-5s"),
            Err("invalid duration \"-5s\": a duration cannot be negative".into())
        );
        // Each unit once, largest first: a repeated or reversed unit is a typo.
        assert_eq!(
            parse_duration("1h2m3s4ms5us").map(|d| d.as_micros()),
            Ok(3_723_004_005)
        );
        for bad in ["1m1m", "1s1h", "30s1m", "1ms1s", "1min1m", "1s1sec"] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.contains("each unit once"), "{bad}: {err}");
        }
    }

    #[test]
    fn natural_is_as_a_plan_writes_it() {
        for (ms, text) in [
            (100, "100ms"),
            (1, "1ms"),
            (1_500, "1.5s"),
            (1_000, "1s"),
            (90_000, "90s"),
            (120_000, "2m"),
            (3_600_000, "1h"),
            (5_400_000, "90m"),
            (2_250, "2.25s"),
        ] {
            assert_eq!(natural(Duration::from_millis(ms)), text, "{ms}ms");
        }
        assert_eq!(natural(Duration::from_micros(500)), "0.5ms");
        assert_eq!(natural(Duration::from_micros(250_500)), "250.5ms");
        assert_eq!(natural(Duration::from_nanos(1)), "0.000001ms");
        assert_eq!(natural(Duration::ZERO), "0ms");
        // What it prints reads back as the same duration.
        for ms in [100, 1_500, 90_000, 120_000, 3_600_000, 2_250] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_duration(&natural(d)), Ok(d), "{ms}ms");
        }
    }

    #[test]
    fn every_form_has_the_same_bound() {
        // The largest of each form is taken...
        for text in [
            "1000000000",
            "1000000000.0",
            "1000000000s",
            "16666666m40s",
            "277777h46m40s",
        ] {
            assert_eq!(parse_duration(text), Ok(MAX_DURATION), "{text}");
        }
        // ... and one more is out of range, a bare number of seconds included: it used to be
        // taken whole, and `Instant + d` panicked (or a deadline in nanoseconds wrapped).
        for text in [
            "1000000001",
            "18446744073709551615",
            "18446744074",
            "99999999999999999999999",
            "1000000001s",
            "1000000000.000001",
            "1000000000s1us",
            "277777h46m41s",
            "99999999999h",
        ] {
            let err = parse_duration(text).expect_err(text);
            assert!(
                err.contains("out of range (at most 1000000000 seconds"),
                "{text}: {err}"
            );
            let err = parse_positive_duration(text).expect_err(text);
            assert!(err.contains("out of range"), "{text}: {err}");
        }
        // Every duration is a deadline somewhere: the largest one must not overflow.
        let now = std::time::Instant::now();
        assert!(now.checked_add(MAX_DURATION).is_some());
        assert!(u64::try_from(MAX_DURATION.as_nanos()).is_ok_and(|n| n < u64::MAX / 4));
    }
}
