//! The QUIC attempts of a capture: UDP datagrams (untunnelled, unfragmented) grouped
//! by their two endpoints, each group followed by a [`QuicAttempt`]. An attempt starts
//! with a datagram that opens with a long-header Initial (or a long header of a version
//! the client wants negotiated), so other UDP traffic is never taken for QUIC; ICMP
//! port unreachable answers are matched to the attempt whose datagram they quote; a TCP
//! SYN from the client to the same server and port after an unanswered attempt is its
//! fallback.
//!
//! An attempt is over once its outcome cannot change: the client sent 1-RTT packets
//! (the handshake completed) or a CONNECTION_CLOSE was read; otherwise when its
//! endpoints went quiet for the idle timeout, or at the end of the capture. Memory is
//! bounded by the number of attempts open at once ([`MAX_ATTEMPTS`]) and each
//! attempt's own bounds.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use etherparse::{Icmpv4Type, Icmpv6Type, IpNumber, IpSlice};

use super::attempt::{QuicAttempt, QuicOutcome};
use super::packet::{packets, LongType, QuicPacket};
use crate::capture::{Packet, Timestamp};
use crate::decode::Tunnel;
use crate::flow::{key_of, At, Dir, FlowKey};
use crate::keys::KeySources;

/// QUIC attempts followed at once, at most; datagrams that would start more are not
/// followed (counted in [`QuicTable::not_followed`]).
pub const MAX_ATTEMPTS: usize = 65_536;

/// The smallest datagram that carries a client's first Initial (RFC 9000 §14.1).
const MIN_CLIENT_INITIAL: usize = 1200;

/// One attempt and its endpoints.
#[derive(Debug)]
pub struct QuicFlow {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub attempt: QuicAttempt,
    /// The client's TCP SYN to the same server and port, after its first Initial.
    pub tcp_fallback: Option<At>,
}

impl QuicFlow {
    /// The key its packets are kept under (`--write`).
    pub fn key(&self) -> FlowKey {
        key_of(self.client, self.server, Tunnel::NONE)
    }

    /// The attempt cannot end differently any more.
    fn decided(&self) -> bool {
        self.attempt.close.is_some() || self.attempt.short_packets[0] > 0
    }

    /// Never answered: its verdict waits for a fallback to TCP.
    fn unanswered(&self) -> bool {
        self.attempt.outcome() == QuicOutcome::UdpBlocked
    }
}

/// The attempts open at once.
#[derive(Debug, Default)]
pub struct QuicTable {
    flows: HashMap<FlowKey, QuicFlow, foldhash::fast::RandomState>,
    /// Attempts started.
    pub started: u64,
    /// Datagrams that would have started an attempt beyond [`MAX_ATTEMPTS`].
    pub not_followed: u64,
    /// Where Handshake packets' secrets come from (`None`: no key log).
    keys: Option<KeySources>,
}

/// What a packet that is not TCP carries, as far as QUIC goes.
enum Carried<'a> {
    Datagram {
        src: SocketAddr,
        dst: SocketAddr,
        payload: &'a [u8],
    },
    /// ICMP port unreachable quoting a datagram from `client` to `server`.
    PortUnreachable {
        client: SocketAddr,
        server: SocketAddr,
    },
}

impl QuicTable {
    /// Attempts open.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// The key logs that open Handshake packets, for the attempts from now on.
    pub fn set_keys(&mut self, keys: KeySources) {
        self.keys = (!keys.is_empty()).then_some(keys);
    }

    /// Takes a packet that is not TCP: a datagram of an attempt (or one that starts an
    /// attempt), or an ICMP answer to one; returns the key of the attempt that took it.
    /// Anything else is left alone.
    pub fn on_packet(&mut self, packet: &Packet<'_>) -> Option<FlowKey> {
        let ip = crate::decode::ip_payload_of(packet.link_type, packet.data).ok()?;
        let at = At {
            frame: packet.frame,
            ts: packet.ts,
        };
        match carried(ip)? {
            Carried::Datagram { src, dst, payload } => self.on_datagram(src, dst, payload, at),
            Carried::PortUnreachable { client, server } => {
                let key = key_of(client, server, Tunnel::NONE);
                let flow = self.flows.get_mut(&key).filter(|f| f.client == client)?;
                flow.attempt.on_port_unreachable(at);
                Some(key)
            }
        }
    }

    fn on_datagram(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        at: At,
    ) -> Option<FlowKey> {
        let key = key_of(src, dst, Tunnel::NONE);
        if let Some(flow) = self.flows.get_mut(&key) {
            let dir = if src == flow.client {
                Dir::ToServer
            } else {
                Dir::ToClient
            };
            flow.attempt
                .on_datagram_with_keys(dir, at, payload, self.keys.as_ref());
            return Some(key);
        }
        if !starts_attempt(payload) {
            return None;
        }
        if self.flows.len() >= MAX_ATTEMPTS {
            self.not_followed += 1;
            return None;
        }
        self.started += 1;
        let mut flow = QuicFlow {
            client: src,
            server: dst,
            attempt: QuicAttempt::default(),
            tcp_fallback: None,
        };
        flow.attempt
            .on_datagram_with_keys(Dir::ToServer, at, payload, self.keys.as_ref());
        self.flows.insert(key, flow);
        Some(key)
    }

    /// A TCP SYN (without ACK) from `client` to `server`: the fallback of the open
    /// attempts from that client's address to the same server and port; returns where
    /// the earliest of them started.
    pub fn on_tcp_syn(&mut self, client: SocketAddr, server: SocketAddr, at: At) -> Option<At> {
        let mut earliest: Option<At> = None;
        for flow in self.flows.values_mut() {
            if flow.tcp_fallback.is_none()
                && flow.server == server
                && flow.client.ip() == client.ip()
            {
                flow.tcp_fallback = Some(at);
                if let Some(first) = flow.attempt.first {
                    earliest = Some(earliest.map_or(first, |e| e.min(first)));
                }
            }
        }
        earliest
    }

    /// The attempts that are over at `now` (decided; quiet for `idle_ns` — an
    /// unanswered one after its fallback or the timeout; every one when `flush`), in
    /// the order they started.
    pub fn take_finished(&mut self, now: Timestamp, idle_ns: i64, flush: bool) -> Vec<QuicFlow> {
        let over = |flow: &QuicFlow| {
            let quiet = flow
                .attempt
                .last
                .is_some_and(|last| now.0.saturating_sub(last.ts.0) >= idle_ns);
            flush
                || quiet
                || (flow.decided() && (!flow.unanswered() || flow.tcp_fallback.is_some()))
        };
        let keys: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, flow)| over(flow))
            .map(|(key, _)| *key)
            .collect();
        let mut done: Vec<QuicFlow> = keys
            .iter()
            .filter_map(|key| self.flows.remove(key))
            .collect();
        done.sort_by_key(|f| f.attempt.first.map_or(0, |at| at.frame));
        done
    }

    /// First frame of the oldest open attempt (`u64::MAX` when none).
    pub fn oldest_open(&self) -> u64 {
        self.flows
            .values()
            .filter_map(|f| f.attempt.first.map(|at| at.frame))
            .min()
            .unwrap_or(u64::MAX)
    }
}

/// A datagram that begins with a client's Initial (versions 1 and 2, and the long
/// header of any other version in a datagram of a client's first Initial's size: a
/// client asking for Version Negotiation).
fn starts_attempt(payload: &[u8]) -> bool {
    let (found, _) = packets(payload);
    match found.first() {
        Some(QuicPacket::Long(long)) => match long.kind {
            LongType::Initial => {
                crate::quic::initial::initial_keys(long.version, long.dcid).is_some()
                    || payload.len() >= MIN_CLIENT_INITIAL
            }
            _ => false,
        },
        _ => false,
    }
}

/// A UDP datagram, or an ICMP port unreachable and the datagram it quotes, in an IP
/// packet (not fragmented).
fn carried(ip: &[u8]) -> Option<Carried<'_>> {
    let net = IpSlice::from_slice(ip).ok()?;
    let (src, dst) = match &net {
        IpSlice::Ipv4(v4) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        ),
        IpSlice::Ipv6(v6) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        ),
    };
    let payload = net.payload();
    if payload.fragmented {
        return None;
    }
    match payload.ip_number {
        IpNumber::UDP => {
            let udp = etherparse::UdpSlice::from_slice(payload.payload).ok()?;
            Some(Carried::Datagram {
                src: SocketAddr::new(src, udp.source_port()),
                dst: SocketAddr::new(dst, udp.destination_port()),
                payload: udp.payload(),
            })
        }
        IpNumber::ICMP => {
            let icmp = etherparse::Icmpv4Slice::from_slice(payload.payload).ok()?;
            match icmp.icmp_type() {
                Icmpv4Type::DestinationUnreachable(
                    etherparse::icmpv4::DestUnreachableHeader::Port,
                ) => quoted_datagram(icmp.payload()),
                _ => None,
            }
        }
        IpNumber::IPV6_ICMP => {
            let icmp = etherparse::Icmpv6Slice::from_slice(payload.payload).ok()?;
            match icmp.icmp_type() {
                Icmpv6Type::DestinationUnreachable(
                    etherparse::icmpv6::DestUnreachableCode::Port,
                ) => quoted_datagram(icmp.payload()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The endpoints of the UDP datagram an ICMP error quotes (its IP header and the first
/// eight bytes of what it carried).
fn quoted_datagram(quoted: &[u8]) -> Option<Carried<'_>> {
    let (net, _) = etherparse::LaxIpSlice::from_slice(quoted).ok()?;
    let (src, dst) = match &net {
        etherparse::LaxIpSlice::Ipv4(v4) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        ),
        etherparse::LaxIpSlice::Ipv6(v6) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        ),
    };
    let payload = net.payload();
    if payload.ip_number != IpNumber::UDP {
        return None;
    }
    let ports = payload.payload.get(..4)?;
    Some(Carried::PortUnreachable {
        client: SocketAddr::new(src, u16::from_be_bytes([ports[0], ports[1]])),
        server: SocketAddr::new(dst, u16::from_be_bytes([ports[2], ports[3]])),
    })
}
