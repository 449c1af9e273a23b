//! The TCP connection emitter: a connection's frames with a real TCP life (handshake,
//! segments of at most one MSS, acknowledgements, retransmissions and reordering, FIN or
//! RST), Ethernet/IPv4/IPv6 headers and checksums.

use crate::bytes::*;
use crate::rng::Rng;

pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const PSH: u8 = 0x08;
pub(crate) const ACK: u8 = 0x10;
/// Payload per segment: 1500-byte MTU minus IP, TCP and the 12-byte timestamp option.
pub(crate) const MSS_IPV4: usize = 1448;
pub(crate) const MSS_IPV6: usize = 1428;
/// Captured on the client's segment: the router stands in for every server.
pub(crate) const ROUTER_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0xff, 0xff, 0x01];
/// The receiver acknowledges every second in-order segment.
pub(crate) const ACK_EVERY: u32 = 2;
pub(crate) const CLIENT: usize = 0;
pub(crate) const SERVER: usize = 1;

/// One frame of a connection: its time and where its bytes end in `Conn::bytes`.
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) ts: u64,
    pub(crate) end: usize,
}

/// When a flight's segments go out: the first `first` µs after the previous frame, the
/// others `gap` µs apart.
#[derive(Clone, Copy)]
pub(crate) struct Pace {
    pub(crate) first: u64,
    pub(crate) gap: u64,
}

/// Per-segment probabilities of reordering and retransmission.
#[derive(Clone, Copy, Default)]
pub(crate) struct Faults {
    pub(crate) ooo: f64,
    pub(crate) retx: f64,
}

/// Which faults a connection's handshake flights got.
#[derive(Clone, Copy, Default)]
pub(crate) struct Anomalies {
    pub(crate) ooo: bool,
    pub(crate) retx: bool,
}

impl Anomalies {
    pub(crate) fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.ooo {
            v.push("ooo");
        }
        if self.retx {
            v.push("retx");
        }
        v
    }
}

/// The two endpoints of a connection and its round trip time.
pub(crate) struct Endpoints {
    pub(crate) v6: bool,
    pub(crate) client: [u8; 16],
    pub(crate) server: [u8; 16],
    pub(crate) client_port: u16,
    pub(crate) client_mac: [u8; 6],
    pub(crate) rtt: u64,
}

/// Builds the frames of one TCP connection. Index 0 of the pairs is the client.
#[derive(Default)]
pub(crate) struct Conn {
    pub(crate) v6: bool,
    pub(crate) addr: [[u8; 16]; 2],
    pub(crate) port: [u16; 2],
    pub(crate) client_mac: [u8; 6],
    pub(crate) t: u64,
    pub(crate) rtt: u64,
    pub(crate) mss: usize,
    pub(crate) isn: [u32; 2],
    /// Next sequence number each side sends.
    pub(crate) nxt: [u32; 2],
    /// What each side has received in order (its ACK number).
    pub(crate) rcv: [u32; 2],
    pub(crate) ip_id: [u16; 2],
    pub(crate) ts_offset: [u32; 2],
    pub(crate) window: [u16; 2],
    pub(crate) ttl: [u8; 2],
    pub(crate) bytes: Vec<u8>,
    pub(crate) frames: Vec<Frame>,
    // Scratch space of `send`.
    pub(crate) first: Vec<usize>,
    pub(crate) order: Vec<(usize, bool)>,
    pub(crate) pending: Vec<(usize, u32)>,
    pub(crate) buffered: Vec<(u32, u32)>,
}

impl Conn {
    /// Starts a connection at `t0`, reusing this one's buffers.
    pub(crate) fn open(&mut self, rng: &mut Rng, e: &Endpoints, t0: u64) {
        self.v6 = e.v6;
        self.addr = [e.client, e.server];
        self.port = [e.client_port, 443];
        self.client_mac = e.client_mac;
        self.t = t0;
        self.rtt = e.rtt;
        self.mss = if e.v6 { MSS_IPV6 } else { MSS_IPV4 };
        self.isn = [rng.next_u64() as u32, rng.next_u64() as u32];
        self.nxt = self.isn;
        self.rcv = [0, 0];
        self.ip_id = [rng.next_u64() as u16, rng.next_u64() as u16];
        self.ts_offset = [rng.next_u64() as u32, rng.next_u64() as u32];
        self.window = [
            rng.pick(&[501, 502, 507, 1021]),
            rng.pick(&[501, 235, 510, 64240 >> 7]),
        ];
        self.ttl = [64, rng.pick(&[50, 52, 55, 57, 116, 245])];
        self.bytes.clear();
        self.frames.clear();
    }

    /// The bytes of frame `i`.
    pub(crate) fn frame_bytes(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.frames[i - 1].end };
        &self.bytes[start..self.frames[i].end]
    }

    /// Appends one Ethernet/IP/TCP frame from side `d` at the current time.
    pub(crate) fn segment(&mut self, d: usize, flags: u8, seq: u32, ack: u32, payload: &[u8]) {
        let syn = flags & SYN != 0;
        let (src, dst) = (d, 1 - d);
        let header_len = if syn { 40 } else { 32 };
        let tcp_len = header_len + payload.len();
        let pseudo = self.link_and_ip(d, 6, tcp_len);
        let b = &mut self.bytes;
        let tcp_at = b.len();
        b.put_u16(self.port[src]);
        b.put_u16(self.port[dst]);
        b.put_u32(seq);
        b.put_u32(ack);
        b.put_u16(((header_len as u16 / 4) << 12) | u16::from(flags));
        b.put_u16(if syn { 64240 } else { self.window[d] });
        b.put_u32(0); // checksum, urgent pointer
        let t_ms = (self.t / 1000) as u32;
        let tsval = t_ms.wrapping_add(self.ts_offset[src]);
        let tsecr = if syn && d == CLIENT {
            0
        } else {
            t_ms.wrapping_add(self.ts_offset[dst])
        };
        if syn {
            let mss = if self.v6 { 1440 } else { 1460 };
            b.extend_from_slice(&[2, 4]);
            b.put_u16(mss);
            b.extend_from_slice(&[4, 2, 8, 10]); // SACK permitted, timestamps
            b.put_u32(tsval);
            b.put_u32(tsecr);
            b.extend_from_slice(&[1, 3, 3, 7]); // NOP, window scale 7
        } else {
            b.extend_from_slice(&[1, 1, 8, 10]);
            b.put_u32(tsval);
            b.put_u32(tsecr);
        }
        b.extend_from_slice(payload);
        let sum = internet_checksum(pseudo + ones_sum(&b[tcp_at..]));
        b[tcp_at + 16..tcp_at + 18].copy_from_slice(&sum.to_be_bytes());
        self.frames.push(Frame {
            ts: self.t,
            end: b.len(),
        });
    }

    /// Appends one Ethernet/IP/UDP frame from side `d` at the current time (QUIC).
    pub(crate) fn datagram(&mut self, d: usize, payload: &[u8]) {
        let (src, dst) = (d, 1 - d);
        let udp_len = 8 + payload.len();
        let pseudo = self.link_and_ip(d, 17, udp_len);
        let b = &mut self.bytes;
        let udp_at = b.len();
        b.put_u16(self.port[src]);
        b.put_u16(self.port[dst]);
        b.put_u16(udp_len as u16);
        b.put_u16(0);
        b.extend_from_slice(payload);
        let sum = match internet_checksum(pseudo + ones_sum(&b[udp_at..])) {
            0 => 0xffff,
            sum => sum,
        };
        b[udp_at + 6..udp_at + 8].copy_from_slice(&sum.to_be_bytes());
        self.frames.push(Frame {
            ts: self.t,
            end: b.len(),
        });
    }

    /// Appends the Ethernet and IP headers of a packet from side `d` carrying
    /// `transport_len` bytes of IP protocol `protocol`; returns the sum of the
    /// transport checksum's pseudo-header.
    fn link_and_ip(&mut self, d: usize, protocol: u8, transport_len: usize) -> u64 {
        let (src, dst) = (d, 1 - d);
        let b = &mut self.bytes;
        if d == CLIENT {
            b.extend_from_slice(&ROUTER_MAC);
            b.extend_from_slice(&self.client_mac);
        } else {
            b.extend_from_slice(&self.client_mac);
            b.extend_from_slice(&ROUTER_MAC);
        }
        let addr_len = if self.v6 { 16 } else { 4 };
        let (saddr, daddr) = (&self.addr[src][..addr_len], &self.addr[dst][..addr_len]);
        if self.v6 {
            b.put_u16(0x86DD);
            b.put_u32(0x6000_0000 | ((u32::from(self.port[CLIENT]) * 7919) & 0xF_FFFF));
            b.put_u16(transport_len as u16);
            b.push(protocol);
            b.push(self.ttl[d]);
            b.extend_from_slice(saddr);
            b.extend_from_slice(daddr);
        } else {
            b.put_u16(0x0800);
            self.ip_id[d] = self.ip_id[d].wrapping_add(1);
            let at = b.len();
            b.extend_from_slice(&[0x45, 0]);
            b.put_u16((20 + transport_len) as u16);
            b.put_u16(self.ip_id[d]);
            b.put_u16(0x4000); // don't fragment
            b.extend_from_slice(&[self.ttl[d], protocol, 0, 0]);
            b.extend_from_slice(saddr);
            b.extend_from_slice(daddr);
            let sum = internet_checksum(ones_sum(&b[at..at + 20]));
            b[at + 10..at + 12].copy_from_slice(&sum.to_be_bytes());
        }
        ones_sum(saddr)
            + ones_sum(daddr)
            + u64::from(protocol)
            + (transport_len as u64 >> 16)
            + (transport_len as u64 & 0xFFFF)
    }

    /// Advances time by `dt` µs (at least 1) and appends a segment.
    pub(crate) fn emit(
        &mut self,
        dt: u64,
        d: usize,
        flags: u8,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) {
        self.t += dt.max(1);
        self.segment(d, flags, seq, ack, payload);
    }

    pub(crate) fn three_way_handshake(&mut self) {
        let [c, s] = self.isn;
        self.emit(0, CLIENT, SYN, c, 0, &[]);
        self.emit(self.rtt, SERVER, SYN | ACK, s, c.wrapping_add(1), &[]);
        self.nxt = [c.wrapping_add(1), s.wrapping_add(1)];
        self.rcv = [self.nxt[SERVER], self.nxt[CLIENT]];
        self.emit(30, CLIENT, ACK, self.nxt[CLIENT], self.rcv[CLIENT], &[]);
    }

    pub(crate) fn ack(&mut self, d: usize, dt: u64) {
        self.emit(dt, d, ACK, self.nxt[d], self.rcv[d], &[]);
    }

    /// Sends `data` from side `d` in MSS segments, some reordered or retransmitted as
    /// `faults` says; the peer acknowledges as a Linux receiver would.
    pub(crate) fn send(
        &mut self,
        rng: &mut Rng,
        d: usize,
        data: &[u8],
        pace: Pace,
        faults: Faults,
        anomalies: &mut Anomalies,
    ) {
        if data.is_empty() {
            return;
        }
        let mss = self.mss;
        let base = self.nxt[d];
        let count = data.len().div_ceil(mss);
        self.nxt[d] = base.wrapping_add(data.len() as u32);

        let mut first = std::mem::take(&mut self.first);
        let mut order = std::mem::take(&mut self.order);
        first_transmissions(rng, count, faults.ooo, anomalies, &mut first);
        let pending = &mut self.pending;
        all_transmissions(rng, &first, faults.retx, anomalies, pending, &mut order);

        let peer = 1 - d;
        let mut rcv = self.rcv[peer];
        let mut buffered = std::mem::take(&mut self.buffered);
        buffered.clear();
        let mut unacked = 0;
        let last = order.len() - 1;
        for (n, &(k, retransmitted)) in order.iter().enumerate() {
            let seq = base.wrapping_add((k * mss) as u32);
            let chunk = &data[k * mss..data.len().min((k + 1) * mss)];
            let flags = ACK | if k == count - 1 { PSH } else { 0 };
            let dt = if n == 0 {
                pace.first
            } else if retransmitted {
                self.rtt / 2 + 200
            } else {
                pace.gap
            };
            self.emit(dt, d, flags, seq, self.rcv[d], chunk);
            let end = seq.wrapping_add(chunk.len() as u32);
            let ahead = seq.wrapping_sub(rcv);
            if ahead == 0 {
                rcv = end;
                while let Some(i) = buffered.iter().position(|&(s, _)| s == rcv) {
                    rcv = buffered.swap_remove(i).1;
                }
                unacked += 1;
                self.rcv[peer] = rcv;
                if unacked >= ACK_EVERY || n == last || !buffered.is_empty() {
                    self.ack(peer, 25);
                    unacked = 0;
                }
            } else {
                if ahead < 0x8000_0000 && !buffered.iter().any(|&(s, _)| s == seq) {
                    buffered.push((seq, end));
                }
                self.ack(peer, 15); // duplicate ACK: a hole, or old data
            }
        }
        if unacked > 0 {
            self.ack(peer, 25);
        }
        self.rcv[peer] = rcv;
        self.first = first;
        self.order = order;
        self.buffered = buffered;
    }

    /// FIN from side `first`, FIN from the other, last ACK.
    pub(crate) fn close(&mut self, rng: &mut Rng, first: usize) {
        let other = 1 - first;
        let dt = rng.between(50, 3000);
        self.emit(dt, first, FIN | ACK, self.nxt[first], self.rcv[first], &[]);
        self.nxt[first] = self.nxt[first].wrapping_add(1);
        self.rcv[other] = self.nxt[first];
        self.emit(
            self.rtt,
            other,
            FIN | ACK,
            self.nxt[other],
            self.rcv[other],
            &[],
        );
        self.nxt[other] = self.nxt[other].wrapping_add(1);
        self.rcv[first] = self.nxt[other];
        self.emit(30, first, ACK, self.nxt[first], self.rcv[first], &[]);
    }

    pub(crate) fn reset(&mut self, d: usize, dt: u64) {
        self.emit(dt, d, RST | ACK, self.nxt[d], self.rcv[d], &[]);
    }
}

/// Segment indices in the order of their first transmission: with probability `p_ooo`
/// a segment swaps places with the next one.
pub(crate) fn first_transmissions(
    rng: &mut Rng,
    count: usize,
    p_ooo: f64,
    anomalies: &mut Anomalies,
    order: &mut Vec<usize>,
) {
    order.clear();
    order.extend(0..count);
    if p_ooo > 0.0 && count > 1 {
        let mut i = 0;
        while i < count - 1 {
            if rng.chance(p_ooo) {
                order.swap(i, i + 1);
                anomalies.ooo = true;
                i += 2;
            } else {
                i += 1;
            }
        }
    }
}

/// Every transmission, as (segment index, is a retransmission): with probability
/// `p_retx` a segment is sent again after the next one.
pub(crate) fn all_transmissions(
    rng: &mut Rng,
    first: &[usize],
    p_retx: f64,
    anomalies: &mut Anomalies,
    pending: &mut Vec<(usize, u32)>,
    order: &mut Vec<(usize, bool)>,
) {
    order.clear();
    if p_retx <= 0.0 {
        order.extend(first.iter().map(|&k| (k, false)));
        return;
    }
    pending.clear();
    for &k in first {
        order.push((k, false));
        if rng.chance(p_retx) {
            pending.push((k, 2));
            anomalies.retx = true;
        }
        for p in pending.iter_mut() {
            p.1 -= 1;
        }
        order.extend(pending.iter().filter(|p| p.1 == 0).map(|&(k, _)| (k, true)));
        pending.retain(|p| p.1 > 0);
    }
    order.extend(pending.iter().map(|&(k, _)| (k, true)));
}

/// One's complement sum of `data` as big-endian 16-bit words (zero-padded), unfolded.
/// 32-bit words sum to the same value modulo 0xFFFF, and take half the additions.
pub(crate) fn ones_sum(data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(4);
    let mut sum: u64 = words
        .by_ref()
        .map(|w| u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]])))
        .sum();
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    sum += u64::from(u32::from_be_bytes(tail));
    sum
}

pub(crate) fn internet_checksum(mut sum: u64) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}
