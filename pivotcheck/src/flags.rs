//! Flag values checked at the edge: each parser names what it expected, clap names the
//! flag, and the process exits 2 before any work starts. A value that would overflow,
//! wrap around or mean "nothing" (zero runs, zero states) is refused, never clamped.

use std::time::Duration;

/// The longest time limit accepted: about 31 years, so that adding it to the clock
/// cannot overflow.
pub const MAX_SECONDS: f64 = 1e9;
/// More search threads than this only add overhead on any machine we know.
pub const MAX_THREADS: usize = 1024;
/// The largest memory limit in MiB whose value in bytes fits in 64 bits.
pub const MAX_MEMORY_MIB: u64 = u64::MAX >> 20;

/// A positive, finite number of seconds, at most [`MAX_SECONDS`].
pub fn seconds(text: &str) -> Result<Duration, String> {
    let expected = format!("expected a number of seconds above 0 and at most {MAX_SECONDS:e}");
    let s: f64 = text.parse().map_err(|_| expected.clone())?;
    if !(s.is_finite() && s > 0.0 && s <= MAX_SECONDS) {
        return Err(expected);
    }
    Duration::try_from_secs_f64(s).map_err(|_| expected)
}

/// A switch: `on` or `off`.
pub fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("expected on or off".into()),
    }
}

/// A number of search threads, 1 to [`MAX_THREADS`].
pub fn threads(text: &str) -> Result<usize, String> {
    count(text, MAX_THREADS as u64, "threads").map(|n| n as usize)
}

/// A memory limit in MiB, 1 to [`MAX_MEMORY_MIB`], returned in bytes.
pub fn memory_mib(text: &str) -> Result<u64, String> {
    count(text, MAX_MEMORY_MIB, "MiB").map(|m| m << 20)
}

/// A number of states, at least 1.
pub fn states(text: &str) -> Result<usize, String> {
    count(text, usize::MAX as u64, "states").map(|n| n as usize)
}

/// A number of runs, at least 1.
pub fn runs(text: &str) -> Result<u64, String> {
    count(text, u64::MAX, "runs")
}

/// A number of steps per run, at least 1.
pub fn depth(text: &str) -> Result<usize, String> {
    count(text, usize::MAX as u64, "steps").map(|n| n as usize)
}

/// A whole number from 1 to `max`.
fn count(text: &str, max: u64, unit: &str) -> Result<u64, String> {
    let expected = || format!("expected a whole number of {unit} from 1 to {max}");
    match text.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(expected()),
    }
}

/// A seed is a decimal number, or a 40-hex commit hash (its first 16 hex digits), so that
/// CI runs vary by commit and stay reproducible.
pub fn seed(text: &str) -> Result<u64, String> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    if text.len() == 40 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        return u64::from_str_radix(&text[..16], 16).map_err(|e| e.to_string());
    }
    Err(format!(
        "expected a number from 0 to {} or a 40-hex commit hash",
        u64::MAX
    ))
}

/// `--shard I/N`: the I-th of N slices of a simulation's runs, I from 1 to N.
pub fn shard(text: &str) -> Result<sim::simulate::Shard, String> {
    let expected = "expected I/N with whole numbers 1 <= I <= N, e.g. 2/4";
    let (i, n) = text.split_once('/').ok_or_else(|| expected.to_string())?;
    match (i.trim().parse::<u64>(), n.trim().parse::<u64>()) {
        (Ok(i), Ok(n)) if (1..=n).contains(&i) => Ok(sim::simulate::Shard {
            index: i - 1,
            count: n,
        }),
        _ => Err(expected.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_would_overflow_wrap_or_mean_nothing_are_refused() {
        assert!(seconds("1e20").is_err());
        assert!(seconds("0").is_err());
        assert!(seconds("NaN").is_err());
        assert!(seconds("inf").is_err());
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(threads("18446744073709551615").is_err());
        assert!(threads("0").is_err());
        assert_eq!(threads("2"), Ok(2));
        assert!(memory_mib("17592186044416").is_err());
        assert!(memory_mib("0").is_err());
        assert_eq!(
            memory_mib(&MAX_MEMORY_MIB.to_string()),
            Ok(MAX_MEMORY_MIB << 20)
        );
        assert_eq!(memory_mib("1"), Ok(1 << 20));
        assert!(states("0").is_err());
        assert!(runs("0").is_err());
        assert!(depth("0").is_err());
        assert_eq!(seed("7"), Ok(7));
        assert_eq!(seed(&"ab".repeat(20)), Ok(0xabab_abab_abab_abab));
        assert!(seed("x").is_err());
    }
}
