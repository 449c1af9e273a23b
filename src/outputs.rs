//! The output files of `analyze` (`--write`, `--junit`, `--summary`): refused when one
//! is an input of the same run.
//!
//! An output is an input when it is the same file by canonical path or, for files that
//! exist, by (device, inode) — so `./x`, a symbolic link and a hard link are all caught
//! — including a file that standard input (`-`) is redirected from, and a capture a
//! folder walk reads. An output with a capture's name inside a folder being analyzed is
//! refused even before it exists: the walk of the next run would read it.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use tlswhy::analyze::is_capture_name;
use tlswhy::capture::Source;

/// Who a file is: its canonical path (for a file that does not exist yet, its folder's
/// canonical path and its name) and, if it exists, its (device, inode).
#[derive(Debug, Default)]
struct Identity {
    canonical: Option<PathBuf>,
    inode: Option<(u64, u64)>,
}

impl Identity {
    fn of(path: &Path) -> Identity {
        let canonical = fs::canonicalize(path).ok().or_else(|| {
            let name = path.file_name()?;
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            fs::canonicalize(parent).ok().map(|p| p.join(name))
        });
        Identity {
            canonical,
            inode: fs::metadata(path).ok().as_ref().and_then(inode),
        }
    }

    fn same_file(&self, other: &Identity) -> bool {
        (self.canonical.is_some() && self.canonical == other.canonical)
            || (self.inode.is_some() && self.inode == other.inode)
    }
}

#[cfg(unix)]
fn inode(m: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn inode(_: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Standard input's identity when it is redirected from a regular file.
#[cfg(unix)]
fn stdin_identity() -> Option<Identity> {
    use std::os::fd::AsFd;
    let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
    let meta = File::from(fd).metadata().ok()?;
    meta.is_file().then(|| Identity {
        canonical: None,
        inode: inode(&meta),
    })
}

#[cfg(not(unix))]
fn stdin_identity() -> Option<Identity> {
    None
}

/// Checks the outputs (`(option, path)`, e.g. `("--write", …)`) against the inputs: the
/// paths given (`args`) and what they expanded to (`sources`). The error says which
/// output would destroy which input, or which outputs collide.
pub fn check(
    outputs: &[(&str, &Path)],
    args: &[PathBuf],
    sources: &[Source],
) -> Result<(), String> {
    let outs: Vec<Identity> = outputs.iter().map(|(_, p)| Identity::of(p)).collect();
    for (i, ((option, path), out)) in outputs.iter().zip(&outs).enumerate() {
        let refuse = |why: String| {
            Err(format!(
                "refusing {option} {}: {why}; nothing was written",
                path.display()
            ))
        };
        for (earlier, (other, _)) in outputs[..i].iter().enumerate() {
            if out.same_file(&outs[earlier]) {
                return refuse(format!("{other} names the same file"));
            }
        }
        for source in sources {
            let Source::File(input) = source else {
                continue;
            };
            if out.same_file(&Identity::of(input)) {
                return refuse(format!(
                    "it is the same file as the input {}, which it would overwrite",
                    input.display()
                ));
            }
        }
        if args.iter().any(|a| a.as_os_str() == "-") {
            if let Some(stdin) = stdin_identity() {
                if out.same_file(&stdin) {
                    return refuse(
                        "it is the file standard input reads, which it would overwrite".into(),
                    );
                }
            }
        }
        if is_capture_name(path) {
            let Some(inside) = out.canonical.as_deref() else {
                continue;
            };
            for folder in args.iter().filter(|a| a.is_dir()) {
                if fs::canonicalize(folder).is_ok_and(|f| inside.starts_with(f)) {
                    return refuse(format!(
                        "it is a capture inside {}, which is analyzed (its walk would read it)",
                        folder.display()
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(paths: &[&Path]) -> Vec<Source> {
        paths
            .iter()
            .map(|p| Source::File(p.to_path_buf()))
            .collect()
    }

    #[test]
    fn same_file_by_path_link_and_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.pcap");
        fs::write(&input, b"x").unwrap();
        let linked = dir.path().join("linked.pcap");
        fs::hard_link(&input, &linked).unwrap();
        let spelled = dir.path().join(".").join("sub/../in.pcap");
        fs::create_dir(dir.path().join("sub")).unwrap();
        let srcs = sources(&[&input]);
        let args = vec![input.clone()];
        for out in [&input, &linked, &spelled] {
            let e = check(&[("--write", out)], &args, &srcs).unwrap_err();
            assert!(e.contains("the same file as the input"), "{e}");
        }
        let other = dir.path().join("out.pcap");
        check(&[("--write", &other)], &args, &srcs).unwrap();
        let e = check(&[("--junit", &other), ("--summary", &other)], &args, &srcs).unwrap_err();
        assert!(
            e.starts_with("refusing --summary") && e.contains("--junit"),
            "{e}"
        );
    }

    #[test]
    fn a_capture_in_an_analyzed_folder_is_refused_even_before_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let args = vec![dir.path().to_path_buf()];
        let inside = dir.path().join("deep");
        fs::create_dir(&inside).unwrap();
        let e = check(&[("--write", &inside.join("new.pcapng"))], &args, &[]).unwrap_err();
        assert!(e.contains("its walk would read it"), "{e}");
        // Reports that are not captures may go there.
        check(&[("--junit", &inside.join("report.xml"))], &args, &[]).unwrap();
    }
}
