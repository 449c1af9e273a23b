//! Versions: the ranges of client and server do not overlap.

use super::Ctx;
use crate::diagnose::detail::Detail;
use crate::diagnose::verdict::{Finding, Fix};
use crate::diagnose::Verdict;
use crate::flow::Dir;
use crate::tls::facts::Seen;
use crate::tls::hello::ClientHelloFacts;
use crate::tls::wire::ProtocolVersion;

/// A protocol_version alert from `from`'s side: what the client offers, what the server
/// negotiates elsewhere, and the ServerHello if there was one.
pub(super) fn version_mismatch(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    mut evidence: Vec<Detail>,
    from: Dir,
) -> Verdict {
    let c = &ch.value;
    evidence.push(if c.supported_versions.is_empty() {
        Detail::VersionsOffered {
            versions: vec![c.legacy_version],
            legacy_only: true,
        }
    } else {
        Detail::VersionsOffered {
            versions: c.supported_versions.clone(),
            legacy_only: false,
        }
    });
    let server_versions: Vec<ProtocolVersion> = cx
        .profile()
        .map(|p| {
            p.versions_picked
                .keys()
                .map(|&v| ProtocolVersion(v))
                .collect()
        })
        .unwrap_or_default();
    if !server_versions.is_empty() {
        evidence.push(Detail::ProfileVersions {
            versions: server_versions.clone(),
        });
    }
    if let Some(sh) = &cx.facts.server_hello {
        evidence.push(Detail::ServerHello {
            at: sh.at,
            version: sh.value.version,
            cipher_suite: sh.value.cipher_suite,
        });
    }
    let finding = match from {
        Dir::ToClient => Finding::NoCommonVersion {
            client_highest: c.highest_version(),
        },
        Dir::ToServer => Finding::VersionRefusedByClient,
    };
    let client_versions: Vec<ProtocolVersion> = if c.supported_versions.is_empty() {
        vec![c.legacy_version]
    } else {
        c.supported_versions
            .iter()
            .copied()
            .filter(|v| v.rank() > 0)
            .collect()
    };
    Verdict::new(
        finding,
        evidence,
        version_fix(server_versions, client_versions),
    )
}

/// The ServerHello picked TLS 1.1 or older for a client that offers TLS 1.2 or newer:
/// modern clients refuse old versions their hello still lists.
pub(super) fn server_picked_refused_version(cx: &Ctx<'_>, ch: &Seen<ClientHelloFacts>) -> bool {
    let Some(sh) = &cx.facts.server_hello else {
        return false;
    };
    let picked = sh.value.version;
    let highest = ch.value.highest_version();
    picked.rank() > 0
        && picked.rank() <= ProtocolVersion::TLS1_1.rank()
        && highest.rank() >= ProtocolVersion::TLS1_2.rank()
}

/// Make the ranges overlap with versions that are not insecure; when one side speaks
/// only insecure ones, upgrade that side.
fn version_fix(server: Vec<ProtocolVersion>, client: Vec<ProtocolVersion>) -> Fix {
    let only_insecure = |v: &[ProtocolVersion]| !v.is_empty() && v.iter().all(|v| v.is_insecure());
    if only_insecure(&server) {
        return Fix::UpgradeInsecureVersions {
            client: false,
            versions: server,
        };
    }
    if only_insecure(&client) {
        return Fix::UpgradeInsecureVersions {
            client: true,
            versions: client,
        };
    }
    let secure = |v: Vec<ProtocolVersion>| v.into_iter().filter(|v| !v.is_insecure()).collect();
    Fix::OverlapVersions {
        server_versions: secure(server),
        client_versions: secure(client),
    }
}
