//! Keys that open TLS records: the NSS key log format (RFC 9850) that curl, browsers,
//! OpenSSL, Python, Go, Node and Java agents write, whether read from a file given on
//! the command line or from a pcapng's Decryption Secrets Blocks.
//!
//! A [`KeyLog`] maps a ClientHello's random to the secrets of that connection. Secrets
//! never leave this module's types in readable form: [`Secret`] prints as `Secret(..)`
//! and is wiped when dropped; nothing here logs or serializes them.

mod cipher;
mod schedule;

pub(crate) use cipher::{CipherSpec, Opened, QuicHeaderCipher, RecordCipher};
pub(crate) use schedule::{
    expand_label_sha256, quic_packet_keys, tls12_key_block, tls13_next_secret, tls13_traffic_keys,
    Tls12Keys,
};

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use zeroize::Zeroizing;

/// One secret of a key log (a TLS 1.2 master secret or a TLS 1.3 traffic secret).
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The secrets a key log holds for one connection (one client random).
#[derive(Clone, Debug, Default)]
pub struct ConnectionSecrets {
    /// `CLIENT_RANDOM`: the TLS ≤ 1.2 master secret.
    pub(crate) master: Option<Secret>,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub(crate) handshake: [Option<Secret>; 2],
    /// `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`.
    pub(crate) traffic: [Option<Secret>; 2],
}

/// What reading key log lines found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyLogStats {
    /// Lines with a label this tool uses and a well-formed random and secret.
    pub secrets: usize,
    /// Lines that are not comments, not empty, and not of that form (unknown labels such
    /// as `EXPORTER_SECRET` included).
    pub skipped: usize,
}

/// Shared with the conversations that look them up (a line added later copies).
type Table = HashMap<[u8; 32], Arc<ConnectionSecrets>, foldhash::fast::RandomState>;

/// Secrets by client random. Shared between threads; more lines can be added while it
/// is in use (a key log that clients append to, a Decryption Secrets Block met in a
/// stream).
#[derive(Default)]
pub struct KeyLog {
    table: RwLock<Table>,
    /// Lines are still being added (a key log followed while clients append to it):
    /// a TLS 1.3 connection whose secrets are not there yet holds its first protected
    /// records a while, waiting for them.
    growing: AtomicBool,
    /// Every line it will have was read at once (a capture's secrets blocks, read
    /// ahead of its packets).
    read_ahead: AtomicBool,
}

impl fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyLog({} connections)", self.len())
    }
}

/// Largest key log file read (a line is ~200 bytes: about 5 million connections).
pub const MAX_KEY_LOG_BYTES: u64 = 1 << 30;

impl KeyLog {
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// Reads an NSS key log file.
    pub fn from_file(path: &Path) -> std::io::Result<(KeyLog, KeyLogStats)> {
        let keys = KeyLog::new();
        let stats = keys.add_file(path)?;
        Ok((keys, stats))
    }

    /// Adds the lines of an NSS key log file.
    pub fn add_file(&self, path: &Path) -> std::io::Result<KeyLogStats> {
        let len = std::fs::metadata(path)?.len();
        if len > MAX_KEY_LOG_BYTES {
            return Err(std::io::Error::other(format!(
                "{len} bytes, more than the {MAX_KEY_LOG_BYTES}-byte limit for a key log"
            )));
        }
        let text = std::fs::read(path)?;
        Ok(self.add_lines(&text))
    }

    /// Adds NSS key log lines (`LABEL <client random hex> <secret hex>`); a last line
    /// without its newline counts too.
    pub fn add_lines(&self, text: &[u8]) -> KeyLogStats {
        let mut stats = KeyLogStats::default();
        let mut table = self.table.write().unwrap_or_else(|e| e.into_inner());
        // About four lines of some 180 bytes per TLS 1.3 connection.
        table.reserve(text.len() / 720);
        // memchr: a key log of a million connections is hundreds of megabytes.
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len()));
        for end in ends {
            let line = &text[start..end];
            start = end + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            match parse_line(line) {
                Some((label, random, secret)) => {
                    let entry = Arc::make_mut(table.entry(random).or_default());
                    let slot = match label {
                        Label::Master => &mut entry.master,
                        Label::ClientHandshake => &mut entry.handshake[0],
                        Label::ServerHandshake => &mut entry.handshake[1],
                        Label::ClientTraffic => &mut entry.traffic[0],
                        Label::ServerTraffic => &mut entry.traffic[1],
                    };
                    *slot = Some(secret);
                    stats.secrets += 1;
                }
                None => stats.skipped += 1,
            }
        }
        stats
    }

    /// The secrets of the connection whose ClientHello carried `client_random`.
    pub fn lookup(&self, client_random: &[u8; 32]) -> Option<Arc<ConnectionSecrets>> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        table.get(client_random).cloned()
    }

    /// Says that lines will still be added while connections are read (see
    /// [`KeyLog::is_growing`]).
    pub fn set_growing(&self, growing: bool) {
        self.growing.store(growing, Ordering::Relaxed);
    }

    /// All the lines were read ahead of the packets ([`KeyLog::was_read_ahead`]).
    pub fn set_read_ahead(&self) {
        self.read_ahead.store(true, Ordering::Relaxed);
    }

    pub fn was_read_ahead(&self) -> bool {
        self.read_ahead.load(Ordering::Relaxed)
    }

    /// Lines are still being added: a secret not found now may come.
    pub fn is_growing(&self) -> bool {
        self.growing.load(Ordering::Relaxed)
    }

    /// Connections with at least one secret.
    pub fn len(&self) -> usize {
        self.table.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where the secrets of one capture's connections come from: the key logs given for
/// the run, and the capture's own Decryption Secrets Blocks.
#[derive(Clone, Debug, Default)]
pub struct KeySources {
    pub given: Option<Arc<KeyLog>>,
    pub embedded: Option<Arc<KeyLog>>,
}

impl KeySources {
    /// No key can be found (none given, none in the capture so far): the conversation
    /// does no key work.
    pub fn is_empty(&self) -> bool {
        [&self.embedded, &self.given]
            .into_iter()
            .flatten()
            .all(|log| log.is_empty())
    }

    /// A secret not found now may still come (a followed key log).
    pub fn may_grow(&self) -> bool {
        [&self.embedded, &self.given]
            .into_iter()
            .flatten()
            .any(|log| log.is_growing())
    }

    pub fn lookup(&self, client_random: &[u8; 32]) -> Option<Arc<ConnectionSecrets>> {
        [&self.embedded, &self.given]
            .into_iter()
            .flatten()
            .find_map(|log| log.lookup(client_random))
    }
}

/// Key log files followed as clients append to them (`live --keylog`): each poll adds
/// the complete lines written since the last.
#[derive(Debug)]
pub struct KeyLogFollower {
    log: Arc<KeyLog>,
    /// Each file with the bytes of it already read.
    files: Vec<(std::path::PathBuf, u64)>,
}

impl KeyLogFollower {
    /// Reads the files as they are now; the log says it is growing.
    pub fn open(paths: &[std::path::PathBuf]) -> std::io::Result<KeyLogFollower> {
        let log = Arc::new(KeyLog::new());
        log.set_growing(true);
        let mut follower = KeyLogFollower {
            log,
            files: paths.iter().map(|p| (p.clone(), 0)).collect(),
        };
        follower.poll()?;
        Ok(follower)
    }

    /// The key log the files feed.
    pub fn log(&self) -> Arc<KeyLog> {
        Arc::clone(&self.log)
    }

    /// Adds the complete lines appended since the last poll. A file that shrank (was
    /// rewritten) is read again from its start.
    pub fn poll(&mut self) -> std::io::Result<KeyLogStats> {
        use std::io::{Read, Seek, SeekFrom};
        let mut total = KeyLogStats::default();
        for (path, read) in &mut self.files {
            let mut file = std::fs::File::open(&*path)?;
            let len = file.metadata()?.len();
            if len < *read {
                *read = 0;
            }
            let new = (len - *read).min(MAX_KEY_LOG_BYTES);
            if new == 0 {
                continue;
            }
            file.seek(SeekFrom::Start(*read))?;
            let mut bytes = Vec::with_capacity(new as usize);
            file.take(new).read_to_end(&mut bytes)?;
            // Only complete lines: a client may be writing the rest now.
            let Some(end) = bytes.iter().rposition(|&b| b == b'\n') else {
                continue;
            };
            let stats = self.log.add_lines(&bytes[..=end]);
            total.secrets += stats.secrets;
            total.skipped += stats.skipped;
            *read += end as u64 + 1;
        }
        Ok(total)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Master,
    ClientHandshake,
    ServerHandshake,
    ClientTraffic,
    ServerTraffic,
}

fn parse_line(line: &[u8]) -> Option<(Label, [u8; 32], Secret)> {
    let mut fields = memchr::memchr_iter(b' ', line)
        .chain(std::iter::once(line.len()))
        .scan(0, |start, end| {
            let field = &line[*start..end];
            *start = end + 1;
            Some(field)
        })
        .filter(|f| !f.is_empty());
    let label = match fields.next()? {
        b"CLIENT_RANDOM" => Label::Master,
        b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
        b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
        b"CLIENT_TRAFFIC_SECRET_0" => Label::ClientTraffic,
        b"SERVER_TRAFFIC_SECRET_0" => Label::ServerTraffic,
        _ => return None,
    };
    let random_hex = fields.next()?;
    let secret_hex = fields.next()?;
    if fields.next().is_some() || random_hex.len() != 64 {
        return None;
    }
    let mut random = [0u8; 32];
    decode_hex(random_hex, &mut random)?;
    // 32 (SHA-256) or 48 bytes (SHA-384 suites; every TLS 1.2 master secret).
    if !matches!(secret_hex.len(), 64 | 96) {
        return None;
    }
    let mut secret = Zeroizing::new(vec![0u8; secret_hex.len() / 2]);
    decode_hex(secret_hex, &mut secret)?;
    if label == Label::Master && secret.len() != 48 {
        return None;
    }
    Some((label, random, Secret(secret)))
}

/// Each byte's value as a hex digit, 0xff for a byte that is not one.
const HEX_DIGIT: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Test vectors as text: hex digits, white space ignored.
#[cfg(test)]
pub(crate) fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let mut out = vec![0u8; digits.len() / 2];
    decode_hex(&digits, &mut out).expect("hex digits");
    out
}

fn decode_hex(hex: &[u8], out: &mut [u8]) -> Option<()> {
    if hex.len() != out.len() * 2 {
        return None;
    }
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = (HEX_DIGIT[pair[0] as usize], HEX_DIGIT[pair[1] as usize]);
        bad |= hi | lo;
        *o = hi << 4 | lo;
    }
    // A digit is at most 15: any other bit set came from a byte that is not one.
    (bad & 0xf0 == 0).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tls12_and_tls13_lines_and_skips_the_rest() {
        let random = "ab".repeat(32);
        let text = format!(
            "# comment\r\nCLIENT_RANDOM {random} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {random} {}\n\
             EXPORTER_SECRET {random} {}\nCLIENT_RANDOM {random} 12\nCLIENT_TRAFFIC_SECRET_0 {random} {}",
            "11".repeat(48),
            "22".repeat(32),
            "33".repeat(32),
            "44".repeat(48),
        );
        let log = KeyLog::new();
        let stats = log.add_lines(text.as_bytes());
        assert_eq!(
            stats,
            KeyLogStats {
                secrets: 3,
                skipped: 2
            }
        );
        let s = log.lookup(&[0xab; 32]).expect("the random is known");
        assert_eq!(s.master.as_ref().unwrap().bytes(), &[0x11; 48][..]);
        assert_eq!(s.handshake[1].as_ref().unwrap().bytes(), &[0x22; 32][..]);
        assert!(s.handshake[0].is_none());
        assert_eq!(s.traffic[0].as_ref().unwrap().bytes(), &[0x44; 48][..]);
        assert!(log.lookup(&[0xac; 32]).is_none());
    }

    #[test]
    fn secrets_do_not_print() {
        let random = "ab".repeat(32);
        let log = KeyLog::new();
        log.add_lines(format!("CLIENT_RANDOM {random} {}", "5a".repeat(48)).as_bytes());
        let shown = format!("{:?} {:?}", log, log.lookup(&[0xab; 32]));
        assert!(!shown.to_lowercase().contains("5a5a"), "{shown}");
    }
}
