//! Where things are in a capture file, found by a reader of its own so that the
//! mutations do not depend on the code under test: pcap records and pcapng blocks with
//! their length fields, the packets in them, and the length fields of the TLS records,
//! handshake messages and extensions in their TCP payloads.

use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

pub(crate) fn rd16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

pub(crate) fn rd32(b: &[u8], at: usize, e: Endian) -> Option<u32> {
    let raw: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u32::from_le_bytes(raw),
        Endian::Big => u32::from_be_bytes(raw),
    })
}

/// A length field of a file: where, how wide, which byte order, and its value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub(crate) at: usize,
    pub(crate) width: usize,
    pub(crate) endian: Endian,
    pub(crate) value: u64,
    pub(crate) what: &'static str,
}

impl Field {
    pub(crate) fn max(&self) -> u64 {
        (1u64 << (8 * self.width)) - 1
    }

    pub(crate) fn write(&self, bytes: &mut [u8], value: u64) {
        let be = value.to_be_bytes();
        let mut v = be[8 - self.width..].to_vec();
        if self.endian == Endian::Little {
            v.reverse();
        }
        bytes[self.at..self.at + self.width].copy_from_slice(&v);
    }

    /// Larger values to try: a little, somewhat, a lot, and the largest the field holds.
    pub(crate) fn inflated(&self) -> Vec<u64> {
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
pub(crate) struct Unit {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// pcap: the record's caplen; pcapng: the block total length.
    pub(crate) length: Field,
    pub(crate) packet: Option<PacketAt>,
}

/// A packet inside a unit.
#[derive(Clone, Debug)]
pub(crate) struct PacketAt {
    pub(crate) data: Range<usize>,
    pub(crate) link: u32,
    /// The captured-length field of a pcapng EPB (pcap: the unit's `length`).
    pub(crate) caplen: Option<Field>,
}

pub(crate) struct Layout {
    pub(crate) units: Vec<Unit>,
}

impl Layout {
    pub(crate) fn parse(bytes: &[u8]) -> Option<Layout> {
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

    pub(crate) fn pcap(bytes: &[u8], e: Endian) -> Layout {
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

    pub(crate) fn pcapng(bytes: &[u8]) -> Layout {
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
            if len < 12 || !len.is_multiple_of(4) || off + len > bytes.len() {
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
    pub(crate) fn first_damaged_frame(&self, cut: usize) -> u64 {
        1 + self
            .units
            .iter()
            .filter(|u| u.packet.is_some() && u.end <= cut)
            .count() as u64
    }

    pub(crate) fn packets(&self) -> impl Iterator<Item = &PacketAt> {
        self.units.iter().filter_map(|u| u.packet.as_ref())
    }
}

/// Offset of the IP header inside a frame of `link`.
pub(crate) fn ip_offset(link: u32, frame: &[u8]) -> Option<usize> {
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
pub(crate) fn tcp_payload(ip: &[u8]) -> Option<(Option<usize>, Range<usize>)> {
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
pub(crate) fn tls_fields(file: &[u8], payload: Range<usize>) -> Vec<Field> {
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
