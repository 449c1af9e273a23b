//! A connection's endpoints as the record's fields: `client`/`server` as `ip:port` (IPv6
//! in brackets), `*_ip` as the address alone and `*_port` as the number, spelled as the
//! wording spells them ([`Endpoint`]); an IPv4 endpoint's three fields are put together in
//! a stack buffer from the address's and the port's digits spelled once and appended to
//! the line from there ([`write_fields`]).

use std::net::SocketAddr;

use crate::report::endpoint::{ipv4_text, port_text, Endpoint};

/// The names of a side's three fields, each with what comes before its value:
/// `,"client":"`, `","client_ip":"` and `","client_port":`.
pub(super) type FieldNames = [&'static [u8]; 3];

pub(super) const CLIENT: FieldNames = [
    b",\"client\":\"",
    b"\",\"client_ip\":\"",
    b"\",\"client_port\":",
];

pub(super) const SERVER: FieldNames = [
    b",\"server\":\"",
    b"\",\"server_ip\":\"",
    b"\",\"server_port\":",
];

/// Writes a side's three fields, `,"client":"ip:port","client_ip":"ip","client_port":
/// port`: an IPv4 endpoint's into one buffer from the address's and the port's digits
/// spelled once, any other through [`Endpoint`].
#[inline(always)]
pub(super) fn write_fields(out: &mut Vec<u8>, names: FieldNames, addr: SocketAddr) {
    let SocketAddr::V4(v4) = addr else {
        let e = Endpoint::of(addr);
        out.extend_from_slice(names[0]);
        out.extend_from_slice(e.as_str().as_bytes());
        out.extend_from_slice(names[1]);
        out.extend_from_slice(e.ip().as_bytes());
        out.extend_from_slice(names[2]);
        out.extend_from_slice(e.port().as_bytes());
        return;
    };
    let (ip, ip_len) = ipv4_text(v4.ip().octets());
    let (port_digits, port_len) = port_text(v4.port());
    // The address and the port copied whole (copies of a fixed size, a few
    // instructions each), the buffer's end past them written over.
    let mut buf = [0u8; 160];
    let mut len = 0;
    let mut put = |part: &[u8], used: usize| {
        buf[len..len + part.len()].copy_from_slice(part);
        len += used;
    };
    put(names[0], names[0].len());
    put(&ip, ip_len);
    put(b":", 1);
    put(&port_digits, port_len);
    put(names[1], names[1].len());
    put(&ip, ip_len);
    put(names[2], names[2].len());
    put(&port_digits, port_len);
    out.extend_from_slice(&buf[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::endpoint::test_words;
    use std::net::{IpAddr, Ipv4Addr};

    /// An IPv4 endpoint's fields, with addresses and ports of every length, and an IPv6
    /// endpoint's, as the standard library spells them.
    #[test]
    fn fields_spell_endpoints_as_the_standard_library() {
        for state in test_words(20_000) {
            let v4 = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from((state >> 8) as u32)),
                (state >> 40) as u16 >> (state >> 60),
            );
            let mut fields = Vec::new();
            write_fields(&mut fields, CLIENT, v4);
            let (ip, port) = (v4.ip(), v4.port());
            assert_eq!(
                String::from_utf8(fields).unwrap(),
                format!(",\"client\":\"{v4}\",\"client_ip\":\"{ip}\",\"client_port\":{port}")
            );
        }
        for text in [
            "[2001:db8::1]:443",
            "[::ffff:192.0.2.1]:8443",
            "[::]:0",
            "10.0.0.5:1",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            let (ip, port) = (addr.ip(), addr.port());
            let mut fields = Vec::new();
            write_fields(&mut fields, CLIENT, addr);
            write_fields(&mut fields, SERVER, addr);
            assert_eq!(
                String::from_utf8(fields).unwrap(),
                format!(
                    ",\"client\":\"{addr}\",\"client_ip\":\"{ip}\",\"client_port\":{port}\
                     ,\"server\":\"{addr}\",\"server_ip\":\"{ip}\",\"server_port\":{port}"
                )
            );
        }
    }
}
