//! What the command line says about itself: shell completion scripts (`tlswhy
//! completions SHELL`) and the manual page (`tlswhy man`), both made from the clap
//! definitions in `cli.rs`, so they never disagree with the options.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_mangen::Man;

use crate::cli::Cli;

/// Writes the completion script for `shell`. Made in memory first: the generator
/// panics on a write error, where a closed pipe is not an error.
pub fn completions(shell: clap_complete::Shell, out: &mut impl Write) -> io::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "tlswhy", &mut script);
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Writes one roff page: the program's title, name, synopsis, description and commands,
/// then for each command its synopsis and options under a heading of its own
/// ("ANALYZE OPTIONS"), then the version.
pub fn man(out: &mut impl Write) -> io::Result<ExitCode> {
    let command = Cli::command();
    let page = Man::new(command.clone());
    let mut roff = Vec::new();
    page.render_title(&mut roff)?;
    page.render_name_section(&mut roff)?;
    page.render_synopsis_section(&mut roff)?;
    page.render_description_section(&mut roff)?;
    page.render_options_section(&mut roff)?;
    // The commands are described on this page, not on pages of their own.
    let mut commands = Vec::new();
    page.render_subcommands_section(&mut commands)?;
    for line in String::from_utf8_lossy(&commands).lines() {
        // `tlswhy\-analyze(1)`, a reference to a page of its own, becomes `tlswhy analyze`.
        let line = match line
            .strip_prefix("tlswhy\\-")
            .and_then(|l| l.strip_suffix("(1)"))
        {
            Some(name) => format!("\\fBtlswhy {name}\\fR"),
            None => line.to_string(),
        };
        roff.extend_from_slice(line.as_bytes());
        roff.push(b'\n');
    }
    for sub in command.get_subcommands() {
        let name = sub.get_name().to_string();
        let heading = name.to_uppercase();
        let sub_page = Man::new(sub.clone().bin_name(format!("tlswhy {name}")));
        for (render, title) in [
            (Man::render_synopsis_section as Renderer, "SYNOPSIS"),
            (Man::render_options_section, "OPTIONS"),
        ] {
            let mut section = Vec::new();
            render(&sub_page, &mut section)?;
            let section = String::from_utf8_lossy(&section).replacen(
                &format!(".SH {title}"),
                &format!(".SH \"{heading} {title}\""),
                1,
            );
            roff.extend_from_slice(section.as_bytes());
        }
    }
    page.render_version_section(&mut roff)?;
    out.write_all(&roff)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// One of `Man`'s section writers.
type Renderer = fn(&Man, &mut dyn Write) -> io::Result<()>;
