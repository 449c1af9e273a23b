//! Build script of the `tlswhy` binary: puts the commit and the compiled features into
//! `--version` (`TLSWHY_VERSION`). The commit comes from `git rev-parse --short HEAD`
//! when the source is a git checkout with git installed; from a tarball or `cargo
//! install` of a published package it is "unknown".

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(manifest_dir())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Only this package's own repository: a tarball unpacked inside some other checkout
    // is not that checkout's commit.
    let ours = git(&["ls-files", "--full-name", "Cargo.toml"]).is_some();
    let commit = ours
        .then(|| git(&["rev-parse", "--short", "HEAD"]))
        .flatten();
    if commit.is_some() {
        // Run again when HEAD moves: a commit, a checkout, or a branch moved (packed or
        // loose ref). Paths from git, so a worktree's own HEAD is the one watched.
        for path in ["HEAD", "packed-refs"] {
            if let Some(p) = git(&["rev-parse", "--git-path", path]) {
                println!("cargo:rerun-if-changed={}", absolute(&p));
            }
        }
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            if let Some(p) = git(&["rev-parse", "--git-path", &branch]) {
                println!("cargo:rerun-if-changed={}", absolute(&p));
            }
        }
    }
    let mut features = Vec::new();
    if std::env::var_os("CARGO_FEATURE_LIVE").is_some() {
        features.push("live");
    }
    let features = if features.is_empty() {
        "none".to_string()
    } else {
        features.join(", ")
    };
    println!(
        "cargo:rustc-env=TLSWHY_VERSION={} (commit {}, features: {features})",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
        commit.as_deref().unwrap_or("unknown"),
    );
}

/// The package folder (the repository root).
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into()))
}

/// A path git printed, relative to the package folder, made absolute.
fn absolute(path: &str) -> String {
    manifest_dir().join(path).display().to_string()
}
