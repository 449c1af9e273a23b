//! A connection's endpoint as the record writes it: `client`/`server` as `ip:port`
//! (IPv6 in brackets) and `*_ip` as the address alone, spelled once into a stack buffer
//! (IPv4, nearly every record, digit by digit; IPv6 by the standard library).

use std::fmt::{self, Write};
use std::net::{IpAddr, SocketAddr};

/// `[` + the longest IPv6 text (45) + `]:` + 5 digits.
const MAX_LEN: usize = 53;

/// An endpoint spelled out: `[ip]:port` with the address at `ip`.
pub(super) struct Endpoint {
    buf: [u8; MAX_LEN],
    len: usize,
    ip: (usize, usize),
}

impl Endpoint {
    pub(super) fn of(addr: SocketAddr) -> Endpoint {
        let mut e = Endpoint {
            buf: [0; MAX_LEN],
            len: 0,
            ip: (0, 0),
        };
        match addr.ip() {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        e.push(b'.');
                    }
                    e.number(u32::from(octet));
                }
                e.ip = (0, e.len);
            }
            IpAddr::V6(v6) => {
                e.push(b'[');
                // An IPv6 address always fits (see MAX_LEN).
                let _ = write!(e, "{v6}");
                e.ip = (1, e.len);
                e.push(b']');
            }
        }
        e.push(b':');
        e.number(u32::from(addr.port()));
        e
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn number(&mut self, n: u32) {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &digits[i..] {
            self.push(d);
        }
    }

    /// `ip:port`, IPv6 in brackets.
    pub(super) fn as_str(&self) -> &str {
        // Only ASCII is written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    /// `ip:port` as bytes (ASCII).
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The address alone, as bytes (ASCII).
    pub(super) fn ip_bytes(&self) -> &[u8] {
        self.as_bytes()
            .get(self.ip.0..self.ip.1)
            .unwrap_or_default()
    }

    /// The address alone.
    pub(super) fn ip(&self) -> &str {
        self.as_str().get(self.ip.0..self.ip.1).unwrap_or_default()
    }
}

impl Write for Endpoint {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
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
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            let e = Endpoint::of(addr);
            assert_eq!(e.as_str(), addr.to_string());
            assert_eq!(e.ip(), addr.ip().to_string());
        }
    }
}
