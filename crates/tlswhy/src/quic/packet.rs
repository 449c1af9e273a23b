//! QUIC packets in a UDP datagram (RFC 9000 §17): long headers — Initial, 0-RTT,
//! Handshake, Retry, and Version Negotiation — coalesced one after another, then
//! perhaps a short-header packet; and the opening of an Initial (header protection
//! removed, payload authenticated and decrypted, RFC 9001 §5.4).

use super::initial::VERSION_2;
use super::protection::Protection;
use super::varint;

/// The type of a long-header packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// A long-header packet, borrowed from its datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LongPacket<'a> {
    pub version: u32,
    pub kind: LongType,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// Initial: its token (a client's answer to a Retry carries one); Retry: the token
    /// it gives.
    pub token: &'a [u8],
    /// The whole packet, header included.
    pub bytes: &'a [u8],
    /// Where the (protected) packet number starts in `bytes` (0 for a Retry).
    pn_offset: usize,
}

/// One packet of a datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuicPacket<'a> {
    Long(LongPacket<'a>),
    /// The server lists the versions it supports (RFC 9000 §17.2.1).
    VersionNegotiation {
        dcid: &'a [u8],
        scid: &'a [u8],
        versions: Vec<u32>,
    },
    /// A short-header (1-RTT) packet: the rest of the datagram.
    Short(&'a [u8]),
}

/// The packets of a datagram, in order; reading stops at bytes that are not a packet
/// (the second item says so).
pub fn packets(mut datagram: &[u8]) -> (Vec<QuicPacket<'_>>, bool) {
    let mut out = Vec::new();
    while let Some(&first) = datagram.first() {
        if first == 0 && !out.is_empty() {
            // Zeros after a packet pad the datagram. A capture on the sending host may
            // hold several datagrams in one, as the kernel took them to cut apart (UDP
            // GSO: segments of one size; Firefox sends its first flight so): after a
            // padded segment comes the next one's packet.
            let zeros = datagram
                .iter()
                .position(|&b| b != 0)
                .unwrap_or(datagram.len());
            datagram = &datagram[zeros..];
            continue;
        }
        if first & 0x80 == 0 {
            // A short header (whose fixed bit a peer may grease, RFC 9287) runs to the
            // datagram's end.
            if datagram.iter().any(|&b| b != 0) {
                out.push(QuicPacket::Short(datagram));
            }
            return (out, false);
        }
        match long_packet(datagram) {
            Some((packet, used)) => {
                out.push(packet);
                datagram = &datagram[used..];
            }
            None => return (out, true),
        }
    }
    (out, false)
}

fn long_packet(b: &[u8]) -> Option<(QuicPacket<'_>, usize)> {
    let version = u32::from_be_bytes(b.get(1..5)?.try_into().ok()?);
    let dcid_len = *b.get(5)? as usize;
    let dcid = b.get(6..6 + dcid_len)?;
    let at = 6 + dcid_len;
    let scid_len = *b.get(at)? as usize;
    let scid = b.get(at + 1..at + 1 + scid_len)?;
    let mut at = at + 1 + scid_len;
    if version == 0 {
        let versions = b[at..]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        return Some((
            QuicPacket::VersionNegotiation {
                dcid,
                scid,
                versions,
            },
            b.len(),
        ));
    }
    if dcid_len > 20 || scid_len > 20 {
        return None;
    }
    let bits = (b[0] >> 4) & 0x03;
    let kind = match (version == VERSION_2, bits) {
        (false, 0) | (true, 1) => LongType::Initial,
        (false, 1) | (true, 2) => LongType::ZeroRtt,
        (false, 2) | (true, 3) => LongType::Handshake,
        _ => LongType::Retry,
    };
    let (token, bytes, pn_offset) = if kind == LongType::Retry {
        // The token, then a 16-byte integrity tag, to the end of the datagram.
        (b.get(at..b.len().checked_sub(16)?)?, b, 0)
    } else {
        let mut token: &[u8] = &[];
        if kind == LongType::Initial {
            let (len, n) = varint(&b[at..])?;
            token = b.get(at + n..at + n + usize::try_from(len).ok()?)?;
            at += n + token.len();
        }
        let (length, n) = varint(b.get(at..)?)?;
        let pn_offset = at + n;
        let end = pn_offset.checked_add(usize::try_from(length).ok()?)?;
        (token, b.get(..end)?, pn_offset)
    };
    let packet = LongPacket {
        version,
        kind,
        dcid,
        scid,
        token,
        bytes,
        pn_offset,
    };
    Some((QuicPacket::Long(packet), bytes.len()))
}

/// An opened Initial packet.
#[derive(Debug, PartialEq, Eq)]
pub struct OpenedPacket {
    /// The packet number as sent (truncated: Initials count from 0).
    pub packet_number: u64,
    pub payload: Vec<u8>,
}

impl LongPacket<'_> {
    /// Removes the header protection and opens the payload with `keys` (an Initial's
    /// keys, or a later space's); `None` when it does not authenticate (another
    /// connection's keys, or damaged).
    pub fn open(&self, keys: &impl Protection) -> Option<OpenedPacket> {
        if self.kind == LongType::Retry {
            return None;
        }
        let b = self.bytes;
        let sample: &[u8; 16] = b
            .get(self.pn_offset + 4..self.pn_offset + 20)?
            .try_into()
            .ok()?;
        let mask = keys.mask(sample);
        let first = b[0] ^ (mask[0] & 0x0f);
        let pn_len = usize::from(first & 0x03) + 1;
        let mut header = b.get(..self.pn_offset + pn_len)?.to_vec();
        header[0] = first;
        let mut packet_number = 0u64;
        for i in 0..pn_len {
            let byte = header[self.pn_offset + i] ^ mask[1 + i];
            header[self.pn_offset + i] = byte;
            packet_number = packet_number << 8 | u64::from(byte);
        }
        let payload = keys.open_payload(packet_number, &header, &b[self.pn_offset + pn_len..])?;
        Some(OpenedPacket {
            packet_number,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::frames::initial_frames;
    use super::super::initial::{initial_keys, VERSION_1};
    use super::*;
    use crate::keys::hex;

    /// The client's first Destination Connection ID of RFC 9001 Appendix A.
    const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

    /// RFC 9001 §A.3's server Initial (ACK + CRYPTO with the ServerHello).
    const SERVER_PAYLOAD: &str = "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739
        88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94
        0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00020304";

    fn check_server_packet(version: u32, packet: &str) {
        let datagram = hex(packet);
        let (read, stopped) = packets(&datagram);
        assert!(!stopped);
        let [QuicPacket::Long(p)] = read.as_slice() else {
            panic!("one long packet: {read:?}");
        };
        assert_eq!((p.version, p.kind), (version, LongType::Initial));
        assert!(p.dcid.is_empty());
        assert_eq!(p.scid, hex("f067a5502a4262b5"));
        let keys = initial_keys(version, &DCID).unwrap();
        let opened = p.open(&keys.server).expect("authenticates");
        assert_eq!(opened.packet_number, 1);
        assert_eq!(opened.payload, hex(SERVER_PAYLOAD));
        // The client's keys do not open the server's packet.
        assert!(p.open(&keys.client).is_none());
        let frames = initial_frames(&opened.payload);
        assert_eq!(frames.acks, 1);
        let (offset, hello) = frames.crypto[0];
        assert_eq!(offset, 0);
        let sh = crate::tls::hello::parse_server_hello(&hello[4..]).unwrap();
        assert_eq!(sh.cipher_suite.0, 0x1301);
        assert!(sh.version.is_tls13());
    }

    /// A sending host's capture holds a UDP GSO buffer as one datagram: a padded
    /// segment (the Initial, then zeros to the segment size), then the next segment's
    /// Initial; zeros followed by a short header are padding too, and zeros alone end it.
    #[test]
    fn reads_past_the_padding_of_a_segment() {
        let initial = hex(
            "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
             5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
             dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
             022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
             2158407dd074ee",
        );
        let segment = |next: &[u8]| {
            let mut d = initial.clone();
            d.resize(1252, 0);
            d.extend_from_slice(next);
            d
        };
        let two = segment(&initial);
        let (read, stopped) = packets(&two);
        assert!(!stopped);
        assert!(
            matches!(read.as_slice(), [QuicPacket::Long(a), QuicPacket::Long(b)]
                if a.kind == LongType::Initial && b.kind == LongType::Initial),
            "{read:?}"
        );
        let short = segment(&[0x41, 1, 2, 3]);
        let (read, _) = packets(&short);
        assert!(
            matches!(read.as_slice(), [QuicPacket::Long(_), QuicPacket::Short(s)] if s.len() == 4),
            "{read:?}"
        );
        let padded = segment(&[]);
        let (read, _) = packets(&padded);
        assert!(matches!(read.as_slice(), [QuicPacket::Long(_)]), "{read:?}");
    }

    #[test]
    fn opens_the_rfc_9001_server_initial() {
        check_server_packet(
            VERSION_1,
            "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
             5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
             dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
             022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
             2158407dd074ee",
        );
    }

    /// RFC 9369 Appendix A.3: the same server Initial in QUIC version 2.
    #[test]
    fn opens_the_rfc_9369_server_initial() {
        check_server_packet(
            VERSION_2,
            "dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698
             baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17
             f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2
             c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8
             4bed8521e2e140",
        );
    }

    #[test]
    fn reads_version_negotiation_and_stops_at_garbage() {
        let vn = hex("80 00000000 04 01020304 04 05060708 00000001 6b3343cf");
        let (read, _) = packets(&vn);
        assert_eq!(
            read,
            vec![QuicPacket::VersionNegotiation {
                dcid: &[1, 2, 3, 4],
                scid: &[5, 6, 7, 8],
                versions: vec![VERSION_1, VERSION_2],
            }]
        );
        let garbage = hex("c0 00000001 30");
        let (read, stopped) = packets(&garbage);
        assert!(read.is_empty() && stopped);
    }

    /// After the long-header packets: zeros are padding, other bytes a short-header
    /// packet, also one whose fixed bit (0x40) is greased away.
    #[test]
    fn tells_padding_from_a_short_header() {
        let handshake = "e0 00000001 00 00 04 00000000";
        for (tail, short) in [("000000", false), ("41aabb", true), ("01aabb", true)] {
            let datagram = hex(&format!("{handshake} {tail}"));
            let (read, stopped) = packets(&datagram);
            assert!(!stopped);
            assert!(matches!(read[0], QuicPacket::Long(_)), "{read:?}");
            assert_eq!(read.len(), 1 + usize::from(short), "{tail}: {read:?}");
        }
    }
}
