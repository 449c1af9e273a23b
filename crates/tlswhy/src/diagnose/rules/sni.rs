//! Server names: none sent, an IP literal, or a name the server does not serve.

use super::Ctx;
use crate::diagnose::detail::Detail;
use crate::diagnose::verdict::{Finding, Fix, ServerReaction};
use crate::diagnose::Verdict;
use crate::tls::facts::Seen;
use crate::tls::hello::ClientHelloFacts;
use crate::tls::wire::ProtocolVersion;

/// The name the client sent (or did not) is the cause; `reaction` is how the server
/// answered it.
pub(super) fn sni_failure(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    mut evidence: Vec<Detail>,
    reaction: ServerReaction,
) -> Verdict {
    let c = &ch.value;
    let names = cx.known_certificate_names();
    if !names.is_empty() && cx.leaf().is_none() {
        evidence.push(Detail::ProfileCertificateNames {
            names: names.clone(),
        });
    }
    // A name to connect by: one of the certificate's, not a wildcard.
    let suggestion = names
        .iter()
        .find(|n| !n.contains(' ') && !n.contains('*'))
        .cloned();
    if let Some(ip) = c.server_name_ip() {
        // Behind a relay the client's own port is not this connection's.
        let port = (cx.server().ip() == ip).then(|| cx.server().port());
        return Verdict::new(
            Finding::SniIpLiteral { ip, reaction },
            evidence,
            Fix::ConnectByNameNotAddress {
                suggestion,
                port,
                ip,
            },
        );
    }
    match &c.server_name {
        None => Verdict::new(
            Finding::SniMissing { reaction },
            evidence,
            Fix::SendServerName {
                suggestion,
                port: cx.server().port(),
                ip: cx.server().ip(),
            },
        ),
        Some(name) => Verdict::new(
            Finding::SniUnrecognized {
                name: name.clone(),
                reaction,
            },
            evidence,
            Fix::ServeName { name: name.clone() },
        ),
    }
}

/// The server closed at once (a FIN) on a hello that asked for no host name (none, or
/// an IP address), and other connections show it answering hellos that named a host
/// and never one that did not: it routes by name (an SNI proxy — HAProxy
/// `req_ssl_sni`, nginx `ssl_preread`, Traefik, Envoy's filter chains) and had no route
/// for this one. `evidence` ends with the server's close.
pub(super) fn closed_for_want_of_a_host_name(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    evidence: Vec<Detail>,
) -> Option<Verdict> {
    let c = &ch.value;
    if c.host_name().is_some()
        || c.server_name_ip()
            .is_some_and(|ip| ip_literal_covered(cx, ip))
    {
        return None;
    }
    if !cx.profile()?.answers_only_host_names() {
        return None;
    }
    Some(sni_failure(
        cx,
        ch,
        evidence,
        ServerReaction::ClosedConnection,
    ))
}

/// A server that failed with internal_error before its ServerHello, to a hello that
/// named a host or asked for no name at all, found no certificate for it: servers that
/// pick the certificate in code by the name asked for (Go's `GetCertificate`: Caddy,
/// autocert, on-demand TLS) answer a name they hold nothing for, or a missing name, this
/// way. Not when other connections show the server answering what this hello asked for
/// (a hello without a name, or this name), nor for a hello of TLS 1.1 at most (OpenSSL
/// refuses old versions with internal_error too; Go with protocol_version).
pub(super) fn no_certificate_for_the_name(cx: &Ctx<'_>, c: &ClientHelloFacts) -> bool {
    if c.server_name_ip().is_some() || c.highest_version().rank() < ProtocolVersion::TLS1_2.rank() {
        return false;
    }
    let profile = cx.profile();
    match c.host_name() {
        None => profile.is_none_or(|p| p.answered_by_host_name[1] == 0),
        Some(name) => profile.is_none_or(|p| {
            !p.chain_by_server_name.contains_key(name) && !p.certificate_names.contains(name)
        }),
    }
}

/// The server is seen to present a certificate covering `ip` (this connection's, or one
/// it showed others): an IP literal as the name is then no reason for it to refuse.
pub(super) fn ip_literal_covered(cx: &Ctx<'_>, ip: std::net::IpAddr) -> bool {
    let text = ip.to_string();
    cx.leaf().is_some_and(|l| l.covers(&text))
        || cx
            .profile()
            .is_some_and(|p| p.certificate_names.contains(&text))
}
