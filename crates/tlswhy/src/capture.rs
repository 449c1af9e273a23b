//! Packet sources: classic pcap (micro- and nanosecond, either byte order) and pcapng
//! (several interfaces, enhanced and simple packet blocks), optionally gzip-compressed.
//!
//! The reader walks bytes in memory (a map, a buffer, or one chunk of a stream — see
//! [`crate::chunks`]) and hands out packets as slices borrowed from them. It never
//! panics on damaged input: it stops at the first record it cannot frame and keeps a
//! [`Damage`] report (byte offset and what was wrong) that the caller turns into a
//! warning, so everything before the damage is still analyzed.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use pcap_parser::pcapng::{Block, SectionHeaderBlock};
use pcap_parser::{PcapError, PcapHeader};

use crate::keys::KeyLog;

mod secrets;

/// Time of a packet, in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Microseconds since the epoch, rounded to the nearest (a half up; the last 500 ns
    /// of the range down): the time the records show, as `ts` and as `time`.
    pub fn round_micros(self) -> i64 {
        self.0.saturating_add(500).div_euclid(1000)
    }

    /// Seconds since the epoch to the microsecond ([`Timestamp::round_micros`]), as the
    /// JSON records write every time: the double nearest to the microseconds, whose
    /// shortest form is their digits (no float residue such as `.1302211`).
    pub fn as_secs_f64_micros(self) -> f64 {
        self.round_micros() as f64 / 1e6
    }

    /// Whole seconds since the epoch.
    pub fn as_unix_secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// `self - earlier`, in seconds.
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 / 1e9
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}",
            self.0.div_euclid(1_000_000_000),
            self.0.rem_euclid(1_000_000_000) / 1000
        )
    }
}

/// A data-link type from the tcpdump.org LINKTYPE registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const PPP: LinkType = LinkType(9);
    pub const PPP_HDLC: LinkType = LinkType(50);
    pub const RAW_DLT12: LinkType = LinkType(12);
    pub const RAW_DLT14: LinkType = LinkType(14);
    pub const LOOP: LinkType = LinkType(108);
    pub const RAW: LinkType = LinkType(101);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The registry name, or the number when it is not one this tool decodes.
    pub fn name(self) -> String {
        match self.0 {
            0 => "NULL".into(),
            1 => "ETHERNET".into(),
            9 => "PPP".into(),
            50 => "PPP_HDLC".into(),
            12 | 14 | 101 => "RAW".into(),
            108 => "LOOP".into(),
            113 => "LINUX_SLL".into(),
            228 => "IPV4".into(),
            229 => "IPV6".into(),
            276 => "LINUX_SLL2".into(),
            n => format!("LINKTYPE {n}"),
        }
    }
}

/// One captured packet, borrowed from the capture's bytes.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// 1-based frame number, as Wireshark counts.
    pub frame: u64,
    pub ts: Timestamp,
    pub link_type: LinkType,
    /// The captured bytes, starting at the link-layer header.
    pub data: &'a [u8],
    /// The length of the packet on the wire (may exceed `data.len()` with a snap length).
    pub orig_len: u32,
}

/// A packet copied out of its capture (kept to be written again, `--write`).
#[derive(Clone, Debug)]
pub struct OwnedPacket {
    pub frame: u64,
    pub ts: Timestamp,
    pub link_type: LinkType,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

/// Where and how a capture stopped making sense.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset (in the decompressed stream) of the record that could not be read.
    pub offset: u64,
    pub what: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.what)
    }
}

/// Why a capture could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng file (starts with {magic})")]
    NotACapture { path: String, magic: String },
    #[error("{path}: gzip data is damaged: {source}")]
    Gzip {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The format a capture file is in, from its magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

/// Where a capture comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    /// The name used in reports: the path as given, or `-`.
    pub fn display_name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "-".to_string(),
        }
    }
}

/// The bytes of one capture, mapped or owned.
pub struct CaptureBytes {
    storage: Storage,
    /// True when the bytes were gunzipped.
    pub was_gzip: bool,
}

enum Storage {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Deref for CaptureBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.storage {
            Storage::Mapped(m) => m,
            Storage::Owned(v) => v,
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl CaptureBytes {
    /// Loads a capture: a file is memory-mapped, stdin is read whole; gzip is inflated.
    pub fn load(source: &Source) -> Result<CaptureBytes, CaptureError> {
        let name = source.display_name();
        let io_err = |source| CaptureError::Io {
            path: name.clone(),
            source,
        };
        let raw = match source {
            Source::File(path) => map_file(path).map_err(io_err)?,
            Source::Stdin => {
                let mut buf = Vec::new();
                std::io::stdin()
                    .lock()
                    .read_to_end(&mut buf)
                    .map_err(io_err)?;
                Storage::Owned(buf)
            }
        };
        let bytes = CaptureBytes {
            storage: raw,
            was_gzip: false,
        };
        if bytes.starts_with(&GZIP_MAGIC) {
            let mut out = Vec::new();
            let mut dec = flate2::read::MultiGzDecoder::new(&bytes[..]);
            if let Err(source) = dec.read_to_end(&mut out) {
                // Keep what inflated before the damage only if it looks like a capture.
                if out.len() < 24 {
                    return Err(CaptureError::Gzip { path: name, source });
                }
            }
            return Ok(CaptureBytes {
                storage: Storage::Owned(out),
                was_gzip: true,
            });
        }
        Ok(bytes)
    }

    /// Wraps bytes already in memory (tests, fuzzing, library callers).
    pub fn from_vec(bytes: Vec<u8>) -> CaptureBytes {
        CaptureBytes {
            storage: Storage::Owned(bytes),
            was_gzip: false,
        }
    }
}

#[allow(unsafe_code)]
fn map_file(path: &Path) -> std::io::Result<Storage> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Storage::Owned(Vec::new()));
    }
    // SAFETY: the map is read-only and lives as long as the `CaptureBytes` that owns it.
    // A capture file truncated by another process while mapped would fault on access;
    // that is the documented hazard of reading a file that is still being written, and
    // the reason `-` (stdin) exists for such inputs.
    match unsafe { memmap2::Mmap::map(&file) } {
        Ok(map) => Ok(Storage::Mapped(map)),
        Err(_) => {
            // Not mappable (a pipe or a special file): read it instead.
            let mut buf = Vec::with_capacity(len as usize);
            File::open(path)?.read_to_end(&mut buf)?;
            Ok(Storage::Owned(buf))
        }
    }
}

/// Detects the format from the first bytes.
pub fn detect_format(bytes: &[u8]) -> Option<Format> {
    let magic = bytes.get(..4)?;
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xc3, 0xd4]
        | [0x4d, 0x3c, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d] => Some(Format::Pcap),
        [0x0a, 0x0d, 0x0d, 0x0a] => Some(Format::PcapNg),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: LinkType,
    /// Timestamp units per second.
    ts_resolution: u64,
    ts_offset_secs: i64,
    snaplen: u32,
}

#[derive(Clone, Debug)]
enum Walker {
    Pcap {
        big_endian: bool,
        nanos: bool,
        link_type: LinkType,
    },
    PcapNg {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// Walks the packet records of one capture, borrowing each packet's bytes.
pub struct PacketReader<'a> {
    bytes: &'a [u8],
    offset: usize,
    frame: u64,
    walker: Walker,
    damage: Option<Damage>,
    /// Link types of the packets handed out so far (pcapng may mix them).
    link_types: Vec<LinkType>,
    /// pcapng: when the capture ended, from interface statistics (`isb_endtime`).
    capture_end: Option<Timestamp>,
    /// Position of `bytes` in the whole stream (chunked reading).
    base: u64,
    /// More bytes may follow `bytes`: a record cut off at the end is not damage yet.
    more_may_follow: bool,
    /// The walk stopped at a record that continues past `bytes`.
    wants_more: bool,
    /// pcapng: the TLS key logs of Decryption Secrets Blocks go here as they are met.
    secrets: Option<Arc<KeyLog>>,
}

/// What a [`PacketReader`] knows between two chunks of a stream: the format, the
/// interfaces, the frame count.
#[derive(Clone, Debug)]
pub struct ReaderState {
    frame: u64,
    walker: Walker,
    link_types: Vec<LinkType>,
    capture_end: Option<Timestamp>,
    secrets: Option<Arc<KeyLog>>,
}

impl ReaderState {
    /// pcapng: the TLS secrets of its Decryption Secrets Blocks (see
    /// [`PacketReader::secrets`]).
    pub fn secrets(&self) -> Option<&Arc<KeyLog>> {
        self.secrets.as_ref()
    }

    /// When the capture ended, if the file said so before this point.
    pub fn capture_end(&self) -> Option<Timestamp> {
        self.capture_end
    }
}

/// Upper bound on a single packet record. Anything larger is damage, not a packet.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;

impl<'a> PacketReader<'a> {
    /// Reads the file header. `name` is only used in error messages.
    pub fn new(bytes: &'a [u8], name: &str) -> Result<PacketReader<'a>, CaptureError> {
        let not_capture = || CaptureError::NotACapture {
            path: name.to_string(),
            magic: hex_prefix(bytes),
        };
        match detect_format(bytes).ok_or_else(not_capture)? {
            Format::Pcap => {
                let (_, header): (_, PcapHeader) =
                    pcap_parser::parse_pcap_header(bytes).map_err(|_| not_capture())?;
                let link_type = LinkType(header.network.0 as u32);
                Ok(PacketReader {
                    bytes,
                    offset: 24,
                    frame: 0,
                    walker: Walker::Pcap {
                        big_endian: header.is_bigendian(),
                        nanos: header.is_nanosecond_precision(),
                        link_type,
                    },
                    damage: None,
                    link_types: vec![link_type],
                    capture_end: None,
                    base: 0,
                    more_may_follow: false,
                    wants_more: false,
                    secrets: None,
                })
            }
            Format::PcapNg => {
                let mut reader = PacketReader {
                    bytes,
                    offset: 0,
                    frame: 0,
                    walker: Walker::PcapNg {
                        big_endian: false,
                        interfaces: Vec::new(),
                    },
                    damage: None,
                    link_types: Vec::new(),
                    capture_end: None,
                    base: 0,
                    more_may_follow: false,
                    wants_more: false,
                    secrets: Some(Arc::new(KeyLog::new())),
                };
                // The section header must parse, or this is not a pcapng file at all.
                match pcap_parser::pcapng::parse_sectionheaderblock(bytes) {
                    Ok((rest, shb)) => {
                        reader.start_section(&shb);
                        reader.offset = bytes.len() - rest.len();
                        Ok(reader)
                    }
                    Err(_) => Err(not_capture()),
                }
            }
        }
    }

    /// Goes on walking a stream in a new buffer that starts with the bytes where the
    /// previous walk stopped (then [`PacketReader::set_stream`] says where it is).
    pub fn resume(state: ReaderState, bytes: &'a [u8]) -> PacketReader<'a> {
        PacketReader {
            bytes,
            offset: 0,
            frame: state.frame,
            walker: state.walker,
            damage: None,
            link_types: state.link_types,
            capture_end: state.capture_end,
            base: 0,
            more_may_follow: false,
            wants_more: false,
            secrets: state.secrets,
        }
    }

    /// Chunked reading: says whether bytes may follow the ones given (a record cut off
    /// at their end then waits for them instead of being damage) and where they are in
    /// the stream.
    pub fn set_stream(&mut self, base: u64, more_may_follow: bool) {
        self.base = base;
        self.more_may_follow = more_may_follow;
    }

    /// The walk stopped at a record that continues past the bytes given.
    pub fn wants_more(&self) -> bool {
        self.wants_more
    }

    /// What the next buffer's walk needs to know.
    pub fn into_state(self) -> ReaderState {
        ReaderState {
            frame: self.frame,
            walker: self.walker,
            link_types: self.link_types,
            capture_end: self.capture_end,
            secrets: self.secrets,
        }
    }

    /// pcapng: the TLS secrets of the Decryption Secrets Blocks read so far (the walk
    /// adds the others as it meets them). `None` for pcap, which has no such blocks.
    pub fn secrets(&self) -> Option<&Arc<KeyLog>> {
        self.secrets.as_ref()
    }

    /// pcapng: reads the Decryption Secrets Blocks of the whole capture now, before its
    /// packets, so that a secret written after the packets it opens still applies.
    pub fn read_secrets_ahead(&self) {
        if let Some(log) = &self.secrets {
            secrets::read_ahead(self.bytes, log);
        }
    }

    /// The damage that stopped the walk, if any (meaningful once `next` returned `None`).
    pub fn damage(&self) -> Option<&Damage> {
        self.damage.as_ref()
    }

    /// When the capture ended, if the file says (pcapng interface statistics); it can
    /// be later than the last packet.
    pub fn capture_end(&self) -> Option<Timestamp> {
        self.capture_end
    }

    /// Byte offset of the next record.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The link types seen in this capture.
    pub fn link_types(&self) -> &[LinkType] {
        &self.link_types
    }

    fn start_section(&mut self, shb: &SectionHeaderBlock<'_>) {
        self.walker = Walker::PcapNg {
            big_endian: shb.big_endian(),
            interfaces: Vec::new(),
        };
    }

    /// A record continues past the bytes at hand: wait for more when they may come,
    /// otherwise the capture is cut off here.
    fn cut_off(&mut self, what: impl FnOnce() -> String) -> Option<Packet<'a>> {
        if self.more_may_follow {
            self.wants_more = true;
            return None;
        }
        self.stop(what())
    }

    fn stop(&mut self, what: String) -> Option<Packet<'a>> {
        self.damage = Some(Damage {
            offset: self.base + self.offset as u64,
            what,
        });
        self.offset = self.bytes.len();
        None
    }

    fn next_pcap(
        &mut self,
        big_endian: bool,
        nanos: bool,
        link_type: LinkType,
    ) -> Option<Packet<'a>> {
        let rest = &self.bytes[self.offset..];
        if rest.is_empty() {
            return None;
        }
        if rest.len() < 16 {
            let have = rest.len();
            return self.cut_off(|| format!("record header cut off ({have} of 16 bytes)"));
        }
        let field = |at: usize| {
            let b = [rest[at], rest[at + 1], rest[at + 2], rest[at + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let caplen = field(8) as usize;
        if caplen > MAX_RECORD_BYTES {
            return self.stop(format!(
                "record claims {caplen} captured bytes, more than any packet ({MAX_RECORD_BYTES})"
            ));
        }
        let parsed = if big_endian {
            pcap_parser::parse_pcap_frame_be(rest)
        } else {
            pcap_parser::parse_pcap_frame(rest)
        };
        match parsed {
            Ok((after, block)) => {
                self.offset = self.bytes.len() - after.len();
                self.frame += 1;
                let frac = if nanos {
                    block.ts_usec as i64
                } else {
                    block.ts_usec as i64 * 1000
                };
                Some(Packet {
                    frame: self.frame,
                    ts: Timestamp(block.ts_sec as i64 * 1_000_000_000 + frac),
                    link_type,
                    data: block.data,
                    orig_len: block.origlen,
                })
            }
            Err(_) if rest.len() < 16 + caplen => {
                let left = rest.len() - 16;
                self.cut_off(|| {
                    format!(
                        "packet record cut off: {caplen} bytes announced, {left} left in the file"
                    )
                })
            }
            Err(_) => self.stop(format!("packet record of {caplen} bytes does not parse")),
        }
    }

    fn next_pcapng(&mut self) -> Option<Packet<'a>> {
        loop {
            let rest = &self.bytes[self.offset..];
            if rest.is_empty() {
                return None;
            }
            if rest.len() < 12 {
                let left = rest.len();
                return self.cut_off(|| format!("block header cut off ({left} bytes left)"));
            }
            let Walker::PcapNg { big_endian, .. } = &self.walker else {
                return None;
            };
            let big_endian = *big_endian;
            // Section headers carry their own byte order.
            let is_shb = rest[..4] == [0x0a, 0x0d, 0x0d, 0x0a];
            let declared = {
                let b = [rest[4], rest[5], rest[6], rest[7]];
                if is_shb {
                    // Byte order comes from the section's byte-order magic.
                    let bom = [rest[8], rest[9], rest[10], rest[11]];
                    if bom == [0x1a, 0x2b, 0x3c, 0x4d] {
                        u32::from_be_bytes(b)
                    } else {
                        u32::from_le_bytes(b)
                    }
                } else if big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            } as usize;
            if declared < 12 || declared % 4 != 0 {
                return self.stop(format!("block length {declared} is not valid"));
            }
            if declared > MAX_RECORD_BYTES + 64 && !is_shb {
                return self.stop(format!(
                    "block claims {declared} bytes, more than any packet block"
                ));
            }
            if declared > rest.len() {
                let left = rest.len();
                if declared > MAX_RECORD_BYTES + 64 {
                    // A section header this large is not waited for.
                    self.more_may_follow = false;
                }
                return self.cut_off(|| {
                    format!("block cut off: {declared} bytes announced, {left} left in the file")
                });
            }
            let block_bytes = &rest[..declared];
            let parsed = if is_shb {
                pcap_parser::pcapng::parse_sectionheaderblock(block_bytes)
                    .map(|(r, shb)| (r, Block::SectionHeader(shb)))
            } else if big_endian {
                pcap_parser::pcapng::parse_block_be(block_bytes)
            } else {
                pcap_parser::pcapng::parse_block_le(block_bytes)
            };
            let block = match parsed {
                Ok((_, block)) => block,
                Err(e) => {
                    return self.stop(format!("block does not parse: {}", describe_error(&e)));
                }
            };
            self.offset += declared;
            match block {
                Block::SectionHeader(shb) => self.start_section(&shb),
                Block::InterfaceDescription(idb) => {
                    let iface = Interface {
                        link_type: LinkType(idb.linktype.0 as u32),
                        ts_resolution: idb.ts_resolution().unwrap_or(1_000_000),
                        ts_offset_secs: idb.ts_offset(),
                        snaplen: idb.snaplen,
                    };
                    if !self.link_types.contains(&iface.link_type) {
                        self.link_types.push(iface.link_type);
                    }
                    if let Walker::PcapNg { interfaces, .. } = &mut self.walker {
                        interfaces.push(iface);
                    }
                }
                Block::EnhancedPacket(epb) => {
                    let Some(iface) = self.interface(epb.if_id as usize) else {
                        return self.stop(format!(
                            "packet refers to interface {} that was never described",
                            epb.if_id
                        ));
                    };
                    let caplen = (epb.caplen as usize).min(epb.data.len());
                    let units = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                    self.frame += 1;
                    return Some(Packet {
                        frame: self.frame,
                        ts: units_to_timestamp(units, iface.ts_resolution, iface.ts_offset_secs),
                        link_type: iface.link_type,
                        data: &epb.data[..caplen],
                        orig_len: epb.origlen,
                    });
                }
                Block::DecryptionSecrets(dsb) => {
                    if let Some(log) = &self.secrets {
                        if dsb.secrets_type == pcap_parser::pcapng::SecretsType::TlsKeyLog {
                            // Read in a stream: more blocks may follow, and TLS 1.3
                            // connections without secrets wait a while for them.
                            if !log.was_read_ahead() {
                                log.set_growing(true);
                            }
                            log.add_lines(dsb.data);
                        }
                    }
                }
                Block::InterfaceStatistics(isb) => {
                    // isb_endtime: when the capture stopped, silence included.
                    if let (Some(iface), Some(Ok((high, low)))) =
                        (self.interface(isb.if_id as usize), isb.isb_endtime())
                    {
                        let units = ((high as u64) << 32) | low as u64;
                        let end =
                            units_to_timestamp(units, iface.ts_resolution, iface.ts_offset_secs);
                        self.capture_end = Some(self.capture_end.map_or(end, |e| e.max(end)));
                    }
                }
                Block::SimplePacket(spb) => {
                    let Some(iface) = self.interface(0) else {
                        return self.stop("simple packet block before any interface".into());
                    };
                    let mut caplen = (spb.origlen as usize).min(spb.data.len());
                    if iface.snaplen > 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    self.frame += 1;
                    return Some(Packet {
                        frame: self.frame,
                        ts: Timestamp(0),
                        link_type: iface.link_type,
                        data: &spb.data[..caplen],
                        orig_len: spb.origlen,
                    });
                }
                _ => {}
            }
        }
    }

    fn interface(&self, id: usize) -> Option<Interface> {
        match &self.walker {
            Walker::PcapNg { interfaces, .. } => interfaces.get(id).copied(),
            Walker::Pcap { .. } => None,
        }
    }
}

impl<'a> Iterator for PacketReader<'a> {
    type Item = Packet<'a>;

    fn next(&mut self) -> Option<Packet<'a>> {
        if self.offset >= self.bytes.len() || self.wants_more {
            return None;
        }
        match self.walker {
            Walker::Pcap {
                big_endian,
                nanos,
                link_type,
            } => self.next_pcap(big_endian, nanos, link_type),
            Walker::PcapNg { .. } => self.next_pcapng(),
        }
    }
}

fn units_to_timestamp(units: u64, per_sec: u64, offset_secs: i64) -> Timestamp {
    if per_sec == 0 {
        return Timestamp(0);
    }
    let secs = (units / per_sec) as i64;
    let frac = (units % per_sec) as u128;
    let nanos = (frac * 1_000_000_000 / per_sec as u128) as i64;
    Timestamp(
        secs.saturating_add(offset_secs)
            .saturating_mul(1_000_000_000)
            .saturating_add(nanos),
    )
}

fn describe_error(e: &pcap_parser::nom::Err<PcapError<&[u8]>>) -> String {
    match e {
        pcap_parser::nom::Err::Incomplete(_) => "incomplete".into(),
        pcap_parser::nom::Err::Error(e) | pcap_parser::nom::Err::Failure(e) => match e {
            PcapError::NomError(_, kind) => format!("{kind:?}"),
            other => format!("{other:?}").chars().take(80).collect(),
        },
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing: the file is empty".into();
    }
    bytes
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
