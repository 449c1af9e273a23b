//! rustlspeer: a TLS client and server on rustls (ring provider), for captures/record.sh.
//!
//!   rustlspeer server --addr 127.0.0.1:4453 --cert C --key K [--alpn h2] [--versions 1.2,1.3]
//!                     [--clientca CA]          (require a client certificate from CA)
//!   rustlspeer client --addr 127.0.0.1:4453 --sni NAME --ca CA [--alpn h2]
//!                     [--versions 1.2,1.3] [--mode get|probe|hold] [--hold SECS] [--timeout SECS]
//!                     [--cert C --key K]       (a client certificate, sent when asked for)
//!
//! Client modes: get (an HTTP/1.0 GET, read the answer, close_notify, close), probe
//! (handshake, then close_notify and close: a health check), hold (handshake, then keep
//! the connection open for --hold seconds). --timeout bounds connect + handshake.
//! The server answers each request with a short HTTP/1.0 response and serves until killed.
//! Only loopback addresses are accepted.
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("rustlspeer: {msg}");
    std::process::exit(1)
}

fn parse(args: &[String]) -> HashMap<String, String> {
    let mut o = HashMap::new();
    for pair in args.chunks(2) {
        match pair {
            [k, v] if k.starts_with("--") => {
                o.insert(k[2..].to_string(), v.clone());
            }
            _ => fail(format!("bad arguments {pair:?}")),
        }
    }
    o
}

fn address(addr: &str) -> SocketAddr {
    let a: SocketAddr = addr
        .parse()
        .unwrap_or_else(|e| fail(format!("{addr}: {e}")));
    if !a.ip().is_loopback() {
        fail(format!("refusing non-loopback address {addr}"));
    }
    a
}

fn versions(o: &HashMap<String, String>) -> Vec<&'static rustls::SupportedProtocolVersion> {
    let list = o.get("versions").map(String::as_str).unwrap_or("1.2,1.3");
    list.split(',')
        .map(|v| match v {
            "1.2" => &rustls::version::TLS12,
            "1.3" => &rustls::version::TLS13,
            _ => fail(format!("unknown TLS version {v}")),
        })
        .collect()
}

fn roots(file: &str) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(file).unwrap_or_else(|e| fail(format!("{file}: {e}"))) {
        roots
            .add(c.unwrap_or_else(|e| fail(format!("{file}: {e}"))))
            .unwrap_or_else(|e| fail(e));
    }
    roots
}

fn alpn(o: &HashMap<String, String>) -> Vec<Vec<u8>> {
    o.get("alpn")
        .map(|a| a.split(',').map(|p| p.as_bytes().to_vec()).collect())
        .unwrap_or_default()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server(o: HashMap<String, String>) {
    let get = |k: &str| o.get(k).unwrap_or_else(|| fail(format!("--{k} missing")));
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(get("cert"))
        .and_then(|i| i.collect())
        .unwrap_or_else(|e| fail(e));
    let key = PrivateKeyDer::from_pem_file(get("key")).unwrap_or_else(|e| fail(e));
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(&o))
        .unwrap_or_else(|e| fail(e));
    let builder = match o.get("clientca") {
        Some(ca) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)), provider())
                .build()
                .unwrap_or_else(|e| fail(e)),
        ),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .unwrap_or_else(|e| fail(e));
    config.alpn_protocols = alpn(&o);
    let config = Arc::new(config);
    let listener = TcpListener::bind(address(get("addr"))).unwrap_or_else(|e| fail(e));
    println!("ready");
    for sock in listener.incoming() {
        let Ok(sock) = sock else { continue };
        let config = config.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(config, sock) {
                println!("connection failed: {e}");
            }
        });
    }
}

fn serve(config: Arc<ServerConfig>, mut sock: TcpStream) -> std::io::Result<()> {
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut conn = ServerConnection::new(config).map_err(std::io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    println!(
        "handshake: {:?} {:?}",
        conn.protocol_version(),
        conn.negotiated_cipher_suite()
    );
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return Ok(()), // the client left without a request (a probe)
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    tls.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from rustls\n")?;
    conn.send_close_notify();
    conn.complete_io(&mut sock)?;
    Ok(())
}

fn client(o: HashMap<String, String>) {
    let get = |k: &str| o.get(k).unwrap_or_else(|| fail(format!("--{k} missing")));
    let sni = get("sni").clone();
    let mode = o.get("mode").map(String::as_str).unwrap_or("get");
    let timeout: f64 = o
        .get("timeout")
        .map_or(8.0, |t| t.parse().unwrap_or_else(|e| fail(e)));
    let timeout = Duration::from_secs_f64(timeout);
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(&o))
        .unwrap_or_else(|e| fail(e))
        .with_root_certificates(roots(get("ca")));
    let mut config = match o.get("cert") {
        Some(cert) => {
            let chain: Vec<CertificateDer> = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect())
                .unwrap_or_else(|e| fail(e));
            let key = PrivateKeyDer::from_pem_file(get("key")).unwrap_or_else(|e| fail(e));
            config
                .with_client_auth_cert(chain, key)
                .unwrap_or_else(|e| fail(e))
        }
        None => config.with_no_client_auth(),
    };
    config.alpn_protocols = alpn(&o);
    let name = ServerName::try_from(sni.clone()).unwrap_or_else(|e| fail(e));
    let mut conn = ClientConnection::new(Arc::new(config), name).unwrap_or_else(|e| fail(e));
    let start = Instant::now();
    let mut sock =
        TcpStream::connect_timeout(&address(get("addr")), timeout).unwrap_or_else(|e| fail(e));
    sock.set_read_timeout(Some(timeout))
        .unwrap_or_else(|e| fail(e));
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            println!(
                "handshake failed after {:.1}s: {e}",
                start.elapsed().as_secs_f64()
            );
            // rustls queues its alert; send it before closing, as a real client would.
            let _ = conn.write_tls(&mut sock);
            std::process::exit(1);
        }
    }
    println!(
        "handshake: {:?} {:?} alpn={:?}",
        conn.protocol_version(),
        conn.negotiated_cipher_suite().map(|s| s.suite()),
        conn.alpn_protocol().map(String::from_utf8_lossy)
    );
    match mode {
        "probe" => {}
        "hold" => {
            let secs: f64 = o
                .get("hold")
                .map_or(10.0, |t| t.parse().unwrap_or_else(|e| fail(e)));
            std::thread::sleep(Duration::from_secs_f64(secs));
        }
        "get" => {
            let mut tls = rustls::Stream::new(&mut conn, &mut sock);
            let req = format!("GET / HTTP/1.0\r\nHost: {sni}\r\n\r\n");
            tls.write_all(req.as_bytes()).unwrap_or_else(|e| fail(e));
            let mut body = Vec::new();
            let _ = tls.read_to_end(&mut body);
            print!("{}", String::from_utf8_lossy(&body));
        }
        _ => fail(format!("unknown mode {mode}")),
    }
    conn.send_close_notify();
    let _ = conn.write_tls(&mut sock);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("server") => server(parse(&args[2..])),
        Some("client") => client(parse(&args[2..])),
        _ => fail("usage: rustlspeer server|client --option value ..."),
    }
}
