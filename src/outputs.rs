//! The output files of `analyze` (`--write`, `--junit`, `--summary`): refused when one
//! is an input of the same run, and written whole or not at all.
//!
//! An output is an input when it is the same file by canonical path or, for files that
//! exist, by (device, inode) — so `./x`, a symbolic link and a hard link are all caught
//! — including a file that standard input (`-`) is redirected from, and a capture a
//! folder walk reads. An output with a capture's name inside a folder being analyzed is
//! refused even before it exists: the walk of the next run would read it. An output
//! that already holds a capture (pcap or pcapng, perhaps gzipped, by its first bytes
//! whatever its name) is refused unless `--force`: a mistyped `-w` would lose it.
//!
//! A file is replaced by writing a temporary file beside it and renaming that over it
//! once complete ([`OutputFile`]); a run that fails before leaves the destination as it
//! was and no temporary file. Devices and pipes (`/dev/null`, `/dev/stdout`) are written
//! in place: a rename would replace the device node itself. `--summary` appends
//! ([`append`]), as `$GITHUB_STEP_SUMMARY` expects.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tlswhy::capture::{detect_format, Source};
use tlswhy::inputs::is_capture_name;

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

/// Whether `path` is a regular file that holds a capture: its first bytes are a pcap or
/// pcapng magic number, directly or once inflated (gzip).
fn holds_capture(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = Vec::with_capacity(4);
    if file.take(4).read_to_end(&mut head).is_err() {
        return false;
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        head.clear();
        let Ok(file) = File::open(path) else {
            return false;
        };
        let mut inflated = flate2::read::MultiGzDecoder::new(file).take(4);
        if inflated.read_to_end(&mut head).is_err() {
            return false;
        }
    }
    detect_format(&head).is_some()
}

/// Checks the outputs (`(option, path)`, e.g. `("--write", …)`) against the inputs: the
/// paths given (`args`) and what they expanded to (`sources`); and, unless `force`,
/// against the captures already there. The error says which output would destroy which
/// input or capture, or which outputs collide.
pub fn check(
    outputs: &[(&str, &Path)],
    args: &[PathBuf],
    sources: &[Source],
    force: bool,
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
        if !force && holds_capture(path) {
            return refuse("it already holds a capture; give --force to write over it".into());
        }
    }
    Ok(())
}

/// Prefixes an error with the file it is about, and follows it with its causes (a
/// serializer's error says "error serializing", its cause "File too large").
pub fn about(path: &Path, e: io::Error) -> io::Error {
    let mut text = format!("{}: {e}", path.display());
    let mut cause = e.get_ref().and_then(|inner| inner.source());
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        cause = c.source();
    }
    io::Error::new(e.kind(), text)
}

/// An output file being written: a temporary file beside the destination, renamed over
/// it by [`OutputFile::commit`] and removed if dropped before; or, for a destination
/// that exists and is not a regular file (a device, a pipe), the destination itself.
pub struct OutputFile {
    /// The path as given, for messages.
    given: PathBuf,
    /// The file replaced: the path given with its links resolved.
    destination: PathBuf,
    temporary: Option<tempfile::NamedTempFile>,
}

impl OutputFile {
    /// Opens the file to write `destination` through. A symbolic link is followed: the
    /// file it points to is replaced, the link stays.
    pub fn create(destination: &Path) -> io::Result<OutputFile> {
        let given = destination.to_path_buf();
        let existing = fs::metadata(destination).ok();
        if existing
            .as_ref()
            .is_some_and(|m| !m.is_file() && !m.is_dir())
        {
            return Ok(OutputFile {
                given: destination.to_path_buf(),
                destination: destination.to_path_buf(),
                temporary: None,
            });
        }
        let destination = match fs::canonicalize(destination) {
            Ok(real) if existing.is_some() => real,
            _ => destination.to_path_buf(),
        };
        let folder = match destination.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // `.NAME.XXXXXX.tmp`, not a capture name: a folder walk meanwhile skips it.
        let name = destination.file_name().unwrap_or_default();
        let prefix = format!(".{}.", name.to_string_lossy());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // As File::create: what the umask allows, or the mode of the file replaced.
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let temporary = builder.tempfile_in(folder).map_err(|e| about(&given, e))?;
        if let Some(m) = existing.filter(|m| m.is_file()) {
            let _ = temporary.as_file().set_permissions(m.permissions());
        }
        Ok(OutputFile {
            given,
            destination,
            temporary: Some(temporary),
        })
    }

    /// The path to write now (the temporary file, or the device).
    pub fn path(&self) -> &Path {
        match &self.temporary {
            Some(t) => t.path(),
            None => &self.destination,
        }
    }

    /// A handle to write through.
    pub fn file(&self) -> io::Result<File> {
        match &self.temporary {
            Some(t) => t.as_file().try_clone(),
            None => OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&self.destination),
        }
        .map_err(|e| about(&self.given, e))
    }

    /// Puts the finished file in place: synced to disk, then renamed over the
    /// destination.
    pub fn commit(self) -> io::Result<()> {
        let Some(temporary) = self.temporary else {
            return Ok(());
        };
        temporary
            .as_file()
            .sync_all()
            .map_err(|e| about(&self.given, e))?;
        temporary
            .persist(&self.destination)
            .map_err(|e| about(&self.given, e.error))?;
        Ok(())
    }
}

/// Appends `text` to `path` (created if missing) in one write, on a line of its own;
/// if that write fails, a regular file is cut back to its length before.
pub fn append(path: &Path, text: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| about(path, e))?;
    let meta = file.metadata().map_err(|e| about(path, e))?;
    let mut last = [b'\n'];
    if meta.is_file() && meta.len() > 0 {
        use std::io::{Read, Seek, SeekFrom};
        // Reads are positioned, writes always go to the end (O_APPEND).
        let _ = file
            .seek(SeekFrom::End(-1))
            .and_then(|_| file.read_exact(&mut last));
    }
    let mut whole = Vec::with_capacity(text.len() + 1);
    if last[0] != b'\n' {
        whole.push(b'\n');
    }
    whole.extend_from_slice(text);
    if let Err(e) = file.write_all(&whole).and_then(|()| file.flush()) {
        if meta.is_file() {
            let _ = file.set_len(meta.len());
        }
        return Err(about(path, e));
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
            let e = check(&[("--write", out)], &args, &srcs, false).unwrap_err();
            assert!(e.contains("the same file as the input"), "{e}");
        }
        let other = dir.path().join("out.pcap");
        check(&[("--write", &other)], &args, &srcs, false).unwrap();
        let e = check(
            &[("--junit", &other), ("--summary", &other)],
            &args,
            &srcs,
            false,
        )
        .unwrap_err();
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
        let e = check(
            &[("--write", &inside.join("new.pcapng"))],
            &args,
            &[],
            false,
        )
        .unwrap_err();
        assert!(e.contains("its walk would read it"), "{e}");
        // Reports that are not captures may go there.
        check(
            &[("--junit", &inside.join("report.xml"))],
            &args,
            &[],
            false,
        )
        .unwrap();
    }

    #[test]
    fn an_existing_capture_needs_force_whatever_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let pcap = dir.path().join("earlier.pcap");
        fs::write(&pcap, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]).unwrap();
        let named_otherwise = dir.path().join("report.xml");
        fs::write(&named_otherwise, [0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0]).unwrap();
        let gzipped = dir.path().join("old.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&[0xa1, 0xb2, 0xc3, 0xd4, 0, 2]).unwrap();
        fs::write(&gzipped, gz.finish().unwrap()).unwrap();
        for path in [&pcap, &named_otherwise, &gzipped] {
            let e = check(&[("--junit", path)], &[], &[], false).unwrap_err();
            assert!(
                e.contains("already holds a capture") && e.contains("--force"),
                "{e}"
            );
            check(&[("--junit", path)], &[], &[], true).unwrap();
        }
        // Not captures: text, an empty file, a file not there yet.
        let text = dir.path().join("notes.pcap");
        fs::write(&text, b"not a capture").unwrap();
        let empty = dir.path().join("empty.pcap");
        fs::write(&empty, b"").unwrap();
        for path in [text, empty, dir.path().join("new.pcap")] {
            check(&[("--write", &path)], &[], &[], false).unwrap();
        }
    }

    #[test]
    fn a_dropped_output_leaves_nothing_and_a_committed_one_replaces_whole() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.xml");
        fs::write(&dest, b"old").unwrap();
        let out = OutputFile::create(&dest).unwrap();
        fs::write(out.path(), b"half").unwrap();
        drop(out);
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
        let out = OutputFile::create(&dest).unwrap();
        out.file().unwrap().write_all(b"new").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"old", "not before the commit");
        out.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_is_followed_and_a_device_is_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.xml");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.xml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let out = OutputFile::create(&link).unwrap();
        out.file().unwrap().write_all(b"new").unwrap();
        out.commit().unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        // A socket stands for the devices and pipes (renaming over /dev/null in a test
        // run as root would be a disaster): not replaced.
        use std::os::unix::fs::FileTypeExt;
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let out = OutputFile::create(&socket).unwrap();
        assert_eq!(out.path(), socket);
        out.commit().unwrap();
        assert!(fs::metadata(&socket).unwrap().file_type().is_socket());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temporary left"
        );
    }

    #[test]
    fn append_keeps_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        append(&path, b"one\n").unwrap();
        append(&path, b"two\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        fs::write(&path, b"no newline").unwrap();
        append(&path, b"three\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "no newline\nthree\n");
    }
}
