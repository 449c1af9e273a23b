//! JSON Lines: one object per handshake attempt, successful ones included. The stable
//! fields are DESIGN.md's (`capture`, `ts`, `client`, `server`, `sni`, `version`,
//! `cipher`, `established`, `verdict`); the rest is documented in the README.

use std::io::{self, Write};

use crate::analyze::Handshake;

/// Writes one line per handshake.
pub fn write_lines<'a, W: Write>(
    out: &mut W,
    handshakes: impl IntoIterator<Item = &'a Handshake>,
) -> io::Result<()> {
    for h in handshakes {
        serde_json::to_writer(&mut *out, h).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
