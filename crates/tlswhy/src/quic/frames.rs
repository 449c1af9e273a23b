//! The frames of an Initial packet's payload (RFC 9000 §19): CRYPTO data, the
//! CONNECTION_CLOSE that ends a handshake, and the ones that are only stepped over
//! (PADDING, PING, ACK). A frame type an Initial cannot carry ends the reading.

use super::varint;

/// What an Initial payload carried.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InitialFrames<'a> {
    /// CRYPTO frames: (offset in the crypto stream, data).
    pub crypto: Vec<(u64, &'a [u8])>,
    pub close: Option<ConnectionClose<'a>>,
    pub acks: usize,
    pub pings: usize,
    /// The payload did not parse to its end (a frame type not allowed here, or cut).
    pub malformed: bool,
}

/// A CONNECTION_CLOSE frame.
#[derive(Debug, PartialEq, Eq)]
pub struct ConnectionClose<'a> {
    /// `0x1c`: a transport error (a TLS alert N is 0x0100 + N); `0x1d`: the
    /// application's.
    pub frame: u8,
    pub error_code: u64,
    /// The frame type that triggered a transport error (0: unknown).
    pub trigger: u64,
    pub reason: &'a [u8],
}

impl ConnectionClose<'_> {
    /// The TLS alert a crypto error carries (RFC 9001 §4.8).
    pub fn tls_alert(&self) -> Option<u8> {
        (self.frame == 0x1c && (0x100..0x200).contains(&self.error_code))
            .then(|| (self.error_code - 0x100) as u8)
    }
}

/// Reads the frames of an opened Initial payload.
pub fn initial_frames(mut b: &[u8]) -> InitialFrames<'_> {
    let mut out = InitialFrames::default();
    while let Some(&ty) = b.first() {
        let rest = &b[1..];
        let parsed = match ty {
            0x00 => Some(rest.iter().position(|&x| x != 0).unwrap_or(rest.len())),
            0x01 => {
                out.pings += 1;
                Some(0)
            }
            0x02 | 0x03 => ack_len(rest, ty == 0x03).inspect(|_| out.acks += 1),
            0x06 => (|| {
                let (offset, n1) = varint(rest)?;
                let (len, n2) = varint(&rest[n1..])?;
                let start = n1 + n2;
                let data = rest.get(start..start + usize::try_from(len).ok()?)?;
                out.crypto.push((offset, data));
                Some(start + data.len())
            })(),
            0x1c | 0x1d => (|| {
                let (error_code, mut at) = varint(rest)?;
                let mut trigger = 0;
                if ty == 0x1c {
                    let (t, n) = varint(&rest[at..])?;
                    trigger = t;
                    at += n;
                }
                let (len, n) = varint(&rest[at..])?;
                at += n;
                let reason = rest.get(at..at + usize::try_from(len).ok()?)?;
                out.close.get_or_insert(ConnectionClose {
                    frame: ty,
                    error_code,
                    trigger,
                    reason,
                });
                Some(at + reason.len())
            })(),
            _ => None,
        };
        match parsed {
            Some(n) => b = &rest[n..],
            None => {
                out.malformed = true;
                break;
            }
        }
    }
    out
}

/// The length of an ACK frame's body (RFC 9000 §19.3).
fn ack_len(b: &[u8], ecn: bool) -> Option<usize> {
    let mut at = 0;
    let mut next = |b: &[u8]| -> Option<u64> {
        let (v, n) = varint(b.get(at..)?)?;
        at += n;
        Some(v)
    };
    next(b)?; // largest acknowledged
    next(b)?; // delay
    let ranges = next(b)?;
    next(b)?; // first range
    for _ in 0..ranges.min(1 << 16) {
        next(b)?; // gap
        next(b)?; // range length
    }
    if ecn {
        for _ in 0..3 {
            next(b)?;
        }
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_crypto_ack_padding_and_a_close() {
        // ACK(0, 0, 0 ranges, 0), CRYPTO(offset 0, "hi"), PADDING x2,
        // CONNECTION_CLOSE(0x178 = alert 120, trigger 6, "no ALPN").
        let mut p = vec![
            0x02, 0, 0, 0, 0, 0x06, 0, 2, b'h', b'i', 0, 0, 0x1c, 0x41, 0x78, 6, 7,
        ];
        p.extend(b"no ALPN");
        let f = initial_frames(&p);
        assert_eq!(f.acks, 1);
        assert_eq!(f.crypto, vec![(0, &b"hi"[..])]);
        let close = f.close.unwrap();
        assert_eq!(close.tls_alert(), Some(120));
        assert_eq!(close.reason, b"no ALPN");
        assert!(!f.malformed);
        // A STREAM frame cannot be in an Initial; a cut CRYPTO frame is malformed too.
        assert!(initial_frames(&[0x08, 0]).malformed);
        assert!(initial_frames(&[0x06, 0, 5, 1]).malformed);
    }
}
