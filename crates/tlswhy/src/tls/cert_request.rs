//! The CertificateRequest's list of the certificate authorities the server accepts
//! client certificates from (TLS ≤ 1.2: `certificate_authorities` in the message, RFC
//! 5246 §7.4.4; TLS 1.3: the `certificate_authorities` extension, RFC 8446 §4.2.4), as
//! distinguished names.

use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use super::hello::split_extensions;

/// The certificate_authorities extension (RFC 8446 §4.2.4).
const CERTIFICATE_AUTHORITIES: u16 = 47;

/// Names kept from one list (a server may send its whole trust store).
pub const MAX_ACCEPTED_ISSUERS: usize = 16;

/// The issuers a CertificateRequest body accepts, in order (none when the list is
/// absent, empty or does not parse). `tls13`: the TLS 1.3 form; `signature_algorithms`:
/// a TLS 1.2 body carries its signature algorithms before the list (TLS 1.0 and 1.1
/// do not).
pub fn accepted_issuers(body: &[u8], tls13: bool, signature_algorithms: bool) -> Vec<String> {
    let list = if tls13 {
        tls13_authorities(body)
    } else {
        tls12_authorities(body, signature_algorithms)
    };
    list.map(names).unwrap_or_default()
}

fn tls12_authorities(body: &[u8], signature_algorithms: bool) -> Option<&[u8]> {
    let types = *body.first()? as usize;
    let mut rest = body.get(1 + types..)?;
    if signature_algorithms {
        let len = u16_at(rest, 0)?;
        rest = rest.get(2 + len..)?;
    }
    let len = u16_at(rest, 0)?;
    rest.get(2..2 + len)
}

fn tls13_authorities(body: &[u8]) -> Option<&[u8]> {
    let context = *body.first()? as usize;
    let rest = body.get(1 + context..)?;
    let len = u16_at(rest, 0)?;
    let extensions = rest.get(2..2 + len)?;
    let (_, data) = split_extensions(extensions).find(|&(ty, _)| ty == CERTIFICATE_AUTHORITIES)?;
    let len = u16_at(data, 0)?;
    data.get(2..2 + len)
}

/// DistinguishedName entries (`opaque DistinguishedName<1..2^16-1>`), each as text.
fn names(mut list: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    while names.len() < MAX_ACCEPTED_ISSUERS {
        let Some(len) = u16_at(list, 0) else { break };
        let Some(der) = list.get(2..2 + len) else {
            break;
        };
        list = &list[2 + len..];
        match X509Name::from_der(der) {
            Ok((_, name)) => names.push(name.to_string()),
            Err(_) => names.push(format!("(a name of {len} bytes that does not parse)")),
        }
    }
    names
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of the name `CN=ca` (a SEQUENCE of one RDN with commonName "ca").
    const CN_CA: &[u8] = &[
        0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'c', b'a',
    ];

    fn list() -> Vec<u8> {
        let mut l = (CN_CA.len() as u16 + 2).to_be_bytes().to_vec();
        l.extend((CN_CA.len() as u16).to_be_bytes());
        l.extend(CN_CA);
        l
    }

    #[test]
    fn reads_the_tls12_list_with_and_without_signature_algorithms() {
        let mut body = vec![1, 1, 0, 2, 4, 1];
        body.extend(list());
        assert_eq!(accepted_issuers(&body, false, true), ["CN=ca"]);
        let mut old = vec![1, 1];
        old.extend(list());
        assert_eq!(accepted_issuers(&old, false, false), ["CN=ca"]);
        assert!(accepted_issuers(&[1, 1, 0, 2, 4, 1, 0, 0], false, true).is_empty());
        assert!(accepted_issuers(&[9], false, true).is_empty());
    }

    #[test]
    fn reads_the_tls13_extension() {
        let l = list();
        let mut ext = vec![0, 13, 0, 2, 4, 1];
        ext.extend(47u16.to_be_bytes());
        ext.extend((l.len() as u16).to_be_bytes());
        ext.extend(&l);
        let mut body = vec![0];
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(ext);
        assert_eq!(accepted_issuers(&body, true, true), ["CN=ca"]);
        assert!(accepted_issuers(&[0, 0, 0], true, true).is_empty());
    }
}
