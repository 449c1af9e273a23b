//! Writes the packets of failing handshakes (`--write`) as pcapng, so a bug report can
//! carry exactly the connections that failed: one interface per link type, nanosecond
//! timestamps, and an interface statistics block whose `isb_endtime` records when the
//! capture ended — the silence after the last packet, which the timeout verdicts need
//! and which a classic pcap cannot hold. Blocks are serialized with pcap-parser.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use pcap_parser::pcapng::{
    EnhancedPacketBlock, InterfaceDescriptionBlock, InterfaceStatisticsBlock, SectionHeaderBlock,
};
use pcap_parser::{Linktype, OptionCode, PcapNGOption, ToVec};

use crate::capture::{LinkType, OwnedPacket, Timestamp};

/// A pcapng file being written.
pub struct PcapWriter {
    out: BufWriter<File>,
    /// Interface index → link type.
    interfaces: Vec<LinkType>,
    pub written: u64,
}

/// `if_tsresol` 9: timestamps in nanoseconds.
const NANOSECONDS: u8 = 9;

fn gen_err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("pcapng serialization: {e:?}"))
}

/// A 64-bit timestamp in nanoseconds as pcapng's (high, low) halves.
fn halves(ts: Timestamp) -> (u32, u32) {
    let units = ts.0.max(0) as u64;
    ((units >> 32) as u32, units as u32)
}

impl PcapWriter {
    /// Creates the file and writes its section header.
    pub fn create(path: &Path) -> io::Result<PcapWriter> {
        let file = File::create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let mut out = BufWriter::new(file);
        let mut shb = SectionHeaderBlock {
            block_type: 0,
            block_len1: 0,
            bom: 0,
            major_version: 1,
            minor_version: 0,
            section_len: -1,
            options: Vec::new(),
            block_len2: 0,
        };
        out.write_all(&shb.to_vec().map_err(gen_err)?)?;
        Ok(PcapWriter {
            out,
            interfaces: Vec::new(),
            written: 0,
        })
    }

    fn interface(&mut self, link_type: LinkType) -> io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|&l| l == link_type) {
            return Ok(i as u32);
        }
        let mut idb = InterfaceDescriptionBlock {
            block_type: 0,
            block_len1: 0,
            linktype: Linktype(link_type.0 as i32),
            reserved: 0,
            snaplen: 262_144,
            options: Vec::new(),
            block_len2: 0,
            if_tsresol: NANOSECONDS,
            if_tsoffset: 0,
        };
        self.out.write_all(&idb.to_vec().map_err(gen_err)?)?;
        self.interfaces.push(link_type);
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// Appends packets.
    pub fn write(&mut self, packets: &[OwnedPacket]) -> io::Result<()> {
        for p in packets {
            let if_id = self.interface(p.link_type)?;
            let (ts_high, ts_low) = halves(p.ts);
            let mut epb = EnhancedPacketBlock {
                block_type: 0,
                block_len1: 0,
                if_id,
                ts_high,
                ts_low,
                caplen: p.data.len() as u32,
                origlen: p.orig_len.max(p.data.len() as u32),
                data: &p.data,
                options: Vec::new(),
                block_len2: 0,
            };
            self.out.write_all(&epb.to_vec().map_err(gen_err)?)?;
            self.written += 1;
        }
        Ok(())
    }

    /// Records when the capture ended (`isb_endtime` on every interface) and flushes.
    pub fn finish(mut self, capture_end: Timestamp) -> io::Result<()> {
        if self.interfaces.is_empty() {
            self.interface(LinkType::ETHERNET)?;
        }
        let (high, low) = halves(capture_end);
        let mut end = high.to_le_bytes().to_vec();
        end.extend_from_slice(&low.to_le_bytes());
        for if_id in 0..self.interfaces.len() as u32 {
            let mut isb = InterfaceStatisticsBlock {
                block_type: 0,
                block_len1: 0,
                if_id,
                ts_high: high,
                ts_low: low,
                options: vec![PcapNGOption {
                    code: OptionCode::IsbEndTime,
                    len: 8,
                    value: Cow::Owned(end.clone()),
                }],
                block_len2: 0,
            };
            self.out.write_all(&isb.to_vec().map_err(gen_err)?)?;
        }
        self.out.flush()
    }
}
