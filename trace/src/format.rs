//! The one trace format, shared by checker counterexamples and simulation failures.
//!
//! A trace is the scenario (embedded, so it replays without the original file), the seed
//! where there is one, and the chosen actions as indices into the model's ordered list of
//! enabled actions, each with a readable label. Replay re-derives every state from the
//! indices and checks each step's action, actor and label against the model
//! ([`crate::decode`]), so a trace of another model version is refused, not misread.

use model::{FaultKind, PerFault};
use serde::{Deserialize, Serialize};

/// The `format` field of every trace file.
pub const FORMAT: &str = "pivotcheck-trace";
/// Bumped whenever a field's meaning changes.
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub format: String,
    pub version: u32,
    pub scenario: EmbeddedScenario,
    /// The simulation seed of the run that found it; `null` for checker counterexamples.
    pub seed: Option<u64>,
    /// Swarm simulation only: which of the scenario's faults this run kept enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmFaults>,
    /// The property the trace violates (an `always` property) or reaches (`sometimes`).
    pub property: Option<String>,
    pub kind: Option<String>,
    pub steps: Vec<TraceStep>,
    /// Liveness violations only: the number of steps before the cycle. The steps after
    /// it form a cycle that returns to the state reached after those steps and repeats
    /// for ever; equal to the number of steps when the last state stays for ever
    /// (nothing owed under fairness is enabled there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle_start: Option<usize>,
}

/// The fault switches a swarm run drew: `false` turns off a fault the scenario enables;
/// `true` keeps the scenario's setting (a swarm never enables a fault the scenario left off).
/// In a trace: an object with one boolean per fault, keyed by the `[faults]` keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwarmFaults(pub PerFault<bool>);

impl Serialize for SwarmFaults {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // `app_crash` is written only when on: a trace whose run never drew it reads as
        // it did before the app could crash, and reading it back gives the switch off.
        let written = |&(kind, on): &(FaultKind, bool)| kind != FaultKind::AppCrash || on;
        let n = self.0.iter().filter(written).count();
        let mut map = serializer.serialize_map(Some(n))?;
        for (kind, on) in self.0.iter().filter(written) {
            map.serialize_entry(kind.key(), &on)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SwarmFaults {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Switches;
        impl<'de> serde::de::Visitor<'de> for Switches {
            type Value = SwarmFaults;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object with a boolean for each fault")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SwarmFaults, A::Error> {
                use serde::de::Error;
                const KEYS: [&str; 5] = [
                    "libvirtd_crash",
                    "guest_poweroff",
                    "qemu_crash",
                    "host_crash",
                    "app_crash",
                ];
                let mut seen: PerFault<Option<bool>> = PerFault::default();
                while let Some(key) = map.next_key::<String>()? {
                    let kind = FaultKind::ALL
                        .into_iter()
                        .find(|k| k.key() == key)
                        .ok_or_else(|| A::Error::unknown_field(&key, &KEYS))?;
                    if seen[kind].is_some() {
                        return Err(A::Error::custom(format_args!("duplicate field `{key}`")));
                    }
                    seen[kind] = Some(map.next_value()?);
                }
                let mut out = PerFault::default();
                for (kind, on) in seen.iter() {
                    // Traces written before the app could crash have no `app_crash`
                    // switch: their runs never drew it, which is the switch off.
                    let written_before = kind == FaultKind::AppCrash;
                    out[kind] = match on {
                        Some(on) => on,
                        None if written_before => false,
                        None => return Err(A::Error::missing_field(kind.key())),
                    };
                }
                Ok(SwarmFaults(out))
            }
        }
        deserializer.deserialize_map(Switches)
    }
}

impl SwarmFaults {
    /// Turns off the faults this run drew as off.
    pub fn apply(&self, faults: &mut model::Faults) {
        for (kind, on) in self.0.iter() {
            if !on {
                faults[kind] = model::Fault::Off;
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedScenario {
    pub name: String,
    pub file: String,
    /// The scenario file's text, verbatim.
    pub toml: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceStep {
    /// Index of the action among the actions enabled in the state before the step.
    pub index: usize,
    /// The action's stable name (`LibvirtdStep`, `GuestWrite(0)`, ...).
    pub action: String,
    pub actor: String,
    /// What happened, in words.
    pub label: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_switches_keep_their_json_shape() {
        let mut on = PerFault::from_fn(|_| true);
        on[FaultKind::QemuCrash] = false;
        on[FaultKind::AppCrash] = false;
        let text = serde_json::to_string(&SwarmFaults(on)).unwrap();
        assert_eq!(
            text,
            r#"{"libvirtd_crash":true,"guest_poweroff":true,"qemu_crash":false,"host_crash":true}"#
        );
        assert_eq!(
            serde_json::from_str::<SwarmFaults>(&text).unwrap(),
            SwarmFaults(on)
        );
        // A run that drew the app's crash on says so, and reads back the same.
        on[FaultKind::AppCrash] = true;
        let text = serde_json::to_string(&SwarmFaults(on)).unwrap();
        assert_eq!(
            text,
            r#"{"libvirtd_crash":true,"guest_poweroff":true,"qemu_crash":false,"host_crash":true,"app_crash":true}"#
        );
        assert_eq!(
            serde_json::from_str::<SwarmFaults>(&text).unwrap(),
            SwarmFaults(on)
        );
    }

    #[test]
    fn swarm_switches_refuse_unknown_missing_and_repeated_keys() {
        for (bad, says) in [
            (
                r#"{"libvirtd_crash":true,"guest_poweroff":true,"qemu_crash":false,"host_crash":true,"disk":true}"#,
                "unknown field `disk`",
            ),
            (
                r#"{"libvirtd_crash":true,"guest_poweroff":true,"qemu_crash":false}"#,
                "missing field `host_crash`",
            ),
            (
                r#"{"libvirtd_crash":true,"libvirtd_crash":false,"guest_poweroff":true,"qemu_crash":false,"host_crash":true}"#,
                "duplicate field `libvirtd_crash`",
            ),
            (
                r#"{"libvirtd_crash":1,"guest_poweroff":true,"qemu_crash":false,"host_crash":true}"#,
                "expected a boolean",
            ),
        ] {
            let err = serde_json::from_str::<SwarmFaults>(bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
