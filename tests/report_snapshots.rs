//! Snapshots of the human report for the two stories of the design, so a change in
//! wording is a reviewed diff. `TLSWHY_BLESS=1 cargo test --test report_snapshots`
//! rewrites them (after re-recording the captures, for instance).

mod common;

fn check(capture: &str) {
    let out = common::tlswhy(
        &[
            "analyze",
            "--all",
            "--color",
            "never",
            &format!("captures/{capture}.pcap"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let got = String::from_utf8(out.stdout).unwrap();
    let path = common::root().join(format!("tests/data/reports/{capture}.txt"));
    if std::env::var_os("TLSWHY_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with TLSWHY_BLESS=1)", path.display()));
    if got != want {
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "report for {capture} changed at line {}:\n  got:  {}\n  want: {}\n(re-run with TLSWHY_BLESS=1 if the change is intended)",
            first + 1,
            got.lines().nth(first).unwrap_or(""),
            want.lines().nth(first).unwrap_or("")
        );
    }
}

#[test]
fn no_shared_cipher_report() {
    check("no_shared_cipher");
}

#[test]
fn relay_ip_sni_report() {
    check("relay_ip_sni");
}
