//! An endpoint spelled as the standard library spells a `SocketAddr` (`ip:port`, IPv6 in
//! brackets, RFC 5952's zero runs), with the address and the port also on their own, into
//! a stack buffer: the wording names servers and clients this way in every failure's
//! summary and evidence, and JSON writes them as `client`/`client_ip`/`client_port`
//! (`json::endpoint`). An IPv4 octet's digits come from a table.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// `[` + the longest IPv6 text (45) + `]:` + 5 digits, and room for the port's digits
/// copied as a word of eight bytes ([`port_text`]).
const MAX_LEN: usize = 56;

/// The decimal digits of each octet value followed by a dot, as the low bytes of a
/// little-endian word, and how many digits there are.
const OCTET_WORDS: [(u32, u8); 256] = {
    let mut table = [(0u32, 0u8); 256];
    let mut n = 0;
    while n < 256 {
        let (hundreds, tens, ones) = (
            (b'0' + (n / 100) as u8) as u32,
            (b'0' + (n / 10 % 10) as u8) as u32,
            (b'0' + (n % 10) as u8) as u32,
        );
        let dot = b'.' as u32;
        table[n] = if n >= 100 {
            (hundreds | tens << 8 | ones << 16 | dot << 24, 3)
        } else if n >= 10 {
            (tens | ones << 8 | dot << 16, 2)
        } else {
            (ones | dot << 8, 1)
        };
        n += 1;
    }
    table
};

/// An endpoint spelled out: `[ip]:port` with the address at `ip`.
pub(crate) struct Endpoint {
    buf: [u8; MAX_LEN],
    len: usize,
    ip: (usize, usize),
    /// Where the port's digits start.
    port_at: usize,
}

impl Endpoint {
    pub(crate) fn of(addr: SocketAddr) -> Endpoint {
        let mut e = Endpoint {
            buf: [0; MAX_LEN],
            len: 0,
            ip: (0, 0),
            port_at: 0,
        };
        match addr.ip() {
            IpAddr::V4(v4) => {
                e.ipv4(v4.octets());
                e.ip = (0, e.len);
            }
            IpAddr::V6(v6) => {
                e.push(b'[');
                e.ipv6(v6);
                e.ip = (1, e.len);
                e.push(b']');
            }
        }
        e.push(b':');
        e.port_at = e.len;
        e.push_port(addr.port());
        e
    }

    /// A port's digits, written in place.
    fn push_port(&mut self, port: u16) {
        let (digits, count) = port_text(port);
        self.push_fixed(&digits, count);
    }

    /// An IPv4 address in dotted decimal ([`ipv4_text`]).
    fn ipv4(&mut self, octets: [u8; 4]) {
        let (text, len) = ipv4_text(octets);
        self.push_fixed(&text, len);
    }

    /// An IPv6 address as RFC 5952 and the standard library spell it: lower-case hex
    /// groups without leading zeros, the longest run of two or more zero groups (the
    /// first of equals) as `::`, an IPv4-mapped address as `::ffff:a.b.c.d`.
    fn ipv6(&mut self, v6: Ipv6Addr) {
        let groups = v6.segments();
        if let [0, 0, 0, 0, 0, 0xffff, ..] = groups {
            self.push_str(b"::ffff:");
            let [.., a, b, c, d] = v6.octets();
            self.ipv4([a, b, c, d]);
            return;
        }
        // The longest run of zero groups, as (start, length).
        let (mut best, mut run) = ((0, 0), (0, 0));
        for (i, &g) in groups.iter().enumerate() {
            if g == 0 {
                if run.1 == 0 {
                    run.0 = i;
                }
                run.1 += 1;
                if run.1 > best.1 {
                    best = run;
                }
            } else {
                run.1 = 0;
            }
        }
        let hex = |e: &mut Endpoint, groups: &[u16]| {
            for (i, &g) in groups.iter().enumerate() {
                if i > 0 {
                    e.push(b':');
                }
                let digits = (16 - g.leading_zeros()).div_ceil(4).max(1);
                for shift in (0..digits).rev() {
                    e.push(b"0123456789abcdef"[usize::from(g >> (4 * shift)) & 0xf]);
                }
            }
        };
        if best.1 < 2 {
            hex(self, &groups);
        } else {
            hex(self, &groups[..best.0]);
            self.push_str(b"::");
            hex(self, &groups[best.0 + best.1..]);
        }
    }

    /// Copies all of `bytes` (a copy of a fixed size) and keeps the first `used`.
    fn push_fixed(&mut self, bytes: &[u8], used: usize) {
        if let Some(slots) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            slots.copy_from_slice(bytes);
            self.len += used;
        }
    }

    fn push_str(&mut self, s: &[u8]) {
        self.push_fixed(s, s.len());
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// `ip:port`, IPv6 in brackets.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII is written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    /// The port's digits alone.
    pub(crate) fn port(&self) -> &str {
        self.as_str().get(self.port_at..).unwrap_or_default()
    }

    /// The address alone.
    pub(crate) fn ip(&self) -> &str {
        self.as_str().get(self.ip.0..self.ip.1).unwrap_or_default()
    }
}

/// An IPv4 address in dotted decimal at the start of 16 bytes (up to 15 used; the rest
/// is not zeroed), each octet's digits and dot from a table, and its length. The text is
/// put together in a register and stored whole where it goes: bytes stored one at a
/// time and read back as a block stall the CPU (its store-to-load forwarding fails),
/// which took a fifth of the compact JSON writer's time.
#[inline(always)]
pub(crate) fn ipv4_text(octets: [u8; 4]) -> ([u8; 16], usize) {
    let mut text = 0u128;
    let mut len = 0;
    for octet in octets {
        let (word, count) = OCTET_WORDS[usize::from(octet)];
        text |= u128::from(word) << (8 * len);
        len += usize::from(count) + 1;
    }
    // The last octet's dot is past the address.
    (text.to_le_bytes(), len - 1)
}

/// A port's decimal digits at the start of eight bytes (the rest not zeroed), and how
/// many there are: put together in a register, as [`ipv4_text`]'s.
#[inline(always)]
pub(crate) fn port_text(port: u16) -> ([u8; 8], usize) {
    let count = match port {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    };
    let n = u32::from(port);
    // All five digits, the most significant first, then the leading zeros shifted out.
    let digits = [
        n / 10_000,
        n / 1_000 % 10,
        n / 100 % 10,
        n / 10 % 10,
        n % 10,
    ];
    let word = digits.into_iter().enumerate().fold(0u64, |word, (i, d)| {
        word | u64::from(u32::from(b'0') + d) << (8 * i)
    });
    ((word >> (8 * (5 - count))).to_le_bytes(), count)
}

/// As `SocketAddr`'s `Display` writes it (the wording names servers and clients in
/// every failure's summary and evidence), from the spelled text.
impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `n` pseudo-random words, the same in every run (a linear congruential generator), for
/// tests that spell addresses and ports of every shape.
#[cfg(test)]
pub(crate) fn test_words(n: usize) -> impl Iterator<Item = u64> {
    let next = |state: &u64| {
        Some(
            state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1),
        )
    };
    std::iter::successors(Some(0x9e37_79b9_7f4a_7c15u64), next)
        .skip(1)
        .take(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the standard library spells them.
    #[test]
    fn endpoints_read_as_socket_addresses() {
        for text in [
            "10.0.0.5:51234",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[2001:db8::1]:443",
            "[::ffff:192.0.2.1]:8443",
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
            "[::]:1",
            "[::1]:2",
            "[1::]:3",
            "[2001:db8:0:1:1:1:1:1]:4",
            "[2001:0:0:1:0:0:0:1]:5",
            "[2001:db8:0:0:1:0:0:1]:6",
            "[0:0:1:0:0:0:0:1]:7",
            "[fe80::a:bc:def:1234]:8",
            "[::ffff:0.0.0.0]:9",
            "[::1.2.3.4]:10",
            "[64:ff9b::c000:221]:11",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            let e = Endpoint::of(addr);
            assert_eq!(e.as_str(), addr.to_string());
            assert_eq!(e.to_string(), addr.to_string());
            assert_eq!(e.ip(), addr.ip().to_string());
            assert_eq!(e.port(), addr.port().to_string());
        }
    }

    /// Addresses with zero groups anywhere and ports of every length, as the standard
    /// library spells them.
    #[test]
    fn ipv6_zero_runs_as_the_standard_library_writes_them() {
        for state in test_words(20_000) {
            let mut groups = [0u16; 8];
            for (i, g) in groups.iter_mut().enumerate() {
                let bits = state >> (i * 8);
                *g = if bits & 1 == 0 {
                    0
                } else {
                    (bits >> 1) as u16 & 0x0fff
                };
            }
            let addr = SocketAddr::new(IpAddr::V6(Ipv6Addr::from(groups)), (state >> 40) as u16);
            let e = Endpoint::of(addr);
            assert_eq!(e.as_str(), addr.to_string());
            assert_eq!(e.ip(), addr.ip().to_string());
            assert_eq!(e.port(), addr.port().to_string());
        }
    }
}
