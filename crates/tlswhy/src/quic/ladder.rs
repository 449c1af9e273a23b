//! A QUIC attempt's ladder line for one datagram: its packets in order, what an opened
//! Initial carried, a CONNECTION_CLOSE's error, its size — kept as a few bytes and
//! spelled out only when a ladder is shown (most attempts' never are).

use std::fmt;

use super::frames::InitialFrames;
use super::packet::{LongType, QuicPacket};

/// Packets named on one line, at most (a datagram rarely coalesces more than three).
const PARTS: usize = 6;

/// One packet of a datagram, as the ladder names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Part {
    VersionNegotiation,
    OneRtt,
    Initial,
    InitialCrypto,
    InitialClose,
    InitialAck,
    ZeroRtt,
    Handshake,
    Retry,
    Unreadable,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::VersionNegotiation => "Version Negotiation",
            Part::OneRtt => "1-RTT",
            Part::Initial => "Initial",
            Part::InitialCrypto => "Initial (CRYPTO)",
            Part::InitialClose => "Initial (CONNECTION_CLOSE)",
            Part::InitialAck => "Initial (ACK)",
            Part::ZeroRtt => "0-RTT",
            Part::Handshake => "Handshake",
            Part::Retry => "Retry",
            Part::Unreadable => "unreadable bytes",
        }
    }
}

/// What one datagram's ladder line says (`Initial (CRYPTO) + Handshake, 1252 bytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramLine {
    parts: [Part; PARTS],
    len: u8,
    /// A stateless reset (named instead of its packets).
    reset: bool,
    /// The CONNECTION_CLOSE of an Initial: its frame type's kind and error code.
    close_application: bool,
    close: Option<u64>,
    bytes: u32,
}

impl Default for DatagramLine {
    fn default() -> Self {
        DatagramLine {
            parts: [Part::Initial; PARTS],
            len: 0,
            reset: false,
            close_application: false,
            close: None,
            bytes: 0,
        }
    }
}

impl DatagramLine {
    fn push(&mut self, part: Part) {
        if let Some(slot) = self.parts.get_mut(usize::from(self.len)) {
            *slot = part;
            self.len += 1;
        }
    }

    /// Names the next packet of the datagram.
    pub fn add(&mut self, packet: &QuicPacket<'_>) {
        self.push(match packet {
            QuicPacket::VersionNegotiation { .. } => Part::VersionNegotiation,
            QuicPacket::Short(_) => Part::OneRtt,
            QuicPacket::Long(long) => match long.kind {
                LongType::Initial => Part::Initial,
                LongType::ZeroRtt => Part::ZeroRtt,
                LongType::Handshake => Part::Handshake,
                LongType::Retry => Part::Retry,
            },
        });
    }

    /// What the Initial just named carried.
    pub fn initial_frames(&mut self, frames: &InitialFrames<'_>) {
        let Some(last) = usize::from(self.len).checked_sub(1) else {
            return;
        };
        self.parts[last] = if !frames.crypto.is_empty() {
            Part::InitialCrypto
        } else if frames.close.is_some() {
            Part::InitialClose
        } else if frames.acks > 0 {
            Part::InitialAck
        } else {
            Part::Initial
        };
        if let Some(close) = &frames.close {
            self.close = Some(close.error_code);
            self.close_application = close.frame == 0x1d;
        }
    }

    /// Bytes after the packets that did not parse.
    pub fn unreadable(&mut self) {
        self.push(Part::Unreadable);
    }

    /// The line, done: the datagram's size, and whether it was a stateless reset.
    pub fn finish(mut self, bytes: usize, stateless_reset: bool) -> DatagramLine {
        self.bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.reset = stateless_reset;
        self
    }
}

impl fmt::Display for DatagramLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reset {
            f.write_str("stateless reset")?;
        } else {
            for (i, part) in self.parts[..usize::from(self.len)].iter().enumerate() {
                if i > 0 {
                    f.write_str(" + ")?;
                }
                f.write_str(part.name())?;
            }
        }
        match self.close {
            Some(code) if self.close_application => write!(f, ": application error 0x{code:x}")?,
            Some(code) => write!(f, ": {}", super::transport_error_name(code))?,
            None => {}
        }
        write!(f, ", {} bytes", self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_packets_closes_and_resets() {
        let mut line = DatagramLine::default();
        line.push(Part::InitialCrypto);
        line.push(Part::Handshake);
        assert_eq!(
            line.finish(1252, false).to_string(),
            "Initial (CRYPTO) + Handshake, 1252 bytes"
        );
        let mut close = DatagramLine::default();
        close.push(Part::InitialClose);
        close.close = Some(0x178);
        assert_eq!(
            close.finish(73, false).to_string(),
            "Initial (CONNECTION_CLOSE): CRYPTO_ERROR (no_application_protocol), 73 bytes"
        );
        let mut reset = DatagramLine::default();
        reset.push(Part::OneRtt);
        assert_eq!(
            reset.finish(42, true).to_string(),
            "stateless reset, 42 bytes"
        );
        let mut many = DatagramLine::default();
        for _ in 0..PARTS + 2 {
            many.push(Part::Handshake);
        }
        assert_eq!(many.len as usize, PARTS);
        assert!(std::mem::size_of::<DatagramLine>() <= 32);
    }
}
