//! The fix in words: what to change, on which side, with the values from the packets.

use super::{alert_or_encrypted, suite_list, version_list};
use crate::diagnose::verdict::Fix;
use crate::diagnose::Verdict;

fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The verdict's fix: what to change, and on which side.
/// Every value it names is in the fix itself, so unlike the summary and evidence it
/// needs no context.
pub fn fix(v: &Verdict) -> String {
    match &v.fix {
        Fix::Nothing => "Nothing to change.".into(),
        Fix::ListenOnPort { port } => format!(
            "Server side: start the TLS service on port {port} or point the client at the port it really listens on; check that a firewall is not rejecting the connection."
        ),
        Fix::MakeReachable => "Network path: check that the server is up and reachable and that no firewall silently drops packets to this port.".into(),
        Fix::CaptureLongerAfterSyn => "Capture for longer to see how the connection ends.".into(),
        Fix::CaptureBothDirections => "Capture where both directions pass (both legs of asymmetric routing, or on an endpoint).".into(),
        Fix::ClientUseTls { port } => format!(
            "Client side: use TLS for this port (https:// instead of http://, or enable TLS in the client's configuration), or connect to the server's plain-text port instead of {port}."
        ),
        Fix::CaptureFromStart => "Start the capture before the client connects (or capture on both ends) to see the handshake.".into(),
        Fix::FixClientRecords => "Client side: the TLS implementation (or something rewriting its traffic) is sending invalid records; update or fix it.".into(),
        Fix::CaptureWithoutLossNearEndpoints => "Capture with a larger buffer or snap length, closer to the endpoints, so no segment is lost.".into(),
        Fix::CaptureLongerOrLargerSnap => "Capture for longer, or with a larger snap length.".into(),
        Fix::ClientUseTlsPortOrStarttls => "Client side: connect to the service's TLS port, or use the protocol's plain-text upgrade (STARTTLS) if it has one.".into(),
        Fix::ClientExplainEarlyClose => "Client side: find out why the client gave up before starting TLS (a health check, a port scan, or a client-side error before the handshake).".into(),
        Fix::ServerExplainRefusal => "Server side: check the server's logs; it refuses this client (connection limits, access lists) before TLS starts.".into(),
        Fix::CaptureLongerForHandshake => "Capture for longer to see the handshake.".into(),
        Fix::UseTlsPortOrEnableTls { port } => format!(
            "Client side: connect to the service's TLS port (or use plain text / STARTTLS on port {port}); server side: enable TLS on this port if it is meant to be one."
        ),
        Fix::CaptureWithoutLoss => "Capture again without loss (larger capture buffer, no snap length, capture on an endpoint rather than a busy span port).".into(),
        Fix::ConfigureClientCertificate => "Client side: configure a client certificate and key signed by a CA the server trusts (curl --cert/--key, openssl s_client -cert/-key); or, server side, make client certificates optional (nginx: ssl_verify_client optional).".into(),
        Fix::ConfigureClientCertificateTls13 => "Client side: configure a client certificate and key signed by a CA the server trusts (curl --cert/--key, openssl s_client -cert/-key); or, server side, make client certificates optional.".into(),
        Fix::UseTrustedClientCertificate => "Client side: use a certificate issued by a CA the server trusts (and send the intermediates), valid now; or, server side, add the client certificate's issuer to the trusted client CAs (nginx: ssl_client_certificate).".into(),
        Fix::UseTrustedClientCertificateTls13 => "Client side: use a certificate issued by a CA the server trusts (and send the intermediates); or, server side, trust the client certificate's issuer.".into(),
        Fix::FixImplementation { sender } => format!(
            "{} side: update or fix the TLS implementation (or whatever rewrites its traffic on the way); the peer rejected its messages as invalid.",
            capitalized(sender.sender())
        ),
        Fix::FixImplementationOrMiddlebox { sender } => format!(
            "{} side: fix or update the TLS implementation (or the middlebox rewriting it).",
            capitalized(sender.sender())
        ),
        Fix::ReadSenderLog { sender, alert } => format!(
            "Look at the {} side's log for the reason it sent {}; the packets do not narrow it further.",
            sender.sender(),
            alert_or_encrypted(*alert)
        ),
        Fix::EnableCommonAlpn {
            client_offers,
            server_selects,
        } => {
            let offered = if client_offers.is_empty() {
                "none".to_string()
            } else {
                client_offers.join(", ")
            };
            if server_selects.is_empty() {
                format!(
                    "Enable a common application protocol: configure the server to accept one the client offers ({offered}), or the client to offer one the server supports."
                )
            } else {
                format!(
                    "Enable a common application protocol: the client offers {offered}, and for other clients the server selects {}; add one of those to the client's ALPN list, or configure the server to accept one the client offers.",
                    server_selects.join(", ")
                )
            }
        }
        Fix::ConfigureCommonAlpn => "Configure a common ALPN protocol on both sides.".into(),
        Fix::CompareGroupsAndSignatures => "Compare the client's supported_groups and signature_algorithms with the server's configuration (e.g. nginx ssl_ecdh_curve, OpenSSL -groups/-sigalgs) and the server's error log.".into(),
        Fix::EnableCommonGroup { client_offers } if client_offers.is_empty() => "Offer x25519 or secp256r1 on the client (openssl -groups, curl --curves, Go CurvePreferences, Java jdk.tls.namedGroups): the groups it offers are obsolete.".into(),
        Fix::EnableCommonGroup { client_offers } => format!(
            "Offer x25519 or secp256r1 on the client (openssl -groups, curl --curves, Go CurvePreferences, Java jdk.tls.namedGroups), or enable one of {} on the server (nginx ssl_ecdh_curve, Apache SSLOpenSSLConfCmd Groups, OpenSSL -groups).",
            super::group_list(client_offers)
        ),
        Fix::EnableCommonSuite {
            client_offers,
            server_picks,
        } => {
            let example_offered = suite_list(client_offers);
            if server_picks.is_empty() {
                format!(
                    "Enable a common suite: on the server add one of the client's suites (e.g. {example_offered}) to its cipher list (nginx: ssl_ciphers), or widen the client's cipher list."
                )
            } else if client_offers.is_empty() {
                format!(
                    "Enable a common suite: on the client enable one the server picks: {}.",
                    suite_list(server_picks)
                )
            } else {
                format!(
                    "Enable a common suite on one side. Server side (preferred, stronger): add suites this client offers, e.g. {example_offered} (nginx: ssl_ciphers; OpenSSL: -cipher). Client side: enable one the server picks: {}.",
                    suite_list(server_picks)
                )
            }
        }
        Fix::UpgradeInsecureSuites { client, insecure } => {
            let (side, other) = if *client {
                ("Client", "server")
            } else {
                ("Server", "client")
            };
            format!(
                "{side} side: it offers only insecure suites ({}); upgrade its TLS library or configuration to current suites. Do not enable these on the {other}.",
                suite_list(insecure)
            )
        }
        Fix::UpgradeInsecureVersions { client, versions } => {
            let (side, other) = if *client {
                ("Client", "server")
            } else {
                ("Server", "client")
            };
            format!(
                "{side} side: it speaks only {}, which are insecure; upgrade it to TLS 1.2 or later. Do not enable these versions on the {other}.",
                version_list(versions).join("/")
            )
        }
        Fix::ConnectByNameNotAddress {
            suggestion,
            port,
            ip,
        } => {
            let how = match (suggestion, port) {
                (Some(name), Some(port)) => format!(
                    "connect by host name ({name}) so the client sends it as SNI — e.g. curl --resolve {name}:{port}:{ip}, or a hosts entry"
                ),
                (Some(name), None) => format!(
                    "connect by host name ({name}) so the client sends it as SNI — e.g. a hosts entry mapping {name} to {ip}"
                ),
                (None, _) => {
                    "connect by the server's host name instead of its address, so the client sends it as SNI".to_string()
                }
            };
            format!(
                "Client side: {how}; if the connection goes through a relay addressed by IP, have the relay rewrite or set SNI, or give the server a certificate that covers {ip}."
            )
        }
        Fix::SendServerName {
            suggestion,
            port,
            ip,
        } => {
            let by_name = match suggestion {
                Some(name) => format!(
                    "connect by name ({name}) rather than by IP address (e.g. curl --resolve {name}:{port}:{ip})"
                ),
                None => "connect by name rather than by IP address".to_string(),
            };
            format!(
                "Client side: send the server's host name as SNI — {by_name}, or set the name explicitly (openssl s_client -servername); server side: give the default server a certificate for the names clients use."
            )
        }
        Fix::ServeName { name } => format!(
            "Either the client uses the wrong host name (check its URL/configuration against the names the server serves), or the server needs a virtual host for '{name}' (nginx: a server block with server_name {name} and a certificate for it)."
        ),
        Fix::OverlapVersions {
            server_versions,
            client_versions,
        } => {
            if crate::diagnose::verdict::only_the_server_can_move(server_versions, client_versions) {
                return format!(
                    "Server side: allow {} on the server (nginx: ssl_protocols; OpenSSL: -tls1_2/-tls1_3, MinProtocol); the client already offers the current versions.",
                    version_list(client_versions).join("/")
                );
            }
            let client_side = if server_versions.is_empty() {
                "update the client's TLS library to a version the server accepts".to_string()
            } else {
                format!(
                    "enable {} on the client (or update its TLS library)",
                    version_list(server_versions).join("/")
                )
            };
            let server_side = if client_versions.is_empty() {
                "allow current versions on the server".to_string()
            } else {
                format!(
                    "allow {} on the server",
                    version_list(client_versions).join("/")
                )
            };
            format!(
                "Make the version ranges overlap: {client_side}, or {server_side} (nginx: ssl_protocols; OpenSSL: -tls1_2/-tls1_3, MinProtocol)."
            )
        }
        Fix::RenewCertificate => "Server side: renew the certificate (and check that the server was reloaded); if the dates look right, check the client's clock.".into(),
        Fix::RenewCertificateOrCheckClock => "Server side: renew the certificate; if it is valid, check the client's clock.".into(),
        Fix::CheckClockNotYetValid => "Client side: check the client's clock (and the capturing machine's): a clock behind makes a certificate look not valid yet; if the clocks are right, the certificate was issued with a start date in the future — server side, reissue it.".into(),
        Fix::ReplaceSelfSigned => "Server side: use a certificate issued by a CA the clients trust; or, client side, add this certificate to the client's trust store if it is meant to be trusted.".into(),
        Fix::ReplaceOrTrustSelfSigned => "Server side: use a certificate issued by a CA the clients trust; or trust this certificate explicitly on the client.".into(),
        Fix::SendFullChain => "Server side: send the full chain (leaf plus intermediates; nginx: ssl_certificate pointing at the full-chain file); client side: trust the issuing CA if it is a private one.".into(),
        Fix::TrustIssuer => "Client side: add the issuing CA to the client's trust store (e.g. curl --cacert, SSL_CERT_FILE); server side: use a certificate from a CA the clients trust, and send its intermediates.".into(),
        Fix::CoverName { name } => format!(
            "Either the client uses the name the certificate is for, or the server presents a certificate that covers '{name}' (add it as a subjectAltName)."
        ),
        Fix::ReadClientError => "Client side: look at the client's error (trust store, name, validity, revocation); the TLS 1.3 certificate is encrypted, so capture with a TLS 1.2 client or a key log (SSLKEYLOGFILE) to see it.".into(),
        Fix::ReadClientLog => "Client side: check the client's log; it gave up on the server's certificate or parameters without saying why.".into(),
        Fix::ReadServerLogTls13 => "Server side: check its log for the alert's reason; in TLS 1.3 this is typically a client certificate that is missing or not accepted.".into(),
        Fix::CheckServerAndFilters { server_name } => format!(
            "Server side / network path: check the server's log and any firewall, IPS or proxy that inspects TLS; a reset right after the ClientHello often means a filter on the server name ({}) or a server that does not support this client's TLS parameters at all.",
            server_name
                .as_deref()
                .map_or_else(|| "no server name".to_string(), |n| format!("'{n}'"))
        ),
        Fix::ReadServerErrorLog => "Server side: check the server's error log; it dropped the handshake without an alert (unsupported client parameters, an overloaded or misconfigured server, or a service that is not TLS).".into(),
        Fix::CheckPathForLargeHello => "Network path: the ClientHello never reached the server whole; something in between drops its later segments or larger packets (an MTU black hole, a firewall or load balancer that reads only the first segment; hellos with post-quantum key shares span two segments). Check the path MTU and MSS clamping and the middleboxes in between; to confirm, retry with a smaller hello (the post-quantum group off).".into(),
        Fix::CheckHungServer => "Server side: the service is hung, overloaded or not a TLS server waiting for the client to speak first; check it and anything in between that could swallow the ClientHello (a proxy, an MTU problem with large ClientHellos).".into(),
        Fix::CheckClientTimeout => "Client side: check the client's timeout and log; it gave up before the server could answer.".into(),
        Fix::ReadClientLogAbort => "Client side: check the client's log; it gave up (a timeout, or a rejection of the server's certificate or parameters that it did not announce with an alert).".into(),
        Fix::ReadServerLogDrop => "Server side: check the server's error log for why it dropped the handshake.".into(),
        Fix::CaptureUntilClose => "Capture for longer (until the connection closes) to see the outcome.".into(),
        Fix::RaiseLimit => "Raise the limit (see tlswhy analyze --help) or split the capture (editcap -c).".into(),
        Fix::ListenOnUdpPort { port } => format!(
            "Server side: start the QUIC (HTTP/3) service on UDP port {port}, or stop advertising HTTP/3 there (Alt-Svc, HTTPS DNS records) so that clients do not try it."
        ),
        Fix::AllowUdp { port } => format!(
            "Network path: allow UDP to port {port} (QUIC) through the firewalls between client and server (and on the server's host); clients otherwise wait for their QUIC timeout before using TCP."
        ),
        Fix::EnableCommonQuicVersion { client, server } => format!(
            "Either side: enable a QUIC version both speak — {} on the server, or one of {} on the client.",
            crate::quic::version_name(*client),
            crate::quic::version_list(server, false)
        ),
        Fix::KeepQuicConnectionState => "Server side: a connection's packets must reach the server (instance) that holds its state — route QUIC by connection ID, not by address and port alone (QUIC-aware load balancing), keep connections across restarts or drain them, and give the handshake and idle timeouts room for the path's delay.".into(),
    }
}
