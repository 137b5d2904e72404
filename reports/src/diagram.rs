//! Sequence diagrams of a path: who sends what to whom, faults as notes, the step that
//! breaks a property highlighted. One classification ([`arrows`]) feeds both the Mermaid
//! text (for Markdown on code forges) and the hand-written SVG (for the HTML report and
//! the explorer).

use model::action::{AppAction, FaultKind, GuestAction, LibvirtdAction, QemuAction};
use model::config::{AppStep, Step};
use model::describe;
use model::state::QmpMessage;
use model::{Action, Config, World};

/// The lifelines, left to right.
pub const LIFELINES: [&str; 4] = ["guest", "qemu", "libvirtd", "app"];

fn title(actor: &str) -> &str {
    match actor {
        "qemu" => "QEMU",
        other => other,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A message from one lifeline to another; `reply` draws it dashed.
    Message {
        from: &'static str,
        to: &'static str,
        reply: bool,
    },
    /// A step inside one actor.
    Local(&'static str),
    /// A fault striking an actor.
    Fault(&'static str),
}

#[derive(Clone, Debug)]
pub struct Arrow {
    pub number: usize,
    pub shape: Shape,
    /// A few words for the arrow itself.
    pub short: String,
    /// The full step label.
    pub label: String,
}

fn step_short(cfg: &Config, last: &World, action: Action, next: &World) -> (Shape, String) {
    use Shape::*;
    match action {
        // A further disk's step: drawn as disk 0's, on that disk's view, its words
        // prefixed with the disk.
        Action::Disk(d, step) => {
            let (shape, short) = step_short(cfg, &last.focused(d), step.base(), &next.focused(d));
            (shape, format!("disk {d}: {short}"))
        }
        Action::Guest(GuestAction::Write(b)) => (
            Message {
                from: "guest",
                to: "qemu",
                reply: false,
            },
            format!("write block {b}"),
        ),
        Action::Fault(FaultKind::GuestPowerOff) => (Fault("guest"), "power-off".into()),
        Action::Qemu(QemuAction::Execute) => (
            Local("qemu"),
            format!(
                "execute {}",
                last.qemu.inbox.map(|c| c.qmp_name()).unwrap_or("?")
            ),
        ),
        Action::Qemu(QemuAction::CopyRead(b)) => (Local("qemu"), format!("copy read {b}")),
        Action::Qemu(QemuAction::CopyWrite) => (Local("qemu"), "copy write".into()),
        Action::Qemu(QemuAction::JobReady) => (Local("qemu"), "job ready".into()),
        Action::Qemu(QemuAction::JobWaiting) => (Local("qemu"), "job waiting".into()),
        Action::Qemu(QemuAction::JobPending) => (Local("qemu"), "job pending".into()),
        Action::Qemu(QemuAction::JobFinalize) => {
            (Local("qemu"), "finalize: switch to target".into())
        }
        Action::Qemu(QemuAction::JobAutoDismiss) => (Local("qemu"), "auto-dismiss".into()),
        Action::Libvirtd(LibvirtdAction::Step) => match last.libvirtd.current_step(&cfg.procedures)
        {
            Some(step) if next.libvirtd.awaiting.is_some() => (
                Message {
                    from: "libvirtd",
                    to: "qemu",
                    reply: false,
                },
                step.command()
                    .map(|c| c.qmp_name().to_string())
                    .unwrap_or_else(|| step.name().to_string()),
            ),
            Some(Step::ReplyApp) => (
                Message {
                    from: "libvirtd",
                    to: "app",
                    reply: true,
                },
                "answer".into(),
            ),
            Some(step) => (Local("libvirtd"), step.name().to_string()),
            None => (Local("libvirtd"), "concluded handler".into()),
        },
        Action::Libvirtd(LibvirtdAction::Read) => {
            let short = match last.qemu.outbox.first() {
                Some(QmpMessage::Reply(c, _)) => format!("reply to {}", c.qmp_name()),
                Some(QmpMessage::Event(_)) => describe::step_label(cfg, last, action, next)
                    .trim_start_matches("libvirtd handles event ")
                    .to_string(),
                None => "nothing".into(),
            };
            (
                Message {
                    from: "qemu",
                    to: "libvirtd",
                    reply: true,
                },
                short,
            )
        }
        Action::Libvirtd(LibvirtdAction::Eof) => (
            Message {
                from: "qemu",
                to: "libvirtd",
                reply: true,
            },
            "EOF".into(),
        ),
        Action::Libvirtd(LibvirtdAction::Kill) => (
            Message {
                from: "libvirtd",
                to: "qemu",
                reply: false,
            },
            "kill".into(),
        ),
        Action::Libvirtd(LibvirtdAction::StopDomain) => (Local("libvirtd"), "stop domain".into()),
        Action::App(AppAction::RequestPivot) => (
            Message {
                from: "app",
                to: "libvirtd",
                reply: false,
            },
            "pivot".into(),
        ),
        Action::App(AppAction::Recover) => (
            Message {
                from: "app",
                to: "libvirtd",
                reply: false,
            },
            "recover".into(),
        ),
        Action::App(AppAction::Resume) => (
            Message {
                from: "app",
                to: "libvirtd",
                reply: false,
            },
            "resume".into(),
        ),
        Action::App(AppAction::Step) => match model::app::current_step(cfg, last) {
            Some(AppStep::RecordDb) | None => (Local("app"), "record in its database".into()),
            Some(step) => (
                Message {
                    from: "app",
                    to: "libvirtd",
                    reply: false,
                },
                step.name().to_string(),
            ),
        },
        Action::App(AppAction::HardReboot) => (
            Message {
                from: "app",
                to: "qemu",
                reply: false,
            },
            format!("hard reboot on the {}", next.qemu.active),
        ),
        Action::App(AppAction::VirshStart) => (
            Message {
                from: "app",
                to: "qemu",
                reply: false,
            },
            format!("virsh start on the {}", next.qemu.active),
        ),
        Action::Fault(FaultKind::LibvirtdCrash) => (Fault("libvirtd"), "crash".into()),
        Action::Libvirtd(LibvirtdAction::Restart) => (Local("libvirtd"), "restart".into()),
        Action::Fault(FaultKind::QemuCrash) => (Fault("qemu"), "crash".into()),
        Action::Fault(FaultKind::HostCrash) => (Fault("libvirtd"), "host crash".into()),
        Action::Fault(FaultKind::AppCrash) => (Fault("app"), "crash and restart".into()),
    }
}

/// The path's steps as arrows, numbered from 1. `states` are the states along the path,
/// the initial state first, as the engine computed them.
pub fn arrows(config: &Config, actions: &[Action], states: &[World]) -> Vec<Arrow> {
    crate::text::assert_path(actions, states);
    actions
        .iter()
        .zip(states.windows(2))
        .enumerate()
        .map(|(i, (&a, w))| {
            let (shape, short) = step_short(config, &w[0], a, &w[1]);
            Arrow {
                number: i + 1,
                shape,
                short,
                label: describe::step_label(config, &w[0], a, &w[1]),
            }
        })
        .collect()
}

/// Mermaid escapes: `#` starts an entity and `;` ends a statement.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A Mermaid `sequenceDiagram`. `breaking` (1-based) is the step that violates
/// `property`; it is drawn in a red box with a note.
pub fn mermaid(
    config: &Config,
    actions: &[Action],
    states: &[World],
    breaking: Option<usize>,
    property: &str,
) -> String {
    let mut s = String::from("sequenceDiagram\n");
    for l in LIFELINES {
        if l == title(l) {
            s.push_str(&format!("    participant {l}\n"));
        } else {
            s.push_str(&format!("    participant {l} as {}\n", title(l)));
        }
    }
    for a in arrows(config, actions, states) {
        let hit = breaking == Some(a.number);
        if hit {
            s.push_str("    rect rgb(255, 210, 210)\n");
        }
        let text = mermaid_text(&format!("{}. {}", a.number, a.label));
        match a.shape {
            Shape::Message { from, to, reply } => {
                let arrow = if reply { "-->>" } else { "->>" };
                s.push_str(&format!("    {from}{arrow}{to}: {text}\n"));
            }
            Shape::Local(actor) => s.push_str(&format!("    {actor}->>{actor}: {text}\n")),
            Shape::Fault(actor) => s.push_str(&format!("    Note over {actor}: {text}\n")),
        }
        if hit {
            s.push_str(&format!(
                "    Note over guest,app: violates {}\n    end\n",
                mermaid_text(property)
            ));
        }
    }
    s
}

/// Escapes text for XML and HTML content and attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const LANE: i64 = 150;
const LEFT: i64 = 110;
const TOP: i64 = 48;
const ROW: i64 = 30;
const CHAR_W: f64 = 6.6;

fn lane_x(actor: &str) -> i64 {
    let i = LIFELINES.iter().position(|l| *l == actor).unwrap_or(0) as i64;
    LEFT + i * LANE
}

/// A self-contained SVG sequence diagram: the four lifelines, one row per step with its
/// number, an arrow (or a box for a step inside one actor, a red box for a fault) and the
/// full label to the right. `breaking` (1-based) is highlighted with a red band.
pub fn svg(
    config: &Config,
    actions: &[Action],
    states: &[World],
    breaking: Option<usize>,
    property: &str,
) -> String {
    let arrows = arrows(config, actions, states);
    let text_x = lane_x("app") + 90;
    let longest = arrows
        .iter()
        .map(|a| a.label.chars().count())
        .max()
        .unwrap_or(10);
    let width = text_x + (longest as f64 * CHAR_W) as i64 + 30;
    let bottom = TOP + ROW * (arrows.len() as i64 + 1);
    let height = bottom + 30;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"seq\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    );
    s.push_str(
        "<defs><marker id=\"ah\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#333\"/></marker></defs>\n",
    );
    s.push_str(&format!(
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>\n"
    ));
    // The breaking step's band goes first, under everything else.
    if let Some(b) = breaking.filter(|b| *b >= 1 && *b <= arrows.len()) {
        let y = TOP + ROW * (b as i64) - ROW / 2 - 2;
        s.push_str(&format!(
            "<rect class=\"breaking\" x=\"2\" y=\"{y}\" width=\"{}\" height=\"{ROW}\" fill=\"#ffd2d2\" stroke=\"#c00\"><title>step {b} violates {}</title></rect>\n",
            width - 4,
            esc(property)
        ));
    }
    for l in LIFELINES {
        let x = lane_x(l);
        s.push_str(&format!(
            "<g class=\"lifeline\" data-actor=\"{l}\"><rect x=\"{}\" y=\"8\" width=\"100\" height=\"24\" rx=\"4\" fill=\"#e8eef8\" stroke=\"#456\"/><text x=\"{x}\" y=\"25\" text-anchor=\"middle\" font-weight=\"bold\">{}</text><line x1=\"{x}\" y1=\"32\" x2=\"{x}\" y2=\"{bottom}\" stroke=\"#889\" stroke-dasharray=\"4 3\"/></g>\n",
            x - 50,
            title(l)
        ));
    }
    for a in &arrows {
        let y = TOP + ROW * a.number as i64;
        let is_break = breaking == Some(a.number);
        s.push_str(&format!(
            "<g class=\"step{}\" data-step=\"{}\"><title>{}</title>",
            if is_break { " breaking-step" } else { "" },
            a.number,
            esc(&a.label)
        ));
        s.push_str(&format!(
            "<text x=\"8\" y=\"{}\" fill=\"#555\">{}</text>",
            y + 4,
            a.number
        ));
        match &a.shape {
            Shape::Message { from, to, reply } => {
                let (x1, x2) = (lane_x(from), lane_x(to));
                let dash = if *reply {
                    " stroke-dasharray=\"5 3\""
                } else {
                    ""
                };
                s.push_str(&format!(
                    "<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#333\" stroke-width=\"1.5\"{dash} marker-end=\"url(#ah)\"/>"
                ));
                s.push_str(&format!(
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                    (x1 + x2) / 2,
                    y - 4,
                    esc(&a.short)
                ));
            }
            Shape::Local(actor) => {
                let x = lane_x(actor);
                s.push_str(&format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"124\" height=\"18\" rx=\"3\" fill=\"#f4f4f4\" stroke=\"#999\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                    x - 62,
                    y - 11,
                    y + 3,
                    esc(&truncate(&a.short, 20))
                ));
            }
            Shape::Fault(actor) => {
                let x = lane_x(actor);
                s.push_str(&format!(
                    "<rect class=\"fault\" x=\"{}\" y=\"{}\" width=\"124\" height=\"20\" rx=\"3\" fill=\"#c00\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#fff\" font-weight=\"bold\">FAULT {}</text>",
                    x - 62,
                    y - 12,
                    y + 3,
                    esc(&truncate(&a.short, 14))
                ));
            }
        }
        s.push_str(&format!(
            "<text x=\"{text_x}\" y=\"{}\"{}>{}</text></g>\n",
            y + 4,
            if is_break {
                " font-weight=\"bold\" fill=\"#900\""
            } else {
                ""
            },
            esc(&a.label)
        ));
    }
    if let Some(b) = breaking.filter(|b| *b >= 1 && *b <= arrows.len()) {
        s.push_str(&format!(
            "<text x=\"{text_x}\" y=\"{}\" fill=\"#900\" font-weight=\"bold\">step {b} violates {}</text>\n",
            bottom + 18,
            esc(property)
        ));
    }
    s.push_str("</svg>\n");
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::config::*;

    fn config() -> Config {
        Config {
            blocks: 1,
            disks: 1,
            app_order: model::AppOrder::Sequential,
            copy_mode: CopyMode::Background,
            no_shutdown: true,
            quit_cancel: QuitCancel::Force,
            persistent: true,
            faults: Faults::OFF
                .with(FaultKind::LibvirtdCrash, Fault::Unbounded)
                .with(FaultKind::GuestPowerOff, Fault::Unbounded),
            recovery: Recovery::Seed,
            procedures: model::presets::preset("reopen-unpaused").unwrap(),
            app: AppProcedure::default(),
        }
    }

    /// Copy, converge, pivot request, the pivot command, QEMU executes it, libvirtd
    /// crashes before reading the reply.
    fn path() -> Vec<Action> {
        vec![
            Action::Qemu(QemuAction::CopyRead(0)),
            Action::Qemu(QemuAction::CopyWrite),
            Action::Qemu(QemuAction::JobReady),
            Action::Libvirtd(LibvirtdAction::Read),
            Action::App(AppAction::RequestPivot),
            Action::Libvirtd(LibvirtdAction::Step),
            Action::Qemu(QemuAction::Execute),
            Action::Fault(FaultKind::LibvirtdCrash),
        ]
    }

    /// The states along `path()`, as the engine would hand them over.
    fn states() -> Vec<World> {
        let model = model::PivotModel::new(config());
        let mut s = vec![model.init_state()];
        for a in path() {
            let next = model.step(s.last().unwrap(), a);
            s.push(next);
        }
        s
    }

    #[test]
    fn arrows_say_who_talks_to_whom() {
        let a = arrows(&config(), &path(), &states());
        let shapes: Vec<&Shape> = a.iter().map(|a| &a.shape).collect();
        assert_eq!(*shapes[2], Shape::Local("qemu"));
        assert_eq!(
            *shapes[3],
            Shape::Message {
                from: "qemu",
                to: "libvirtd",
                reply: true
            }
        );
        assert_eq!(a[3].short, "BLOCK_JOB_READY");
        assert_eq!(
            *shapes[5],
            Shape::Message {
                from: "libvirtd",
                to: "qemu",
                reply: false
            }
        );
        assert_eq!(a[5].short, "__com.redhat_drive-reopen");
        assert_eq!(*shapes[7], Shape::Fault("libvirtd"));
    }

    #[test]
    fn mermaid_escapes_and_marks_the_breaking_step() {
        assert_eq!(mermaid_text("a; b #1 <x>"), "a#59; b #35;1 #lt;x#gt;");
        let m = mermaid(
            &config(),
            &path(),
            &states(),
            Some(8),
            "uncertainty-is-frozen",
        );
        assert!(
            m.starts_with("sequenceDiagram\n    participant guest\n    participant qemu as QEMU\n")
        );
        assert!(m.contains("    libvirtd->>qemu: 6. libvirtd [pivot] drive-reopen: sends __com.redhat_drive-reopen\n"));
        assert!(m.contains("    rect rgb(255, 210, 210)\n    Note over libvirtd: 8. FAULT libvirtd crashes (connection and queued messages lost)\n    Note over guest,app: violates uncertainty-is-frozen\n    end\n"));
        // No statement separator survives inside a message.
        for line in m.lines().skip(1) {
            assert!(!line.contains(';') || line.contains("#59;"), "{line}");
        }
    }

    #[test]
    fn svg_draws_four_lifelines_and_highlights_only_the_breaking_step() {
        let s = svg(&config(), &path(), &states(), Some(8), "p");
        assert_eq!(s.matches("class=\"lifeline\"").count(), 4);
        assert_eq!(s.matches("breaking-step").count(), 1);
        assert!(s.contains("class=\"step breaking-step\" data-step=\"8\""));
        assert_eq!(s.matches("<g ").count(), s.matches("</g>").count());
        let none = svg(&config(), &path(), &states(), None, "");
        assert!(!none.contains("breaking"));
    }
}
