//! Live capture on the loopback interface (cargo feature `live`, run as root): real
//! OpenSSL servers and clients fail in known ways while `tlswhy live -i lo` watches; each
//! verdict must arrive within a second of its handshake (the timeout codes within a
//! second of the idle timeout), and the `--write` capture must re-analyze offline to the
//! same failures.
#![cfg(feature = "live")]

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::json_lines;

/// A background program, killed when dropped.
struct Bg(Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(program: &str, args: &[&str]) -> Bg {
    Bg(Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}")))
}

fn wait_listen(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{addr} never listened");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Runs an OpenSSL client to completion (bounded), returns when it is done.
fn s_client(args: &[&str]) -> Instant {
    let mut all = vec!["s_client"];
    all.extend_from_slice(args);
    let _ = Command::new("timeout")
        .arg("5")
        .arg("openssl")
        .args(&all)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    Instant::now()
}

fn make_cert(dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=emby.example.com",
        ])
        .args(["-addext", "subjectAltName=DNS:emby.example.com"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn live_verdicts_arrive_as_handshakes_resolve() {
    assert!(
        nix_is_root(),
        "live capture tests need root (CAP_NET_RAW) to capture on lo; run them as root"
    );
    let dir = tempfile::tempdir().unwrap();
    make_cert(dir.path());
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let peer = common::captures().join("tools/tlspeer.py");
    let peer = peer.to_str().unwrap();

    let _cipher = spawn(
        "openssl",
        &[
            "s_server",
            "-quiet",
            "-accept",
            "127.0.0.1:4481",
            "-tls1_2",
            "-cipher",
            "AES128-SHA256",
            "-cert",
            cert,
            "-key",
            key,
        ],
    );
    let _version = spawn(
        "openssl",
        &[
            "s_server",
            "-quiet",
            "-accept",
            "127.0.0.1:4482",
            "-tls1_3",
            "-cert",
            cert,
            "-key",
            key,
        ],
    );
    let _sni = spawn(
        "openssl",
        &[
            "s_server",
            "-quiet",
            "-accept",
            "127.0.0.1:4483",
            "-cert",
            cert,
            "-key",
            key,
            "-servername",
            "emby.example.com",
            "-cert2",
            cert,
            "-key2",
            key,
            "-servername_fatal",
        ],
    );
    let _selfsigned = spawn(
        "openssl",
        &[
            "s_server",
            "-quiet",
            "-accept",
            "127.0.0.1:4484",
            "-tls1_2",
            "-cert",
            cert,
            "-key",
            key,
        ],
    );
    let _silent = spawn(
        "python3",
        &[peer, "server-silent", "127.0.0.6", "4485", "30"],
    );
    let _backlog = spawn(
        "python3",
        &[
            peer,
            "server-backlog",
            "127.0.0.5",
            "4486",
            "127.0.0.9",
            "30",
        ],
    );
    for addr in [
        "127.0.0.1:4481",
        "127.0.0.1:4482",
        "127.0.0.1:4483",
        "127.0.0.1:4484",
    ] {
        wait_listen(addr);
    }
    thread::sleep(Duration::from_millis(500)); // the python servers

    let pcap = dir.path().join("failed.pcap");
    let html = dir.path().join("live.html");
    let mut live = Command::new(env!("CARGO_BIN_EXE_tlswhy"))
        .args([
            "live",
            "-i",
            "lo",
            "--format",
            "json",
            "--timeout",
            "1",
            "--duration",
            "14",
            "--port",
            "4486",
            "--port",
            "4485",
        ])
        .args([
            "--filter",
            "tcp portrange 4481-4486 and not host 127.0.0.9",
            "--write",
            pcap.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tlswhy live");
    let stdout = live.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
            tx.send((Instant::now(), v)).unwrap();
        }
    });
    thread::sleep(Duration::from_millis(1500)); // the capture is open

    let mut done = Vec::new();
    let sc = |port: &str, extra: &[&str]| {
        let mut args = vec!["-connect".to_string(), format!("127.0.0.1:{port}")];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        s_client(&args)
    };
    done.push((
        "4481",
        "no_shared_cipher",
        sc(
            "4481",
            &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
        ),
        0.0,
    ));
    done.push((
        "4482",
        "protocol_version_mismatch",
        sc("4482", &["-tls1_2"]),
        0.0,
    ));
    done.push((
        "4483",
        "sni_unrecognized",
        sc("4483", &["-servername", "other.example.net"]),
        0.0,
    ));
    done.push((
        "4484",
        "cert_self_signed",
        sc(
            "4484",
            &[
                "-tls1_2",
                "-servername",
                "emby.example.com",
                "-verify_return_error",
            ],
        ),
        0.0,
    ));
    // Timeouts: the verdict comes once the idle timeout (1 s) has passed.
    let sent = Instant::now();
    let _waiting = spawn(
        "openssl",
        &[
            "s_client",
            "-connect",
            "127.0.0.6:4485",
            "-servername",
            "emby.example.com",
        ],
    );
    done.push(("4485", "no_response_timeout", sent, 1.0));
    let syn_sent = Instant::now();
    let _syn = thread::spawn(|| {
        TcpStream::connect_timeout(&"127.0.0.5:4486".parse().unwrap(), Duration::from_secs(4))
    });
    done.push(("4486", "connection_timeout", syn_sent, 1.0));

    // --html is there while the capture goes on, with the verdicts so far: rewritten
    // at most every 2 s, also when no other verdict follows.
    let deadline = Instant::now() + Duration::from_secs(4);
    let early = loop {
        let page = std::fs::read_to_string(&html).unwrap_or_default();
        if page.contains("no_shared_cipher") || Instant::now() > deadline {
            break page;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert!(
        early.contains("no_shared_cipher"),
        "--html while live runs: {early}"
    );
    assert!(
        live.try_wait().unwrap().is_none(),
        "the capture is still running"
    );

    let status = live.wait().unwrap();
    reader.join().unwrap();
    let mut stderr = String::new();
    use std::io::Read;
    live.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("libpcap received"),
        "summary with libpcap counts: {stderr}"
    );

    let got: Vec<(Instant, serde_json::Value)> = rx.try_iter().collect();
    for (port, code, finished, idle) in &done {
        let (at, v) = got
            .iter()
            .find(|(_, v)| v["server"].as_str().unwrap().ends_with(&format!(":{port}")))
            .unwrap_or_else(|| panic!("no verdict for port {port}: {got:?}"));
        assert_eq!(
            v["verdict"]["code"], *code,
            "port {port}: {}",
            v["verdict"]["summary"]
        );
        let delay = at.saturating_duration_since(*finished).as_secs_f64();
        assert!(
            delay <= idle + 1.0,
            "port {port}: verdict {delay:.2} s after the client finished (limit {} s)",
            idle + 1.0
        );
    }

    // At the end the report holds every verdict, and is valid HTML.
    let page = std::fs::read_to_string(&html).unwrap();
    let doc = scraper::Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    for (_, code, _, _) in &done {
        assert!(
            page.contains(&format!("id=\"code-{code}\"")),
            "{code} not in --html"
        );
    }

    // The saved capture re-analyzes to the same failures; the timeout codes too, since
    // the pcapng records when the capture ended (isb_endtime), silence included.
    let offline = common::tlswhy(
        &[
            "analyze",
            "--format",
            "json",
            "--timeout",
            "1",
            "--port",
            "4486",
            "--port",
            "4485",
            pcap.to_str().unwrap(),
        ],
        None,
    );
    let offline = json_lines(&offline.stdout);
    for (port, code, _, _) in &done {
        let v = offline
            .iter()
            .find(|v| v["server"].as_str().unwrap().ends_with(&format!(":{port}")))
            .unwrap_or_else(|| panic!("port {port} missing from the --write capture"));
        assert_eq!(v["verdict"]["code"], *code, "port {port} offline");
    }
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn list_interfaces_includes_loopback() {
    for flag in ["--list-interfaces", "-D"] {
        let out = common::tlswhy(&["live", flag], None);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.starts_with("lo")),
            "{flag}"
        );
    }
}

/// Half a second on the loopback interface, with a filter no test traffic matches.
const HALF_A_SECOND_ON_LO: [&str; 7] =
    ["live", "-i", "lo", "-f", "tcp port 1", "--duration", "0.5"];

#[test]
fn says_where_it_listens_on_standard_error() {
    let out = common::tlswhy(&HALF_A_SECOND_ON_LO, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("listening on lo (link type ETHERNET, snap length 262144 bytes)"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    let quiet = common::tlswhy(&[&HALF_A_SECOND_ON_LO[..], &["-q"]].concat(), None);
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("listening"));
}

#[test]
fn write_refuses_an_existing_capture_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let earlier = dir.path().join("earlier.pcap");
    let kept = std::fs::read(common::captures().join("ok_tls13.pcap")).unwrap();
    std::fs::write(&earlier, &kept).unwrap();
    let args = [&HALF_A_SECOND_ON_LO[..], &["-w", earlier.to_str().unwrap()]].concat();
    let out = common::tlswhy(&args, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a capture"));
    assert_eq!(std::fs::read(&earlier).unwrap(), kept);
    let forced = common::tlswhy(&[&args[..], &["--force"]].concat(), None);
    assert_eq!(forced.status.code(), Some(0));
    assert_ne!(std::fs::read(&earlier).unwrap(), kept);
}

#[test]
fn unprivileged_capture_says_what_to_do() {
    // `nobody` cannot open a capture: the message names the two remedies.
    let bin = env!("CARGO_BIN_EXE_tlswhy");
    let out = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
            bin,
            "live",
            "-i",
            "lo",
            "--duration",
            "1",
        ])
        .output()
        .expect("setpriv (util-linux)");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("run as root") && err.contains("setcap cap_net_raw,cap_net_admin=eip"),
        "{err}"
    );
}

#[test]
fn user_option_drops_privileges_after_opening() {
    let ok = common::tlswhy(
        &[
            "live",
            "-i",
            "lo",
            "--duration",
            "1",
            "--user",
            "nobody",
            "--filter",
            "tcp port 1",
        ],
        None,
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = common::tlswhy(
        &[
            "live",
            "-i",
            "lo",
            "--duration",
            "1",
            "--user",
            "no-such-user-here",
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no such user"));
}

#[test]
fn ctrl_c_ends_cleanly_with_the_summary() {
    let mut live = Command::new(env!("CARGO_BIN_EXE_tlswhy"))
        .args(["live", "-i", "lo", "--filter", "tcp port 1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(1500));
    let status = Command::new("kill")
        .args(["-INT", &live.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let exit = loop {
        if let Some(s) = live.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "tlswhy live did not stop on SIGINT"
        );
        thread::sleep(Duration::from_millis(50));
    };
    let out = live.wait_with_output().unwrap();
    assert_eq!(
        exit.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("summary:") && text.contains("libpcap received"),
        "{text}"
    );
}

/// `live --keylog FILE` follows the key log as clients append to it: curl (TLS 1.3)
/// asks for a name the certificate does not cover, completes the handshake, checks the
/// name and closes with a close_notify — `ok` without keys (the certificate is
/// encrypted), `cert_name_mismatch` with the secrets curl writes while it runs.
#[test]
fn live_follows_a_key_log_that_clients_append_to() {
    assert!(nix_is_root(), "live capture tests need root (CAP_NET_RAW)");
    let dir = tempfile::tempdir().unwrap();
    make_cert(dir.path());
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let keylog = dir.path().join("keys.log");
    std::fs::write(&keylog, b"").unwrap();
    let _server = spawn(
        "openssl",
        &[
            "s_server",
            "-quiet",
            "-accept",
            "127.0.0.1:4491",
            "-tls1_3",
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
        ],
    );
    wait_listen("127.0.0.1:4491");
    let live = Command::new(env!("CARGO_BIN_EXE_tlswhy"))
        .args([
            "live",
            "-i",
            "lo",
            "-o",
            "json",
            "--duration",
            "8",
            "-c",
            "2",
        ])
        .args(["-f", "tcp port 4491", "--keylog", keylog.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tlswhy live");
    thread::sleep(Duration::from_millis(1500)); // the capture is open
    for host in ["emby.example.com", "other.example.org"] {
        let _ = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "4", "--tlsv1.3"])
            .arg("--cacert")
            .arg(&cert)
            .args(["--resolve", &format!("{host}:4491:127.0.0.1")])
            .arg(format!("https://{host}:4491/"))
            .env("SSLKEYLOGFILE", &keylog)
            .status();
    }
    let out = live.wait_with_output().unwrap();
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let verdict = |sni: &str| {
        records
            .iter()
            .find(|r| r["sni"] == sni)
            .unwrap_or_else(|| panic!("no record for {sni}: {records:?}"))["verdict"]
            .clone()
    };
    let ok = verdict("emby.example.com");
    assert_eq!(ok["code"], "ok", "{ok}");
    assert_eq!(ok["proof"], "decrypted", "{ok}");
    let mismatch = verdict("other.example.org");
    assert_eq!(mismatch["code"], "cert_name_mismatch", "{mismatch}");
    assert_eq!(mismatch["proof"], "decrypted", "{mismatch}");
    assert!(std::fs::metadata(&keylog).unwrap().len() > 0);
}
