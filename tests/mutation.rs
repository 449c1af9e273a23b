//! Hostile input without a fuzzing engine: deterministic mutations of real captures, each
//! run through `analyze_bytes`.
//!
//! Mutations (from a xorshift generator with a fixed seed per file, so every run makes the
//! same cases): truncations at random offsets and at every record boundary ±1, single-bit
//! flips, and inflated length fields (pcap record caplen, pcapng block length and EPB
//! captured length, IPv4 total length, TLS record, handshake, extension-block and
//! extension lengths, found by scanning TCP payloads for `16 03 0[0-4]`; the TLS ones
//! are also set to zero).
//!
//! Every case must not panic (each runs under `catch_unwind` on its own thread) and must
//! finish within [`CASE_LIMIT`] (a hang guard, not a performance test: a case still
//! running then is reported and abandoned). A truncated capture must keep the verdict
//! of every connection whose last packet came before the first damaged frame. The heap
//! a case holds at once (counted by `allocation-counter` on the case's thread) must stay
//! under [`heap_bound`], whatever the length fields claim. Read again as a stream in
//! 509-byte chunks, every case must give the same records and damage.
//!
//! `captures/*.pcap` get the full set, `tests/data/formats/*.pcapng` the pcapng block
//! mutations, the third-party corpus (`TLSWHY_CORPUS`, else `../shared/corpus`; skipped
//! with a line on standard error when absent, unless `TLSWHY_REQUIRE_CORPUS=1`) a lighter
//! set. The inputs the fuzz targets found (`tests/data/fuzz-regressions/`) are replayed
//! through the same API the fuzz target used.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Once};
use std::time::{Duration, Instant};

use tlswhy::pipeline::analyze_bytes;
use tlswhy::pipeline::Settings;

mod common;

/// The fuzz targets' code, to replay the inputs they found.
#[path = "../fuzz/targets.rs"]
mod fuzz_targets;

/// A case still running after this long is a hang.
const CASE_LIMIT: Duration = Duration::from_secs(2);
/// After this many hangs a test stops (each one leaves a thread spinning).
const MAX_HANGS: usize = 3;
/// Failing cases listed in a test's failure message.
const LISTED_FAILURES: usize = 40;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files in `dir` whose name satisfies `keep`, sorted.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    let root = root();
    let shown = path
        .strip_prefix(&root)
        .or_else(|_| path.strip_prefix(root.join("..")))
        .unwrap_or(path);
    shown.display().to_string()
}

/// Progress lines that `cargo test` shows even for passing tests (its capture only takes
/// `print!`/`eprint!`).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

// ---------------------------------------------------------------------------------------
// Deterministic randomness.

struct XorShift(u64);

impl XorShift {
    /// Seeded from a constant and the file name, so each file gets its own sequence.
    fn for_file(name: &str) -> XorShift {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        XorShift((h ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform enough in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------
// Where things are in a capture file (an independent reader, so the mutations do not
// depend on the code under test).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

fn rd16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn rd32(b: &[u8], at: usize, e: Endian) -> Option<u32> {
    let raw: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u32::from_le_bytes(raw),
        Endian::Big => u32::from_be_bytes(raw),
    })
}

/// A length field of a file: where, how wide, which byte order, and its value.
#[derive(Clone, Copy, Debug)]
struct Field {
    at: usize,
    width: usize,
    endian: Endian,
    value: u64,
    what: &'static str,
}

impl Field {
    fn max(&self) -> u64 {
        (1u64 << (8 * self.width)) - 1
    }

    fn write(&self, bytes: &mut [u8], value: u64) {
        let be = value.to_be_bytes();
        let mut v = be[8 - self.width..].to_vec();
        if self.endian == Endian::Little {
            v.reverse();
        }
        bytes[self.at..self.at + self.width].copy_from_slice(&v);
    }

    /// Larger values to try: a little, somewhat, a lot, and the largest the field holds.
    fn inflated(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for v in [
            self.value + 1,
            self.value + 16,
            self.value + 4096,
            self.max(),
        ] {
            if v <= self.max() && v != self.value && !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }
}

/// A pcap record or a pcapng block.
#[derive(Clone, Debug)]
struct Unit {
    start: usize,
    end: usize,
    /// pcap: the record's caplen; pcapng: the block total length.
    length: Field,
    packet: Option<PacketAt>,
}

/// A packet inside a unit.
#[derive(Clone, Debug)]
struct PacketAt {
    data: Range<usize>,
    link: u32,
    /// The captured-length field of a pcapng EPB (pcap: the unit's `length`).
    caplen: Option<Field>,
}

struct Layout {
    units: Vec<Unit>,
}

impl Layout {
    fn parse(bytes: &[u8]) -> Option<Layout> {
        match bytes.get(..4)? {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => {
                Some(Self::pcap(bytes, Endian::Little))
            }
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => {
                Some(Self::pcap(bytes, Endian::Big))
            }
            [0x0a, 0x0d, 0x0d, 0x0a] => Some(Self::pcapng(bytes)),
            _ => None,
        }
    }

    fn pcap(bytes: &[u8], e: Endian) -> Layout {
        let link = rd32(bytes, 20, e).unwrap_or(1);
        let mut units = Vec::new();
        let mut off = 24;
        while let Some(caplen) = rd32(bytes, off + 8, e) {
            let data = off + 16..off + 16 + caplen as usize;
            if data.end > bytes.len() {
                break;
            }
            units.push(Unit {
                start: off,
                end: data.end,
                length: Field {
                    at: off + 8,
                    width: 4,
                    endian: e,
                    value: u64::from(caplen),
                    what: "pcap record caplen",
                },
                packet: Some(PacketAt {
                    data: data.clone(),
                    link,
                    caplen: None,
                }),
            });
            off = data.end;
        }
        Layout { units }
    }

    fn pcapng(bytes: &[u8]) -> Layout {
        let mut units = Vec::new();
        let mut e = Endian::Little;
        let mut links: Vec<u32> = Vec::new();
        let mut off = 0;
        while off + 12 <= bytes.len() {
            let is_shb = bytes[off..off + 4] == [0x0a, 0x0d, 0x0d, 0x0a];
            if is_shb {
                e = if bytes[off + 8..off + 12] == [0x1a, 0x2b, 0x3c, 0x4d] {
                    Endian::Big
                } else {
                    Endian::Little
                };
                links.clear();
            }
            let (Some(kind), Some(len)) = (rd32(bytes, off, e), rd32(bytes, off + 4, e)) else {
                break;
            };
            let len = len as usize;
            if len < 12 || len % 4 != 0 || off + len > bytes.len() {
                break;
            }
            let mut packet = None;
            match kind {
                1 => links.push(rd16(bytes, off + 8).map_or(1, |v| {
                    if e == Endian::Little {
                        u32::from(u16::from_le_bytes((v as u16).to_be_bytes()))
                    } else {
                        v
                    }
                })),
                6 => {
                    let if_id = rd32(bytes, off + 8, e).unwrap_or(0) as usize;
                    let caplen = rd32(bytes, off + 20, e).unwrap_or(0);
                    let data = off + 28..(off + 28 + caplen as usize).min(off + len - 4);
                    packet = Some(PacketAt {
                        data,
                        link: links.get(if_id).copied().unwrap_or(1),
                        caplen: Some(Field {
                            at: off + 20,
                            width: 4,
                            endian: e,
                            value: u64::from(caplen),
                            what: "pcapng EPB captured length",
                        }),
                    });
                }
                3 => {
                    packet = Some(PacketAt {
                        data: off + 12..off + len - 4,
                        link: links.first().copied().unwrap_or(1),
                        caplen: None,
                    })
                }
                _ => {}
            }
            units.push(Unit {
                start: off,
                end: off + len,
                length: Field {
                    at: off + 4,
                    width: 4,
                    endian: e,
                    value: len as u64,
                    what: "pcapng block length",
                },
                packet,
            });
            off += len;
        }
        Layout { units }
    }

    /// Frame number of the first packet not wholly before byte `cut`.
    fn first_damaged_frame(&self, cut: usize) -> u64 {
        1 + self
            .units
            .iter()
            .filter(|u| u.packet.is_some() && u.end <= cut)
            .count() as u64
    }

    fn packets(&self) -> impl Iterator<Item = &PacketAt> {
        self.units.iter().filter_map(|u| u.packet.as_ref())
    }
}

/// Offset of the IP header inside a frame of `link`.
fn ip_offset(link: u32, frame: &[u8]) -> Option<usize> {
    match link {
        1 => {
            let mut off = 12;
            loop {
                match rd16(frame, off)? {
                    0x8100 | 0x88a8 | 0x9100 => off += 4,
                    0x0800 | 0x86dd => return Some(off + 2),
                    _ => return None,
                }
            }
        }
        12 | 14 | 101 | 228 | 229 => Some(0),
        113 => Some(16),
        276 => Some(20),
        0 | 108 => Some(4),
        _ => None,
    }
}

/// In an IP packet: the IPv4 total-length field offset (if IPv4) and the TCP payload.
fn tcp_payload(ip: &[u8]) -> Option<(Option<usize>, Range<usize>)> {
    let (total_at, tcp_start, end) = match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 15) * 4;
            let total = rd16(ip, 2)? as usize;
            let fragment = rd16(ip, 6)? & 0x1fff != 0;
            if *ip.get(9)? != 6 || fragment || ihl < 20 {
                return None;
            }
            (Some(2), ihl, total.min(ip.len()))
        }
        6 => {
            if *ip.get(6)? != 6 {
                return None;
            }
            (None, 40, (40 + rd16(ip, 4)? as usize).min(ip.len()))
        }
        _ => return None,
    };
    let data_off = usize::from(*ip.get(tcp_start + 12)? >> 4) * 4;
    let start = tcp_start + data_off;
    (start <= end).then_some((total_at, start..end))
}

/// TLS length fields in one TCP payload (file offsets): every `16 03 0[0-4]` record
/// header's length, the handshake length behind it, and for Client/ServerHello the
/// extension block length and each extension's length.
fn tls_fields(file: &[u8], payload: Range<usize>) -> Vec<Field> {
    let field = |at: usize, width: usize, what: &'static str| {
        let value = file[at..at + width]
            .iter()
            .fold(0u64, |v, &b| v << 8 | u64::from(b));
        Field {
            at,
            width,
            endian: Endian::Big,
            value,
            what,
        }
    };
    let end = payload.end;
    let mut out = Vec::new();
    for i in payload {
        if i + 5 > end || file[i] != 0x16 || file[i + 1] != 3 || file[i + 2] > 4 {
            continue;
        }
        out.push(field(i + 3, 2, "TLS record length"));
        if i + 9 > end {
            continue;
        }
        out.push(field(i + 6, 3, "TLS handshake length"));
        let kind = file[i + 5];
        if kind != 1 && kind != 2 {
            continue;
        }
        // version, random, session id; then suites and compression (ClientHello) or the
        // chosen suite and compression (ServerHello).
        let mut p = i + 9 + 2 + 32;
        let Some(&sid) = file.get(p).filter(|_| p < end) else {
            continue;
        };
        p += 1 + usize::from(sid);
        if kind == 1 {
            let Some(suites) = rd16(file, p).filter(|_| p + 2 <= end) else {
                continue;
            };
            p += 2 + suites as usize;
            let Some(&comp) = file.get(p).filter(|_| p < end) else {
                continue;
            };
            p += 1 + usize::from(comp);
        } else {
            p += 3;
        }
        if p + 2 > end {
            continue;
        }
        out.push(field(p, 2, "TLS extensions length"));
        let ext_end = (p + 2 + rd16(file, p).unwrap_or(0) as usize).min(end);
        let mut q = p + 2;
        while q + 4 <= ext_end {
            let f = field(q + 2, 2, "TLS extension length");
            q += 4 + f.value as usize;
            out.push(f);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Cases.

struct Case {
    what: String,
    bytes: Vec<u8>,
    /// Truncations: the first damaged frame (connections that ended before it keep
    /// their verdicts).
    keep_before: Option<u64>,
}

#[derive(Default)]
struct Cases {
    list: Vec<Case>,
    kinds: BTreeMap<&'static str, usize>,
}

impl Cases {
    fn push(&mut self, kind: &'static str, what: String, bytes: Vec<u8>, keep_before: Option<u64>) {
        *self.kinds.entry(kind).or_default() += 1;
        self.list.push(Case {
            what,
            bytes,
            keep_before,
        });
    }

    fn truncate(&mut self, original: &[u8], layout: &Layout, cut: usize, why: &str) {
        if cut == 0 || cut >= original.len() {
            return;
        }
        if self
            .list
            .iter()
            .any(|c| c.bytes.len() == cut && c.keep_before.is_some())
        {
            return;
        }
        self.push(
            "truncations",
            format!("truncated to {cut} bytes ({why})"),
            original[..cut].to_vec(),
            Some(layout.first_damaged_frame(cut)),
        );
    }

    fn random_truncations(
        &mut self,
        original: &[u8],
        layout: &Layout,
        rng: &mut XorShift,
        n: usize,
    ) {
        for _ in 0..n {
            let cut = 1 + rng.below(original.len() - 1);
            self.truncate(original, layout, cut, "random offset");
        }
    }

    /// Truncations at `b - 1`, `b`, `b + 1` for the start of every unit after the first
    /// (or of `every`-th one).
    fn boundary_truncations(&mut self, original: &[u8], layout: &Layout, every: usize) {
        for (i, unit) in layout
            .units
            .iter()
            .enumerate()
            .skip(1)
            .step_by(every.max(1))
        {
            for cut in [unit.start - 1, unit.start, unit.start + 1] {
                self.truncate(
                    original,
                    layout,
                    cut,
                    &format!("unit {i} starts at {}", unit.start),
                );
            }
        }
    }

    fn bit_flips(
        &mut self,
        original: &[u8],
        rng: &mut XorShift,
        n: usize,
        within: Option<&[Range<usize>]>,
    ) {
        for _ in 0..n {
            let at = match within {
                Some(ranges) if !ranges.is_empty() => {
                    let r = &ranges[rng.below(ranges.len())];
                    if r.is_empty() {
                        continue;
                    }
                    r.start + rng.below(r.len())
                }
                _ => rng.below(original.len()),
            };
            let bit = rng.below(8);
            let mut bytes = original.to_vec();
            bytes[at] ^= 1 << bit;
            self.push(
                "bit flips",
                format!("bit {bit} of byte {at} flipped"),
                bytes,
                None,
            );
        }
    }

    fn inflate(&mut self, original: &[u8], field: &Field, values: &[u64]) {
        for &v in values {
            let mut bytes = original.to_vec();
            field.write(&mut bytes, v);
            self.push(
                "inflated lengths",
                format!(
                    "{} at byte {} set from {} to {v}",
                    field.what, field.at, field.value
                ),
                bytes,
                None,
            );
        }
    }
}

/// The full set for a pcap file of `captures/`.
fn full_pcap_cases(name: &str, original: &[u8]) -> Cases {
    let layout = Layout::parse(original).expect("a capture");
    let mut rng = XorShift::for_file(name);
    let mut cases = Cases::default();
    cases.random_truncations(original, &layout, &mut rng, 16);
    cases.boundary_truncations(original, &layout, 1);
    cases.bit_flips(original, &mut rng, 32, None);
    let payloads: Vec<Range<usize>> = layout
        .packets()
        .filter_map(|p| {
            let frame = &original[p.data.clone()];
            let ip = ip_offset(p.link, frame)?;
            let (_, tcp) = tcp_payload(&frame[ip..])?;
            let base = p.data.start + ip;
            Some(base + tcp.start..base + tcp.end)
        })
        .filter(|r| !r.is_empty())
        .collect();
    // Flips where the TLS parser looks.
    cases.bit_flips(original, &mut rng, 32, Some(&payloads));
    for (i, unit) in layout.units.iter().enumerate() {
        let values = unit.length.inflated();
        let v = values[i % values.len()];
        cases.inflate(original, &unit.length, &[v, 256 * 1024 + 1]);
        let Some(p) = &unit.packet else { continue };
        let frame = &original[p.data.clone()];
        let Some(ip) = ip_offset(p.link, frame) else {
            continue;
        };
        if let Some((Some(total_at), _)) = tcp_payload(&frame[ip..]) {
            let at = p.data.start + ip + total_at;
            let field = Field {
                at,
                width: 2,
                endian: Endian::Big,
                value: u64::from(rd16(original, at).unwrap_or(0)),
                what: "IPv4 total length",
            };
            let values = field.inflated();
            cases.inflate(original, &field, &[values[i % values.len()]]);
        }
    }
    for payload in &payloads {
        for field in tls_fields(original, payload.clone()) {
            cases.inflate(original, &field, &field.inflated());
            if field.value != 0 {
                // Empty records, messages and extensions.
                cases.inflate(original, &field, &[0]);
            }
        }
    }
    cases
}

/// Block-length mutations (and block-boundary truncations) of a pcapng file.
fn pcapng_cases(name: &str, original: &[u8]) -> Cases {
    let layout = Layout::parse(original).expect("a capture");
    let mut rng = XorShift::for_file(name);
    let mut cases = Cases::default();
    cases.boundary_truncations(original, &layout, 1);
    for (i, unit) in layout.units.iter().enumerate() {
        let len = unit.length;
        // Valid multiples of 4 past the block, the largest, and values that are not
        // multiples of 4 or are too small.
        let mut values = vec![
            len.value + 4,
            len.value + 4 * (1 + rng.below(64) as u64),
            0xffff_fffc,
            len.value + 1,
            8,
        ];
        if i >= 3 {
            // The first blocks (section, interfaces, first packet) get every value; the
            // rest two of them.
            let a = values[rng.below(values.len())];
            let b = values[rng.below(values.len())];
            values = vec![a, b];
            values.dedup();
        }
        cases.inflate(original, &len, &values);
        // The trailing copy of the length.
        let trailing = Field {
            at: unit.end - 4,
            what: "pcapng trailing block length",
            ..len
        };
        cases.inflate(original, &trailing, &[len.value + 4]);
        if let Some(caplen) = unit.packet.as_ref().and_then(|p| p.caplen) {
            let values = caplen.inflated();
            cases.inflate(original, &caplen, &[values[i % values.len()]]);
        }
    }
    cases
}

/// The lighter set for third-party captures.
fn light_cases(name: &str, original: &[u8]) -> Cases {
    let mut cases = Cases::default();
    let Some(layout) = Layout::parse(original) else {
        return cases;
    };
    let mut rng = XorShift::for_file(name);
    cases.random_truncations(original, &layout, &mut rng, 6);
    let every = layout.units.len().div_ceil(8);
    cases.boundary_truncations(original, &layout, every);
    cases.bit_flips(original, &mut rng, 12, None);
    for _ in 0..4 {
        if layout.units.is_empty() {
            break;
        }
        let unit = &layout.units[rng.below(layout.units.len())];
        let values = unit.length.inflated();
        cases.inflate(original, &unit.length, &[values[rng.below(values.len())]]);
    }
    cases
}

// ---------------------------------------------------------------------------------------
// Running a case.

thread_local! {
    static IN_CASE: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_string()
    }
}

/// A panic inside a case is recorded (message and location) instead of printed.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_CASE.with(Cell::get) {
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                let text = format!("'{}'{at}", payload_text(info.payload()));
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
}

enum Failure {
    Panic(String),
    Hang,
}

/// Runs `work` on its own thread under `catch_unwind`; gives up after [`CASE_LIMIT`].
fn guarded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<(T, Duration), Failure> {
    install_panic_hook();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("mutation-case".into())
        .spawn(move || {
            IN_CASE.with(|c| c.set(true));
            let start = Instant::now();
            let result = std::panic::catch_unwind(AssertUnwindSafe(work));
            let took = start.elapsed();
            let result = result.map_err(|payload| {
                LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| payload_text(&*payload))
            });
            let _ = tx.send((result, took));
        })
        .expect("spawn a case thread");
    match rx.recv_timeout(CASE_LIMIT) {
        Ok((Ok(value), took)) => Ok((value, took)),
        Ok((Err(panic), _)) => Err(Failure::Panic(panic)),
        Err(_) => Err(Failure::Hang),
    }
}

/// What one analysis gave: per handshake (client, server, first frame) its verdict code
/// and the frame of its connection's last packet.
type Key = (String, String, u64);

struct Outcome {
    verdicts: HashMap<Key, (String, u64)>,
    /// Most heap bytes held at once during the analysis.
    peak_heap: u64,
}

fn analyze_case(bytes: Vec<u8>) -> Result<(Option<Outcome>, Duration), Failure> {
    guarded(move || {
        let mut report = None;
        let used = allocation_counter::measure(|| {
            report = analyze_bytes(&bytes, "mutated", &Settings::default()).ok();
        });
        // Read as a stream in small chunks, the same input must give the same records
        // and the same damage (the command line reads files and pipes this way).
        fuzz_targets::assert_stream_matches("mutated", &bytes, 509, report.as_ref());
        let report = report?;
        // A verdict that rests on other connections of the server (its profile) may
        // change with connections after the damage: only the others are compared.
        let verdicts = report
            .handshakes
            .iter()
            .filter(|h| !h.verdict.reads.profile)
            .map(|h| {
                let key = (h.client.to_string(), h.server.to_string(), h.frame);
                (key, (h.verdict.code.as_str().to_string(), h.last_frame))
            })
            .collect();
        Some(Outcome {
            verdicts,
            peak_heap: used.bytes_max,
        })
    })
}

/// Failures and figures of one test.
#[derive(Default)]
struct Run {
    cases: usize,
    /// Verdicts of truncated captures compared with the unmutated capture's.
    compared: usize,
    failures: Vec<String>,
    hangs: usize,
    slowest: (Duration, String),
    /// The most heap one case held at once, and which case.
    most_heap: (u64, String),
}

/// Heap a mutated capture may make the analysis hold: a fixed allowance for the tables
/// and one certificate chain, plus a few times the capture (records, buffered
/// segments). Inflated length fields must not make it allocate what they claim.
fn heap_bound(capture_len: usize) -> u64 {
    8 * 1024 * 1024 + 8 * capture_len as u64
}

impl Run {
    /// Runs every case of one file; `check_verdicts` compares truncations with the
    /// unmutated capture.
    fn file(&mut self, label: &str, original: &[u8], cases: Cases, check_verdicts: bool) {
        let started = Instant::now();
        let baseline = match analyze_case(original.to_vec()) {
            Ok((outcome, _)) => outcome,
            Err(Failure::Panic(p)) => {
                self.failures
                    .push(format!("{label}: unmutated: panicked: {p}"));
                None
            }
            Err(Failure::Hang) => {
                self.failures.push(format!(
                    "{label}: unmutated: still running after {CASE_LIMIT:?}"
                ));
                self.hangs += 1;
                None
            }
        };
        let count = cases.list.len();
        for case in cases.list {
            if self.hangs >= MAX_HANGS {
                self.failures
                    .push(format!("{label}: stopped after {MAX_HANGS} hangs"));
                break;
            }
            self.cases += 1;
            let keep_before = case.keep_before;
            match analyze_case(case.bytes) {
                Err(Failure::Panic(p)) => self
                    .failures
                    .push(format!("{label}: {}: panicked: {p}", case.what)),
                Err(Failure::Hang) => {
                    self.hangs += 1;
                    self.failures.push(format!(
                        "{label}: {}: still running after {CASE_LIMIT:?}",
                        case.what
                    ));
                }
                Ok((outcome, took)) => {
                    if took > self.slowest.0 {
                        self.slowest = (took, format!("{label}: {}", case.what));
                    }
                    if let Some(o) = &outcome {
                        let bound = heap_bound(original.len());
                        if o.peak_heap > bound {
                            self.failures.push(format!(
                                "{label}: {}: held {} heap bytes at once, more than {bound}",
                                case.what, o.peak_heap
                            ));
                        }
                        if o.peak_heap > self.most_heap.0 {
                            self.most_heap = (o.peak_heap, format!("{label}: {}", case.what));
                        }
                    }
                    let (Some(base), Some(keep_before), true) =
                        (&baseline, keep_before, check_verdicts)
                    else {
                        continue;
                    };
                    let mutated = outcome.as_ref().map(|o| &o.verdicts);
                    for (key, (code, last)) in &base.verdicts {
                        if *last >= keep_before {
                            continue;
                        }
                        self.compared += 1;
                        let now = mutated.and_then(|m| m.get(key)).map(|(c, _)| c.as_str());
                        if now != Some(code.as_str()) {
                            self.failures.push(format!(
                                "{label}: {}: connection {} -> {} (frames {}..={last}, before \
                                 damaged frame {keep_before}) was {code}, now {}",
                                case.what,
                                key.0,
                                key.1,
                                key.2,
                                now.unwrap_or("not reported")
                            ));
                        }
                    }
                }
            }
        }
        let kinds: Vec<String> = cases
            .kinds
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        say(&format!(
            "mutation: {label}: {count} cases ({}) in {:.2} s",
            kinds.join(", "),
            started.elapsed().as_secs_f64()
        ));
    }

    fn finish(self, test: &str) {
        say(&format!(
            "mutation: {test}: {} cases, {} verdicts compared, slowest {:.0} ms ({}), most heap {} KiB ({})",
            self.cases,
            self.compared,
            self.slowest.0.as_secs_f64() * 1e3,
            self.slowest.1,
            self.most_heap.0 / 1024,
            self.most_heap.1
        ));
        if self.failures.is_empty() {
            return;
        }
        // Distinct panic locations first: many cases usually share one bug.
        let mut distinct: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.failures {
            if let Some(i) = f.find("panicked: ") {
                *distinct.entry(&f[i + 10..]).or_default() += 1;
            }
        }
        let mut msg = format!("{test}: {} failing case(s)\n", self.failures.len());
        for (panic, n) in &distinct {
            msg.push_str(&format!("  {n} case(s) panicked: {panic}\n"));
        }
        for f in self.failures.iter().take(LISTED_FAILURES) {
            msg.push_str(&format!("  - {f}\n"));
        }
        if self.failures.len() > LISTED_FAILURES {
            msg.push_str(&format!(
                "  … {} more\n",
                self.failures.len() - LISTED_FAILURES
            ));
        }
        panic!("{msg}");
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sample_captures() -> Vec<PathBuf> {
    let files = files_in(&root().join("captures"), |n| n.ends_with(".pcap"));
    assert!(!files.is_empty(), "no captures/*.pcap");
    files
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn captures_truncated_keep_earlier_verdicts() {
    let mut run = Run::default();
    for path in sample_captures() {
        let original = read(&path);
        let layout = Layout::parse(&original).expect("a capture");
        let name = relative(&path);
        let mut rng = XorShift::for_file(&name);
        let mut cases = Cases::default();
        cases.random_truncations(&original, &layout, &mut rng, 16);
        cases.boundary_truncations(&original, &layout, 1);
        run.file(&name, &original, cases, true);
    }
    assert!(
        run.compared > 1000,
        "the verdict check compared only {}",
        run.compared
    );
    run.finish("captures_truncated_keep_earlier_verdicts");
}

#[test]
fn captures_with_flipped_bits_and_inflated_lengths() {
    let mut run = Run::default();
    for path in sample_captures() {
        let original = read(&path);
        let name = relative(&path);
        let mut cases = full_pcap_cases(&name, &original);
        // Truncations have their own test.
        cases.list.retain(|c| c.keep_before.is_none());
        cases.kinds.remove("truncations");
        run.file(&name, &original, cases, false);
    }
    run.finish("captures_with_flipped_bits_and_inflated_lengths");
}

#[test]
fn pcapng_block_lengths() {
    let files = files_in(&root().join("tests/data/formats"), |n| {
        n.ends_with(".pcapng")
    });
    assert!(!files.is_empty(), "no tests/data/formats/*.pcapng");
    let mut run = Run::default();
    for path in files {
        let original = read(&path);
        let name = relative(&path);
        let cases = pcapng_cases(&name, &original);
        run.file(&name, &original, cases, true);
    }
    run.finish("pcapng_block_lengths");
}

#[test]
fn shared_corpus_light_mutations() {
    let Some(dir) = common::corpus_if_present("tests/mutation.rs shared_corpus_light_mutations")
    else {
        return;
    };
    let files = files_in(&dir, |n| n.ends_with(".pcap") || n.ends_with(".pcapng"));
    assert!(!files.is_empty(), "no captures in {}", dir.display());
    let mut run = Run::default();
    for path in files {
        let original = read(&path);
        let name = relative(&path);
        let cases = light_cases(&name, &original);
        run.file(&name, &original, cases, true);
    }
    run.finish("shared_corpus_light_mutations");
}

/// Every input the fuzz targets found (`tests/data/fuzz-regressions/<target>-*.bin`),
/// replayed through the API its target used.
#[test]
fn fuzz_regressions_replay() {
    let files = files_in(&root().join("tests/data/fuzz-regressions"), |n| {
        n.ends_with(".bin")
    });
    let mut run = Run::default();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let data = read(&path);
        let target = name.split('-').next().unwrap_or("").to_string();
        let result = guarded(move || fuzz_targets::run(&target, &data));
        run.cases += 1;
        match result {
            Ok(((), took)) => {
                if took > run.slowest.0 {
                    run.slowest = (took, name.clone());
                }
            }
            Err(Failure::Panic(p)) => run.failures.push(format!("{name}: panicked: {p}")),
            Err(Failure::Hang) => run
                .failures
                .push(format!("{name}: still running after {CASE_LIMIT:?}")),
        }
    }
    run.finish("fuzz_regressions_replay");
}
