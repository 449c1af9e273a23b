//! Which files the command line's paths name: files as given, folders walked for
//! capture files.

use std::path::{Path, PathBuf};

use crate::capture::Source;

/// Expands command-line paths: files as given, folders recursed for capture files
/// (`.pcap`, `.pcapng`, `.cap`, `.dmp`, optionally `.gz`), sorted by path.
pub fn expand_inputs(paths: &[PathBuf]) -> Vec<Result<Source, String>> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(Ok(Source::Stdin));
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, &mut out);
            found.sort();
            out.extend(found.into_iter().map(|p| Ok(Source::File(p))));
        } else if path.exists() {
            out.push(Ok(Source::File(path.clone())));
        } else {
            out.push(Err(format!(
                "{}: no such file or directory",
                path.display()
            )));
        }
    }
    out
}

/// True for gzip-compressed names (`.gz`).
pub fn is_gzip_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// True for names that hold captures.
pub fn is_capture_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".pcap", ".pcapng", ".cap", ".dmp", ".ntar"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, errors: &mut Vec<Result<Source, String>>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(Err(format!("{}: {e}", dir.display())));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, found, errors),
            Ok(_) if is_capture_name(&path) => found.push(path),
            _ => {}
        }
    }
}
