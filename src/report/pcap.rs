//! Writes the packets of failing handshakes to a pcap file (`--write`), so a bug report
//! can carry exactly the connections that failed. Records are serialized with
//! pcap-parser; one file has one link type, so packets of other link types are counted
//! and left out.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};

use crate::capture::{LinkType, Timestamp};

/// A packet kept for writing.
#[derive(Clone, Debug)]
pub struct OwnedPacket {
    pub frame: u64,
    pub ts: Timestamp,
    pub link_type: LinkType,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

/// A nanosecond-resolution pcap being written.
pub struct PcapWriter {
    out: BufWriter<File>,
    link_type: Option<LinkType>,
    /// Packets left out because their link type differs from the file's.
    pub skipped: u64,
    pub written: u64,
}

/// Nanosecond-resolution pcap magic.
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

impl PcapWriter {
    pub fn create(path: &Path) -> io::Result<PcapWriter> {
        let file = File::create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(PcapWriter {
            out: BufWriter::new(file),
            link_type: None,
            skipped: 0,
            written: 0,
        })
    }

    /// Appends packets; the first one fixes the file's link type.
    pub fn write(&mut self, packets: &[OwnedPacket]) -> io::Result<()> {
        for p in packets {
            let link_type = *self.link_type.get_or_insert(p.link_type);
            if self.written == 0 && self.skipped == 0 {
                let mut header = PcapHeader {
                    magic_number: MAGIC_NANOS,
                    network: Linktype(link_type.0 as i32),
                    snaplen: 262_144,
                    ..PcapHeader::new()
                };
                self.out
                    .write_all(&header.to_vec().map_err(io::Error::other)?)?;
            }
            if p.link_type != link_type {
                self.skipped += 1;
                continue;
            }
            let mut block = LegacyPcapBlock {
                ts_sec: p.ts.as_unix_secs() as u32,
                ts_usec: p.ts.0.rem_euclid(1_000_000_000) as u32,
                caplen: p.data.len() as u32,
                origlen: p.orig_len.max(p.data.len() as u32),
                data: &p.data,
            };
            self.out
                .write_all(&block.to_vec().map_err(io::Error::other)?)?;
            self.written += 1;
        }
        Ok(())
    }

    /// Flushes; an empty file still gets a header (Ethernet) so it opens in any tool.
    pub fn finish(mut self) -> io::Result<()> {
        if self.written == 0 && self.skipped == 0 {
            let mut header = PcapHeader {
                magic_number: MAGIC_NANOS,
                network: Linktype::ETHERNET,
                snaplen: 262_144,
                ..PcapHeader::new()
            };
            self.out
                .write_all(&header.to_vec().map_err(io::Error::other)?)?;
        }
        self.out.flush()
    }
}
