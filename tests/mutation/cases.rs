//! The mutated cases of a capture: truncations at random offsets and at unit
//! boundaries, bit flips, inflated length fields — from a xorshift generator seeded by
//! the file's name, so every run makes the same cases.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::layout::{ip_offset, rd16, tcp_payload, tls_fields, Endian, Field, Layout};

pub(crate) struct XorShift(u64);

impl XorShift {
    /// Seeded from a constant and the file name, so each file gets its own sequence.
    pub(crate) fn for_file(name: &str) -> XorShift {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        XorShift((h ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform enough in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub(crate) struct Case {
    pub(crate) what: String,
    pub(crate) bytes: Vec<u8>,
    /// Truncations: the first damaged frame (connections that ended before it keep
    /// their verdicts).
    pub(crate) keep_before: Option<u64>,
}

#[derive(Default)]
pub(crate) struct Cases {
    pub(crate) list: Vec<Case>,
    pub(crate) kinds: BTreeMap<&'static str, usize>,
}

impl Cases {
    pub(crate) fn push(
        &mut self,
        kind: &'static str,
        what: String,
        bytes: Vec<u8>,
        keep_before: Option<u64>,
    ) {
        *self.kinds.entry(kind).or_default() += 1;
        self.list.push(Case {
            what,
            bytes,
            keep_before,
        });
    }

    pub(crate) fn truncate(&mut self, original: &[u8], layout: &Layout, cut: usize, why: &str) {
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

    pub(crate) fn random_truncations(
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
    pub(crate) fn boundary_truncations(&mut self, original: &[u8], layout: &Layout, every: usize) {
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

    pub(crate) fn bit_flips(
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

    pub(crate) fn inflate(&mut self, original: &[u8], field: &Field, values: &[u64]) {
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
pub(crate) fn full_pcap_cases(name: &str, original: &[u8]) -> Cases {
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
pub(crate) fn pcapng_cases(name: &str, original: &[u8]) -> Cases {
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
pub(crate) fn light_cases(name: &str, original: &[u8]) -> Cases {
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
