//! Writing a report folder: `summary.md`, `junit.xml`, `index.html` and one `.itf.json`
//! per counterexample, each written atomically (a temporary file renamed into place).

use std::io;
use std::path::{Path, PathBuf};

use crate::run::Run;
use crate::{html, itf, junit, markdown};

/// Writes `text` to `path` through a temporary file in the same folder and a rename, so
/// that a reader never sees a half-written file.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "report".into());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Writes every output of `run` into `dir` (created if missing); returns the paths written.
pub fn write_dir(run: &Run, dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut put = |name: String, text: String| -> io::Result<()> {
        let path = dir.join(name);
        write_atomic(&path, &text)?;
        written.push(path);
        Ok(())
    };
    put("summary.md".into(), markdown::summary(run))?;
    put("junit.xml".into(), junit::xml(run))?;
    put("index.html".into(), html::page(run))?;
    for c in &run.counterexamples {
        put(format!("{}.itf.json", c.id()), itf::text(c))?;
    }
    Ok(written)
}
