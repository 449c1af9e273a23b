//! What goes to the terminal besides the report: whether the report is coloured (the
//! `--color` option, then the conventions of no-color.org and `TERM=dumb`), and the note
//! that `analyze -` is waiting for a capture on a terminal.

use std::ffi::OsStr;
use std::path::PathBuf;

use crate::cli::ColorChoice;

/// Whether the report is coloured. `always` and `never` are what they say; `auto`
/// colours only a terminal, and not when `NO_COLOR` is set to anything but the empty
/// string (no-color.org) or `TERM` is `dumb` (a terminal that cannot show colour).
pub fn color(
    choice: ColorChoice,
    stdout_is_terminal: bool,
    no_color: Option<&OsStr>,
    term: Option<&OsStr>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            stdout_is_terminal
                && no_color.is_none_or(OsStr::is_empty)
                && term.is_none_or(|t| t != "dumb")
        }
    }
}

/// The note for `analyze -` when standard input is a terminal: without it the run
/// would wait silently for bytes that a person has to pipe in.
pub fn stdin_note(paths: &[PathBuf], stdin_is_terminal: bool) -> Option<&'static str> {
    (stdin_is_terminal && paths.iter().any(|p| p.as_os_str() == "-")).then_some(
        "reading a capture from standard input, which is a terminal: pipe or redirect one \
         in (`tlswhy analyze - < x.pcap`), or end with Ctrl-D",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(terminal: bool, no_color: Option<&str>, term: Option<&str>) -> bool {
        color(
            ColorChoice::Auto,
            terminal,
            no_color.map(OsStr::new),
            term.map(OsStr::new),
        )
    }

    #[test]
    fn colour_only_on_a_terminal_that_wants_it() {
        assert!(auto(true, None, Some("xterm-256color")));
        assert!(auto(true, None, None));
        assert!(!auto(false, None, Some("xterm-256color")), "not a terminal");
    }

    #[test]
    fn no_color_set_and_not_empty_turns_it_off() {
        assert!(!auto(true, Some("1"), Some("xterm")));
        assert!(!auto(true, Some("0"), Some("xterm")), "any value but empty");
        assert!(auto(true, Some(""), Some("xterm")), "empty is as if unset");
    }

    #[test]
    fn a_dumb_terminal_gets_none() {
        assert!(!auto(true, None, Some("dumb")));
        assert!(!auto(true, Some(""), Some("dumb")));
    }

    #[test]
    fn the_option_overrides_the_environment() {
        for (no_color, term) in [(Some("1"), Some("dumb")), (None, None)] {
            let env = (no_color.map(OsStr::new), term.map(OsStr::new));
            assert!(color(ColorChoice::Always, false, env.0, env.1));
            assert!(!color(ColorChoice::Never, true, env.0, env.1));
        }
    }

    #[test]
    fn the_stdin_note_only_for_dash_on_a_terminal() {
        let dash = [PathBuf::from("x.pcap"), PathBuf::from("-")];
        assert!(stdin_note(&dash, true).is_some());
        assert!(stdin_note(&dash, false).is_none(), "a pipe or a file");
        assert!(stdin_note(&[PathBuf::from("x.pcap")], true).is_none());
    }
}
