//! The durable state at the end: the status XML (`/run/libvirt/qemu/NAME.xml`) and the
//! persistent XML (`/etc/libvirt/qemu/NAME.xml`), read for the few facts the model has:
//! the domain's name, the copied disk's source file and its `<mirror>` record.

/// What a domain XML says about the copied disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskRecord {
    pub domain: String,
    /// The disk's `<source file=...>`.
    pub source: String,
    /// `<mirror>`: `None` when absent, else its `ready` attribute (`""` when it has none).
    pub mirror: Option<String>,
    /// `<mirror ... job=''>`: libvirt 9.0 cannot load this record (W2b).
    pub unloadable: bool,
}

/// The value of attribute `name` in the element starting at `el` (up to its `>`).
fn attr(el: &str, name: &str) -> Option<String> {
    let end = el.find('>')?;
    let el = &el[..end];
    for q in ['\'', '"'] {
        let key = format!(" {name}={q}");
        if let Some(i) = el.find(&key) {
            let rest = &el[i + key.len()..];
            return rest.find(q).map(|j| rest[..j].to_string());
        }
    }
    None
}

/// Reads a status or persistent XML; `Err` says what is missing.
pub fn read(text: &str) -> Result<DiskRecord, String> {
    let name_at = text
        .find("<name>")
        .ok_or("no <name> element: not a libvirt domain XML")?;
    let rest = &text[name_at + 6..];
    let domain = rest[..rest.find("</name>").ok_or("unterminated <name>")?]
        .trim()
        .to_string();
    // The copied disk: the one with a <mirror>, else the first disk.
    let disks: Vec<&str> = text
        .match_indices("<disk ")
        .map(|(i, _)| {
            let d = &text[i..];
            &d[..d.find("</disk>").unwrap_or(d.len())]
        })
        .collect();
    let disk = disks
        .iter()
        .find(|d| d.contains("<mirror"))
        .or(disks.first())
        .ok_or("no <disk> element")?;
    // The disk's own <source>, not the one inside <mirror>.
    let own = match disk.find("<mirror") {
        Some(m) => {
            let before = &disk[..m];
            match before.find("<source ") {
                Some(_) => before,
                None => {
                    let after_mirror = &disk[m..];
                    let close = after_mirror.find("</mirror>").map(|c| m + c).unwrap_or(m);
                    &disk[close..]
                }
            }
        }
        None => disk,
    };
    let src_el = &own[own.find("<source ").ok_or("the disk has no <source>")?..];
    let source = attr(src_el, "file")
        .or_else(|| attr(src_el, "dev"))
        .ok_or("the disk's <source> has no file attribute")?;
    let (mirror, unloadable) = match disk.find("<mirror") {
        Some(m) => {
            let el = &disk[m..];
            (
                Some(attr(el, "ready").unwrap_or_default()),
                attr(el, "job").is_some_and(|j| j.is_empty()),
            )
        }
        None => (None, false),
    };
    Ok(DiskRecord {
        domain,
        source,
        mirror,
        unloadable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_disk_source_not_the_mirror_source() {
        let x = "<domstatus><domain><name>rq</name><devices><disk type='file' device='disk'>\
                 <source file='/a/src.raw'/><mirror type='file' job='copy' ready='pivot'>\
                 <source file='/a/tgt.raw'/></mirror><target dev='vda'/></disk></devices>\
                 </domain></domstatus>";
        let r = read(x).unwrap();
        assert_eq!(r.domain, "rq");
        assert_eq!(r.source, "/a/src.raw");
        assert_eq!(r.mirror.as_deref(), Some("pivot"));
        assert!(!r.unloadable);
        let bad = x.replace("job='copy'", "job=''");
        assert!(read(&bad).unwrap().unloadable);
        assert!(read("<domain/>").unwrap_err().contains("<name>"));
    }
}
