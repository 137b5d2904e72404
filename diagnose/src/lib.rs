//! `pivotcheck diagnose`: trace validation of a real incident against the model.
//!
//! A libvirtd debug log ([`log`]) is turned into the sequence of what libvirtd observably
//! did to one domain's copy (commands sent, replies and events read, restarts), in the
//! model's words ([`mapping`], the one table). The search explores the product of the
//! model's state space and the position in that sequence: an observable model step must
//! equal the next log entry, a hidden one (QEMU's progress, guest writes and power-off,
//! libvirtd's local steps and its crash) may happen anywhere. The states reached at the
//! end of the log, filtered by the status and persistent XML ([`xml`]), are every state
//! the system can be in now; the answer groups them by what matters to an operator.
//!
//! Windows are named when a crash or a power-off strikes ([`window_at`]), with the
//! names of `reports/live-findings.md`; a behaviour keeps its most serious one.

pub mod capture;
pub mod log;
pub mod mapping;
pub mod render;
pub mod xml;

use std::collections::{HashMap, VecDeque};

use mapping::{EventPattern, Seen};
use model::action::{Action, FaultKind};
use model::state::{Domain, MirrorState, World};
use model::{presets, Config, Image};
use serde::Serialize;

/// Bad input: the message says what was wrong and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `diagnose` reads.
pub struct Input<'a> {
    pub log: &'a str,
    pub status_xml: Option<&'a str>,
    pub config_xml: Option<&'a str>,
    /// The model preset (`libvirt-9.0`, ...).
    pub preset: &'a str,
    /// Stop after this many product states (the search is then incomplete).
    pub max_states: usize,
    /// libvirtd runs now (the operator read the XML through it): a crash after the log's
    /// last line is not a behaviour to consider. `false` when the log ends with libvirtd's
    /// death and no restart.
    pub libvirtd_up: bool,
}

/// One observable log entry in model words.
#[derive(Clone, Debug)]
pub struct Observed {
    pub line: usize,
    pub time: String,
    pub seen: Seen,
    /// The log line's message, short, for reports.
    pub text: String,
}

/// One step of the nearest (or a consistent) behaviour: the model action and the log
/// line it explains (hidden steps explain none).
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub action: String,
    pub label: String,
    pub line: Option<usize>,
}

/// The answer (`reports/README.md` documents its JSON).
#[derive(Clone, Debug, Serialize)]
pub struct Diagnosis {
    pub consistent: bool,
    pub windows: Vec<String>,
    pub qemu: String,
    pub data_on: String,
    pub libvirt_says: String,
    pub first_unexplained_line: Option<usize>,
    pub states: usize,
    pub complete: bool,
    /// Not in the contract's core: the domain, the preset, the observable entries read
    /// and why the answer is what it is.
    pub domain: String,
    pub preset: String,
    pub observed: usize,
    pub advice: String,
    pub reason: Option<String>,
    /// A shortest behaviour explaining the whole log (consistent), or the one that got
    /// furthest (inconsistent).
    pub behaviour: Vec<Step>,
    /// The same behaviour as model actions and the states along it (the initial state
    /// first), for diagrams.
    #[serde(skip)]
    pub path: Vec<Action>,
    #[serde(skip)]
    pub path_states: Vec<World>,
    #[serde(skip)]
    pub config: Option<Config>,
}

/// The model configuration a log is matched against: the preset's procedures, the live
/// suite's QEMU, libvirtd crashes and guest power-offs at any time (QEMU and host crashes
/// are not searched: their EOF and missing process would need more log lines than are read).
pub fn config(preset: &str, persistent: bool) -> Result<Config, InputError> {
    presets::live_setup(preset, persistent, 1).ok_or_else(|| {
        InputError(format!(
            "unknown preset {preset:?}; expected one of {}",
            presets::PRESET_NAMES.join(", ")
        ))
    })
}

/// The observable entries of `domain`'s copy, from the copy's start on, in model words.
pub fn observe(
    log: &log::Log,
    domain: &str,
    cfg: &Config,
) -> Result<(Vec<Observed>, String), InputError> {
    use log::Kind;
    let mine = |mon: &str| log.domain_of(mon) == Some(domain);
    // The copy's start: the reply to blockdev-mirror / drive-mirror.
    let mut job: Option<String> = None;
    let mut target_node: Option<String> = None;
    let mut pending: HashMap<String, (String, serde_json::Value)> = HashMap::new();
    let mut nodes: HashMap<String, serde_json::Value> = HashMap::new();
    let mut out = Vec::new();
    let mut last_error: Option<bool> = None;
    let pauses = mapping::preset_sends(cfg, model::Command::Stop)
        || mapping::preset_sends(cfg, model::Command::Cont);
    for e in &log.entries {
        let started = job.is_some();
        let seen = match &e.kind {
            Kind::DaemonStart { .. } => started.then_some(Seen::Restart),
            Kind::DomainStop { domain: d } => (started && d == domain).then_some(Seen::Stop),
            Kind::Cut { mon } if mine(mon) => started.then_some(Seen::Cut),
            Kind::Sent {
                mon,
                execute,
                id,
                arguments,
            } if mine(mon) => {
                if let Some(i) = id {
                    pending.insert(i.clone(), (execute.clone(), arguments.clone()));
                }
                if execute == "blockdev-add" {
                    if let Some(n) = arguments.get("node-name").and_then(|v| v.as_str()) {
                        nodes.insert(n.to_string(), arguments.clone());
                    }
                }
                match &job {
                    Some(j) => of_copy(cfg, execute, arguments, j).map(Seen::Sent),
                    None => None,
                }
            }
            Kind::Reply { mon, id, reply } if mine(mon) => {
                let sent = id.as_ref().and_then(|i| pending.remove(i));
                let Some((execute, args)) = sent else {
                    continue;
                };
                if job.is_none()
                    && matches!(execute.as_str(), "blockdev-mirror" | "drive-mirror")
                    && reply.get("return").is_some()
                {
                    job = args
                        .get("job-id")
                        .or_else(|| args.get("device"))
                        .and_then(|v| v.as_str())
                        .map(str::to_string);
                    target_node = args
                        .get("target")
                        .and_then(|v| v.as_str())
                        .map(str::to_string);
                    continue;
                }
                match (
                    &job,
                    of_copy(cfg, &execute, &args, job.as_deref().unwrap_or("")),
                ) {
                    (Some(j), Some(c)) => {
                        let p = mapping::reply_pattern(c, reply, j)
                            .map_err(|m| InputError(format!("line {}: {m}", e.line)))?;
                        Some(Seen::Reply(c, p))
                    }
                    _ => None,
                }
            }
            Kind::Event { mon, event, data } if mine(mon) => match &job {
                Some(j) => {
                    let of_job = data.get("device").and_then(|v| v.as_str()) == Some(j.as_str())
                        || data.get("id").and_then(|v| v.as_str()) == Some(j.as_str());
                    if of_job && event == "BLOCK_JOB_COMPLETED" {
                        last_error = Some(data.get("error").is_some());
                    }
                    if of_job && event == "BLOCK_JOB_CANCELLED" {
                        last_error = Some(true);
                    }
                    let p = mapping::event_of(event, data, j, last_error);
                    if matches!(p, Some(EventPattern::Concluded(_))) {
                        last_error = None;
                    }
                    match p {
                        Some(EventPattern::Stop | EventPattern::Resume) if !pauses => None,
                        p => p.map(Seen::Event),
                    }
                }
                None => None,
            },
            _ => None,
        };
        if let Some(seen) = seen {
            out.push(Observed {
                line: e.line,
                time: e.time.clone(),
                seen,
                text: describe(&e.kind),
            });
        }
    }
    if job.is_none() {
        return Err(InputError(format!(
            "the log shows no block copy of domain {domain:?} starting (a successful `blockdev-mirror` or `drive-mirror`); diagnose needs the log from before the copy started"
        )));
    }
    // The target image's file: follow the target node's `file` references.
    let mut target = String::new();
    let mut node = target_node.clone();
    for _ in 0..8 {
        let Some(n) = node.take() else { break };
        match nodes.get(&n) {
            Some(a) => {
                if let Some(f) = a.get("filename").and_then(|v| v.as_str()) {
                    target = f.to_string();
                    break;
                }
                node = a.get("file").and_then(|v| v.as_str()).map(str::to_string);
            }
            None => {
                // drive-mirror: the target is a file name.
                target = n;
                break;
            }
        }
    }
    Ok((out, target))
}

/// The model command a real command stands for, if the preset sends it and, for the job
/// verbs, it is about the copy job `job` (not the image-creation job libvirt also runs).
fn of_copy(
    cfg: &Config,
    execute: &str,
    arguments: &serde_json::Value,
    job: &str,
) -> Option<model::Command> {
    let c = mapping::command_of(execute).filter(|c| mapping::preset_sends(cfg, *c))?;
    let about = arguments
        .get("id")
        .or_else(|| arguments.get("device"))
        .and_then(|v| v.as_str());
    let job_verb = matches!(
        execute,
        "job-complete" | "job-dismiss" | "job-finalize" | "block-job-complete" | "block-job-cancel"
    );
    (!job_verb || about == Some(job)).then_some(c)
}

fn describe(k: &log::Kind) -> String {
    let short = |v: &serde_json::Value| {
        let s = v.to_string();
        if s.len() > 120 {
            format!(
                "{}...",
                &s[..s.char_indices().nth(117).map_or(s.len(), |(i, _)| i)]
            )
        } else {
            s
        }
    };
    match k {
        log::Kind::DaemonStart { version } => format!("libvirtd {version} starts"),
        log::Kind::DomainStop { domain } => format!("libvirtd stops domain {domain}"),
        log::Kind::Cut { .. } => "a monitor line cut by the crash".into(),
        log::Kind::Sent {
            execute, arguments, ..
        } => format!("sent {execute} {}", short(arguments)),
        log::Kind::Reply { reply, .. } => format!("reply {}", short(reply)),
        log::Kind::Event { event, data, .. } => format!("event {event} {}", short(data)),
    }
}

/// Window names, least serious first; new windows (named by their step) rank above
/// `none` and below `W1`.
const KNOWN: [&str; 5] = ["W1", "W2", "W3", "W2b", "none"];

fn rank(name: &str) -> u8 {
    match name {
        "none" => 0,
        "W1" => 2,
        "W2" => 3,
        "W3" => 4,
        "W2b" => 5,
        _ => 1,
    }
}

/// The window a crash or power-off taken in `w` falls into, if it is one: the status XML
/// libvirtd leaves disagrees with where QEMU runs (or will run once its job finishes).
/// `W2b`: the record is unloadable; `W1`: it still says `ready` (or copying) after QEMU
/// took the pivot command; `W2`: it says `pivoting` but QEMU's job is gone; `W3`: the guest
/// powered off while libvirtd was down (or before it handled the power-off and crashed)
/// and the record says source while QEMU switched.
/// Any other disagreement is named after libvirtd's step (`in-pivot-at-save-status`).
pub fn window_at(cfg: &Config, w: &World, a: Action) -> Option<String> {
    let l = &w.libvirtd;
    let switching = w.qemu.alive
        && (w.qemu.active == Image::Target
            || w.qemu
                .job
                .as_ref()
                .is_some_and(|j| j.should_complete && !j.error));
    match a {
        Action::Fault(FaultKind::LibvirtdCrash | FaultKind::HostCrash) => {
            if l.status_unloadable {
                return Some("W2b".into());
            }
            let st = l.status?;
            if !switching || st.source != Image::Source {
                return None;
            }
            // The guest powered off and libvirtd has not killed QEMU yet: the restart
            // finishes the shutdown before it looks at jobs, as after a power-off while down.
            if w.qemu.run_state == model::state::RunState::Shutdown {
                return Some("W3".into());
            }
            Some(match st.mirror {
                Some(MirrorState::Pivoting) if w.qemu.job.is_none() => "W2".into(),
                Some(MirrorState::Pivoting) => return None,
                Some(MirrorState::Ready | MirrorState::Copying) => "W1".into(),
                None => match (l.program, l.current_step(&cfg.procedures)) {
                    (Some(p), Some(s)) => format!("in-{}-at-{}", p.kind.name(), s.name()),
                    _ => "after-the-pivot".into(),
                },
            })
        }
        Action::Fault(FaultKind::GuestPowerOff) if !l.up => {
            let st = l.status?;
            (switching && !l.status_unloadable && st.source == Image::Source).then(|| "W3".into())
        }
        _ => None,
    }
}

/// A node of the product: a model state, how many log entries it explained, its window.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Node {
    w: World,
    pos: u32,
    window: u8,
    /// The command in flight was sent without a log line ([`mapping::optional`]): its
    /// reply is read without one too.
    quiet: bool,
}

/// A node's parent and the action from it (`None`: a cut log line read as nothing).
type Parent = (usize, Option<Action>);

/// Whether a final model state fits the status and persistent XML.
fn fits_xml(
    w: &World,
    status: Option<&xml::DiskRecord>,
    config: Option<&xml::DiskRecord>,
    image: &dyn Fn(&str) -> Image,
) -> bool {
    let l = &w.libvirtd;
    if let Some(s) = status {
        let ok = if s.unloadable {
            l.status_unloadable || l.domain != Domain::Active
        } else {
            l.domain == Domain::Active
                && l.status.is_some_and(|d| {
                    d.source == image(&s.source)
                        && matches!(
                            (&d.mirror, s.mirror.as_deref()),
                            (None, None)
                                | (Some(MirrorState::Ready), Some("yes"))
                                | (Some(MirrorState::Pivoting), Some("pivot"))
                                | (Some(MirrorState::Copying), Some(""))
                        )
                })
        };
        if !ok {
            return false;
        }
    }
    if let Some(c) = config {
        if l.domain == Domain::Gone || l.config_source != image(&c.source) {
            return false;
        }
    }
    true
}

/// Runs the diagnosis. `Err`: bad input (exit 2).
pub fn diagnose(input: &Input) -> Result<Diagnosis, InputError> {
    let parsed = log::parse(input.log).map_err(|e| InputError(format!("the log, {e}")))?;
    let status = input
        .status_xml
        .map(xml::read)
        .transpose()
        .map_err(|e| InputError(format!("the status XML: {e}")))?;
    let config_rec = input
        .config_xml
        .map(xml::read)
        .transpose()
        .map_err(|e| InputError(format!("the persistent XML: {e}")))?;
    if parsed.monitors.is_empty()
        || !parsed
            .entries
            .iter()
            .any(|e| !matches!(e.kind, log::Kind::DaemonStart { .. }))
    {
        return Err(InputError(
            "the log has no monitor traffic (no `Entering monitor` / `QEMU_MONITOR_IO_WRITE` / `QEMU_MONITOR_RECV_*` lines); libvirtd must log with log_filters=\"1:qemu 1:libvirt\" (see README, After an incident)".into(),
        ));
    }
    let domains = parsed.domains();
    let named = status
        .as_ref()
        .or(config_rec.as_ref())
        .map(|r| r.domain.clone());
    let domain = match named {
        Some(d) => {
            if !domains.contains(&d) {
                return Err(InputError(format!(
                    "the log has no monitor traffic of domain {d:?} named by the XML (it has: {})",
                    domains.join(", ")
                )));
            }
            d
        }
        None if domains.len() == 1 => domains[0].clone(),
        None => {
            return Err(InputError(format!(
                "the log has several domains ({}); give --status-xml or --config-xml to say which",
                domains.join(", ")
            )))
        }
    };
    if let (Some(s), Some(c)) = (&status, &config_rec) {
        if s.domain != c.domain {
            return Err(InputError(format!(
                "the status XML is of domain {:?}, the persistent XML of {:?}",
                s.domain, c.domain
            )));
        }
    }
    let cfg = config(input.preset, config_rec.is_some())?;
    let (obs, target) = observe(&parsed, &domain, &cfg)?;
    let image = |path: &str| {
        if !target.is_empty() && path == target {
            Image::Target
        } else {
            Image::Source
        }
    };
    Ok(search(
        &cfg,
        &obs,
        status.as_ref(),
        config_rec.as_ref(),
        &image,
        input,
        domain,
    ))
}

fn search(
    cfg: &Config,
    obs: &[Observed],
    status: Option<&xml::DiskRecord>,
    config_rec: Option<&xml::DiskRecord>,
    image: &dyn Fn(&str) -> Image,
    input: &Input,
    domain: String,
) -> Diagnosis {
    let mut names: Vec<String> = vec!["none".into()];
    let mut index: HashMap<Node, usize> = HashMap::new();
    // Each node with its parent and the action that led to it (`None`: a cut log line
    // read as nothing).
    let mut nodes: Vec<(Node, Option<Parent>)> = Vec::new();
    let mut queue = VecDeque::new();
    let start = Node {
        w: model::world::init(cfg),
        pos: 0,
        window: 0,
        quiet: false,
    };
    index.insert(start.clone(), 0);
    nodes.push((start, None));
    queue.push_back(0usize);
    let mut complete = true;
    let mut furthest = 0usize;
    let mut actions = Vec::new();
    while let Some(i) = queue.pop_front() {
        let node = nodes[i].0.clone();
        if node.pos as usize > nodes[furthest].0.pos as usize {
            furthest = i;
        }
        // A cut line may stand for nothing at all.
        if matches!(obs.get(node.pos as usize).map(|o| &o.seen), Some(Seen::Cut)) {
            let n = Node {
                pos: node.pos + 1,
                ..node.clone()
            };
            if !index.contains_key(&n) {
                if nodes.len() >= input.max_states {
                    complete = false;
                } else {
                    index.insert(n.clone(), nodes.len());
                    nodes.push((n, Some((i, None))));
                    queue.push_back(nodes.len() - 1);
                }
            }
        }
        actions.clear();
        model::world::actions(cfg, &node.w, &mut actions);
        for &a in &actions {
            let next = model::world::next_state(cfg, &node.w, a).expect("total");
            let mut quiet = node.quiet;
            let pos = match mapping::shown(&node.w, a, &next) {
                None => node.pos,
                Some(mapping::Shown::Reply(c, _))
                    if node.quiet && node.w.libvirtd.awaiting == Some(c) =>
                {
                    quiet = false;
                    node.pos
                }
                Some(s) => match obs.get(node.pos as usize) {
                    Some(o) if mapping::fits(&s, &o.seen) => node.pos + 1,
                    _ => match s {
                        mapping::Shown::Sent(c) if mapping::optional(c) => {
                            quiet = true;
                            node.pos
                        }
                        _ => continue,
                    },
                },
            };
            let mut window = node.window;
            if let Some(name) = window_at(cfg, &node.w, a) {
                let k = match names.iter().position(|n| *n == name) {
                    Some(k) => k,
                    None => {
                        names.push(name.clone());
                        names.len() - 1
                    }
                };
                if rank(&names[k]) > rank(&names[window as usize]) {
                    window = k as u8;
                }
            }
            let n = Node {
                w: next,
                pos,
                window,
                quiet,
            };
            if index.contains_key(&n) {
                continue;
            }
            if nodes.len() >= input.max_states {
                complete = false;
                continue;
            }
            index.insert(n.clone(), nodes.len());
            nodes.push((n, Some((i, Some(a)))));
            queue.push_back(nodes.len() - 1);
        }
    }
    let end = obs.len() as u32;
    let finals: Vec<usize> = (0..nodes.len())
        .filter(|&i| {
            let n = &nodes[i].0;
            n.pos == end
                && n.w.libvirtd.up == input.libvirtd_up
                && fits_xml(&n.w, status, config_rec, image)
        })
        .collect();
    let path = |mut i: usize| {
        let mut steps = Vec::new();
        let mut acts = Vec::new();
        let mut states = vec![nodes[i].0.w.clone()];
        while let Some((p, a)) = nodes[i].1 {
            let Some(a) = a else {
                i = p;
                continue;
            };
            acts.push(a);
            states.push(nodes[p].0.w.clone());
            let before = &nodes[p].0;
            let after = &nodes[i].0;
            let line = (after.pos > before.pos).then(|| obs[before.pos as usize].line);
            steps.push(Step {
                action: a.name(),
                label: model::describe::step_label(cfg, &before.w, a, &after.w),
                line,
            });
            i = p;
        }
        steps.reverse();
        acts.reverse();
        states.reverse();
        (steps, acts, states)
    };
    let mut d = Diagnosis {
        consistent: !finals.is_empty(),
        windows: vec![],
        qemu: "unknown".into(),
        data_on: "unknown".into(),
        libvirt_says: "unknown".into(),
        first_unexplained_line: None,
        states: 0,
        complete,
        domain,
        preset: input.preset.to_string(),
        observed: obs.len(),
        advice: String::new(),
        reason: None,
        behaviour: vec![],
        path: vec![],
        path_states: vec![],
        config: Some(cfg.clone()),
    };
    if finals.is_empty() {
        let reached = nodes[furthest].0.pos as usize;
        if reached < obs.len() {
            let o = &obs[reached];
            d.first_unexplained_line = Some(o.line);
            d.reason = Some(format!(
                "no behaviour of the model ({}) explains line {} ({}) after the {} observable line(s) before it",
                input.preset, o.line, o.text, reached
            ));
        } else {
            d.reason = Some(
                "the whole log is explained, but no behaviour ends in the state the status or persistent XML records".into(),
            );
        }
        (d.behaviour, d.path, d.path_states) = path(furthest);
        if !complete {
            d.reason = Some(format!(
                "the search stopped at {} states before it was exhaustive: nothing is decided",
                input.max_states
            ));
        }
        return d;
    }
    let mut worlds: Vec<&World> = Vec::new();
    let mut windows: Vec<&str> = Vec::new();
    for &i in &finals {
        let n = &nodes[i].0;
        if !worlds.contains(&&n.w) {
            worlds.push(&n.w);
        }
        let name = names[n.window as usize].as_str();
        if !windows.contains(&name) {
            windows.push(name);
        }
    }
    windows.sort_by_key(|n| (rank(n), KNOWN.iter().position(|k| k == n), n.to_string()));
    d.windows = windows.iter().map(|s| s.to_string()).collect();
    d.states = worlds.len();
    let one = |f: &dyn Fn(&World) -> String| {
        let first = f(worlds[0]);
        if worlds.iter().all(|w| f(w) == first) {
            first
        } else {
            "unknown".into()
        }
    };
    d.qemu = one(&|w| {
        if !w.qemu.alive {
            "gone".into()
        } else {
            w.qemu.active.to_string()
        }
    });
    let all = cfg.all_blocks();
    let src = worlds.iter().all(|w| w.storage.source == all);
    let tgt = worlds.iter().all(|w| w.storage.target == all);
    d.data_on = match (src, tgt) {
        (true, true) => "both",
        (true, false) => "source",
        (false, true) => "target",
        (false, false) => "unknown",
    }
    .into();
    d.libvirt_says = one(&|w| {
        let l = &w.libvirtd;
        match l.domain {
            Domain::Gone => "no domain".into(),
            Domain::Inactive => "shut off".into(),
            Domain::Active if l.status_unloadable && !l.up => "no domain".into(),
            Domain::Active => l
                .status
                .map(|s| s.source)
                .unwrap_or(l.live.source)
                .to_string(),
        }
    });
    d.advice = advice(&d);
    (d.behaviour, d.path, d.path_states) = path(finals[0]);
    if !complete {
        d.reason = Some(format!(
            "the search stopped at {} states before it was exhaustive: the states listed may not be all",
            input.max_states
        ));
    }
    d
}

/// What the app should do, from the grouped answer.
fn advice(d: &Diagnosis) -> String {
    let data = d.data_on.as_str();
    let says = d.libvirt_says.as_str();
    match (data, says) {
        ("unknown", _) => "the log does not decide which image holds every acknowledged write: inspect both images before using either; do not start the domain".into(),
        ("both", _) => "both images hold every acknowledged write".into(),
        (img, s) if s == img => format!("libvirt's record ({s}) holds every acknowledged write: nothing to repair"),
        (img, "shut off") => format!("the persistent config may name the wrong image: redefine the domain on the {img} before `virsh start`; do not start a stale config"),
        (img, "no domain") => format!("libvirt has lost the domain: use the {img} image (QEMU may still run unmanaged: stop it, then define the domain on the {img})"),
        (img, s) => format!("libvirt says {s} but every acknowledged write is on the {img}: use the {img}; redefine the config on it; do not `virsh start` the {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::state::{DiskDef, JobStatus, Program, ProgramKind, RunState};

    /// libvirt 9.0 after QEMU switched to the target, its record still saying source.
    fn switched(record: Option<MirrorState>) -> (Config, World) {
        let cfg = config("libvirt-9.0", false).unwrap();
        let mut w = model::world::init(&cfg);
        w.ghost.pivot_sent = true;
        w.qemu.active = Image::Target;
        w.qemu.job.as_mut().unwrap().status = JobStatus::Concluded;
        let def = DiskDef {
            source: Image::Source,
            mirror: record,
            paused_by_libvirt: false,
        };
        w.libvirtd.status = Some(def);
        w.libvirtd.live = def;
        (cfg, w)
    }

    const CRASH: Action = Action::Fault(FaultKind::LibvirtdCrash);
    const POWEROFF: Action = Action::Fault(FaultKind::GuestPowerOff);

    #[test]
    fn windows_are_named_by_the_record_and_qemu_at_the_crash() {
        let (cfg, w) = switched(Some(MirrorState::Ready));
        assert_eq!(window_at(&cfg, &w, CRASH).as_deref(), Some("W1"));
        // A `pivoting` record over a concluded job: the restart finishes the pivot.
        let (cfg, w) = switched(Some(MirrorState::Pivoting));
        assert_eq!(window_at(&cfg, &w, CRASH), None);
        // ... over no job at all: W2.
        let (cfg, mut w) = switched(Some(MirrorState::Pivoting));
        w.qemu.job = None;
        assert_eq!(window_at(&cfg, &w, CRASH).as_deref(), Some("W2"));
        // An unloadable record: W2b, whatever else holds.
        w.libvirtd.status_unloadable = true;
        assert_eq!(window_at(&cfg, &w, CRASH).as_deref(), Some("W2b"));
        // A power-off while libvirtd is down, QEMU on the target, the record on the source.
        let (cfg, mut w) = switched(Some(MirrorState::Ready));
        w.libvirtd.up = false;
        assert_eq!(window_at(&cfg, &w, POWEROFF).as_deref(), Some("W3"));
        // ... or a power-off libvirtd had not handled when it crashed.
        let (cfg, mut w) = switched(Some(MirrorState::Ready));
        w.qemu.run_state = RunState::Shutdown;
        assert_eq!(window_at(&cfg, &w, CRASH).as_deref(), Some("W3"));
        // QEMU still on the source and not switching: no window.
        let (cfg, mut w) = switched(Some(MirrorState::Ready));
        w.qemu.active = Image::Source;
        w.qemu.job.as_mut().unwrap().status = JobStatus::Ready;
        assert_eq!(window_at(&cfg, &w, CRASH), None);
        // ... but once QEMU took job-complete it will switch: W1.
        w.qemu.job.as_mut().unwrap().should_complete = true;
        assert_eq!(window_at(&cfg, &w, CRASH).as_deref(), Some("W1"));
        // A power-off with libvirtd up is no window (libvirtd handles it).
        let (cfg, w) = switched(Some(MirrorState::Ready));
        assert_eq!(window_at(&cfg, &w, POWEROFF), None);
    }

    #[test]
    fn a_window_no_known_name_fits_is_named_by_its_step() {
        // A record with no mirror at all saying source while QEMU switched.
        let (cfg, mut w) = switched(None);
        w.libvirtd.program = Some(Program {
            kind: ProgramKind::Pivot,
            pc: 10,
            disk: 0,
        });
        let step = w.libvirtd.current_step(&cfg.procedures).unwrap();
        assert_eq!(
            window_at(&cfg, &w, CRASH),
            Some(format!("in-pivot-at-{}", step.name()))
        );
        w.libvirtd.program = None;
        assert_eq!(
            window_at(&cfg, &w, CRASH).as_deref(),
            Some("after-the-pivot")
        );
        // Ranks: the new name sits between none and W1.
        assert!(rank("none") < rank("in-pivot-at-x") && rank("in-pivot-at-x") < rank("W1"));
        assert!(rank("W1") < rank("W2") && rank("W2") < rank("W3") && rank("W3") < rank("W2b"));
    }
}
