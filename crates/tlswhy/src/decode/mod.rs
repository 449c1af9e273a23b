//! Link layer → tunnels → IPv4/IPv6 → TCP: turns a captured packet into a [`TcpSegment`].
//!
//! The link layers handled by hand are the thin ones (Ethernet with 802.1Q/802.1ad/QinQ
//! tags, MPLS label stacks and PPPoE sessions, Linux cooked v1 and v2, BSD
//! null/loopback, raw IP); IP and TCP headers, IPv6 extension headers and IPv4 fragment
//! reassembly are etherparse's. Tunnels (`tunnel`: IP-in-IP, GRE, ERSPAN, VXLAN,
//! Geneve, GTP-U) are peeled only once the outer packet turns out not to be TCP, so the
//! untunnelled path does no more than before; the segment found inside keeps its
//! tenant ([`Tunnel`]) for the flow key. Payload is borrowed from the packet except for
//! reassembled fragments, which own it.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use etherparse::defrag::IpDefragPool;
use etherparse::{IpNumber, IpSlice, SlicedPacket, TcpSlice};

use crate::capture::{LinkType, Packet, Timestamp};

mod tunnel;

use tunnel::{Carried, Inner, Peeled};
pub use tunnel::{Encapsulation, Tunnel, MAX_LABELS, MAX_TUNNELS};

/// TCP control flags this tool cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// One TCP segment with its endpoints.
#[derive(Clone, Debug)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The tenant of the tunnels it came through ([`Tunnel::NONE`] when untunnelled):
    /// part of the flow key with the addresses.
    pub tunnel: Tunnel,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub payload: Cow<'a, [u8]>,
    /// Payload bytes the capture did not keep: the frame was cut by the capture's snap
    /// length (0: the segment is whole).
    pub cut_bytes: u32,
}

/// A connection's key: its two endpoints, lower first. An untunnelled connection's key
/// is its two addresses as they are, so the common case hashes and compares no more
/// than a 5-tuple; a tenant's connection has its [`Tunnel`] folded in (see
/// [`key_of`]).
pub type FlowKey = (SocketAddr, SocketAddr);

/// The direction-free key of a segment's connection in network `tunnel`.
#[inline]
pub fn key_of(a: SocketAddr, b: SocketAddr, tunnel: Tunnel) -> FlowKey {
    let key = if a <= b { (a, b) } else { (b, a) };
    if tunnel == Tunnel::NONE {
        key
    } else {
        tenant_key(key, tunnel)
    }
}

#[cold]
#[inline(never)]
fn tenant_key((lo, hi): FlowKey, tunnel: Tunnel) -> FlowKey {
    (in_tenant(lo, tunnel), in_tenant(hi, tunnel))
}

/// An endpoint inside a tenant's network, as a key: an IPv6 socket address (IPv4
/// mapped) whose flow label and scope id, which decoded addresses never carry (always
/// 0), hold the tenant. It cannot equal an untunnelled endpoint's key, nor another
/// tenant's.
fn in_tenant(addr: SocketAddr, tunnel: Tunnel) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    let (high, low) = ((tunnel.0 >> 32) as u32, tunnel.0 as u32);
    SocketAddr::V6(SocketAddrV6::new(ip, addr.port(), high, low))
}

/// Why a packet did not yield a TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not IP, or IP but not TCP (UDP, ICMP, ARP…): nothing to do.
    NotTcp,
    /// An IPv4/IPv6 fragment held until the rest arrives.
    FragmentHeld,
    /// A link type this tool does not decode.
    UnsupportedLinkType(LinkType),
    /// Headers that do not parse.
    Malformed,
    /// Inside an encapsulation this tool recognises but does not decode.
    Undecoded(Encapsulation),
}

/// Decodes packets; holds the IP fragment pool, so one per capture.
pub struct Decoder {
    /// Fragment trains are told apart by their tenant too.
    defrag: IpDefragPool<Timestamp, Tunnel>,
    packets_since_sweep: u32,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

/// How long an incomplete fragment train is kept, in capture time.
const FRAGMENT_TIMEOUT_NS: i64 = 30_000_000_000;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// VLAN tags read at most in one frame.
const MAX_VLAN_TAGS: usize = 8;

impl Decoder {
    pub fn new() -> Decoder {
        Decoder {
            defrag: IpDefragPool::new(),
            packets_since_sweep: 0,
        }
    }

    /// Decodes one packet down to TCP, through the tunnels around it.
    pub fn decode<'a>(&mut self, packet: &Packet<'a>) -> Result<TcpSegment<'a>, Skip> {
        let ip = ip_payload_of(packet.link_type, packet.data)?;
        self.ip_to_tcp(packet, ip, Tunnel::NONE, 0)
    }

    /// An IP packet found inside a tunnel, down to TCP: out of line, so that the
    /// untunnelled path in [`Decoder::decode`] stays one function.
    #[inline(never)]
    fn decode_inner<'b>(
        &mut self,
        packet: &Packet<'_>,
        ip: &'b [u8],
        tunnel: Tunnel,
        depth: u8,
    ) -> Result<TcpSegment<'b>, Skip> {
        self.ip_to_tcp(packet, ip, tunnel, depth)
    }

    /// One IP packet (`depth` tunnels in, in network `tunnel`) down to TCP.
    #[inline(always)]
    fn ip_to_tcp<'b>(
        &mut self,
        packet: &Packet<'_>,
        ip: &'b [u8],
        tunnel: Tunnel,
        depth: u8,
    ) -> Result<TcpSegment<'b>, Skip> {
        if ip.is_empty() {
            return Err(Skip::NotTcp);
        }
        let net = match IpSlice::from_slice(ip) {
            Ok(net) => net,
            Err(_) => return self.lax(packet, ip, tunnel, depth),
        };
        let (src_ip, dst_ip) = match &net {
            IpSlice::Ipv4(v4) => v4_addresses(&v4.header()),
            IpSlice::Ipv6(v6) => v6_addresses(&v6.header()),
        };
        let carried = net.payload();
        if carried.fragmented {
            // The fragment pool takes the whole sliced packet.
            let sliced = SlicedPacket::from_ip(ip).map_err(|_| Skip::Malformed)?;
            let whole = self.defragment(&sliced, packet, (src_ip, dst_ip), tunnel, depth)?;
            return Ok(whole);
        }
        if carried.ip_number == IpNumber::TCP {
            let tcp = TcpSlice::from_slice(carried.payload).map_err(|_| Skip::Malformed)?;
            return Ok(segment(
                &tcp,
                (src_ip, dst_ip),
                tunnel,
                Cow::Borrowed(tcp.payload()),
            ));
        }
        match self.through(packet, carried.ip_number, carried.payload, tunnel, depth)? {
            Some(seg) => Ok(seg),
            None => {
                // Not TCP: its transport header is still checked (a cut UDP or ICMP
                // header makes the packet malformed), as for every other packet.
                SlicedPacket::from_ip(ip).map_err(|_| Skip::Malformed)?;
                Err(Skip::NotTcp)
            }
        }
    }

    /// Through the tunnel, if any, that an IP payload of protocol `ip_number` starts
    /// with: the segment inside, or `None` when it is not a tunnel.
    fn through<'b>(
        &mut self,
        packet: &Packet<'_>,
        ip_number: IpNumber,
        payload: &'b [u8],
        tunnel: Tunnel,
        depth: u8,
    ) -> Result<Option<TcpSegment<'b>>, Skip> {
        match tunnel::peel(ip_number, payload, tunnel)? {
            Carried::Tunnel(peeled) => self.enter(packet, peeled, depth).map(Some),
            Carried::Undecoded(what) => Err(Skip::Undecoded(what)),
            Carried::Other => Ok(None),
        }
    }

    /// Into a tunnel found at `depth`: the packet it carries, down to TCP.
    fn enter<'b>(
        &mut self,
        packet: &Packet<'_>,
        peeled: Peeled<'b>,
        depth: u8,
    ) -> Result<TcpSegment<'b>, Skip> {
        if depth >= MAX_TUNNELS {
            return Err(Skip::Undecoded(Encapsulation::NestedTooDeep));
        }
        let ip = match peeled.inner {
            Inner::Ip(ip) => ip,
            Inner::Ethernet(frame) => ethernet_payload(frame)?,
            Inner::EtherType(ether_type, rest) => ether_type_payload(ether_type, rest)?,
        };
        self.decode_inner(packet, ip, peeled.tunnel, depth + 1)
    }

    fn defragment(
        &mut self,
        sliced: &SlicedPacket<'_>,
        packet: &Packet<'_>,
        addresses: (IpAddr, IpAddr),
        tunnel: Tunnel,
        depth: u8,
    ) -> Result<TcpSegment<'static>, Skip> {
        let ts = packet.ts;
        self.packets_since_sweep += 1;
        if self.packets_since_sweep >= 1024 {
            self.packets_since_sweep = 0;
            let horizon = Timestamp(ts.0 - FRAGMENT_TIMEOUT_NS);
            self.defrag.retain(|t| *t >= horizon);
        }
        match self.defrag.process_sliced_packet(sliced, ts, tunnel) {
            Ok(Some(whole)) => {
                let result = if whole.ip_number == etherparse::IpNumber::TCP {
                    match TcpSlice::from_slice(&whole.payload) {
                        Ok(tcp) => {
                            let payload = tcp.payload().to_vec();
                            Ok(segment(&tcp, addresses, tunnel, Cow::Owned(payload)))
                        }
                        Err(_) => Err(Skip::Malformed),
                    }
                } else {
                    // A tunnel packet fragmented on its way: the inner packet is whole.
                    match self.through(packet, whole.ip_number, &whole.payload, tunnel, depth) {
                        Ok(Some(seg)) => Ok(seg.into_owned()),
                        Ok(None) => Err(Skip::NotTcp),
                        Err(skip) => Err(skip),
                    }
                };
                self.defrag.return_buf(whole);
                result
            }
            Ok(None) => Err(Skip::FragmentHeld),
            Err(_) => Err(Skip::Malformed),
        }
    }

    /// A packet the strict parsers refuse because its IP length disagrees with the
    /// bytes captured: cut by the snap length (the frame is shorter than on the wire),
    /// or an IPv4 total length of 0 from segmentation offload on the capturing host.
    /// The captured bytes are trusted; a cut segment says how much of it is missing.
    fn lax<'b>(
        &mut self,
        packet: &Packet<'_>,
        ip: &'b [u8],
        tunnel: Tunnel,
        depth: u8,
    ) -> Result<TcpSegment<'b>, Skip> {
        let (net, _) = etherparse::LaxIpSlice::from_slice(ip).map_err(|_| Skip::Malformed)?;
        let addresses = match &net {
            etherparse::LaxIpSlice::Ipv4(v4) => v4_addresses(&v4.header()),
            etherparse::LaxIpSlice::Ipv6(v6) => v6_addresses(&v6.header()),
        };
        let carried = net.payload();
        if carried.fragmented {
            return Err(Skip::Malformed);
        }
        if carried.ip_number != IpNumber::TCP {
            let inner = self.through(packet, carried.ip_number, carried.payload, tunnel, depth)?;
            return inner.ok_or(Skip::Malformed);
        }
        let tcp = TcpSlice::from_slice(carried.payload).map_err(|_| Skip::Malformed)?;
        let mut seg = segment(&tcp, addresses, tunnel, Cow::Borrowed(tcp.payload()));
        seg.cut_bytes = packet.orig_len.saturating_sub(packet.data.len() as u32);
        Ok(seg)
    }
}

impl TcpSegment<'_> {
    /// The same segment, owning its payload.
    pub fn into_owned(self) -> TcpSegment<'static> {
        TcpSegment {
            payload: Cow::Owned(self.payload.into_owned()),
            ..self
        }
    }
}

fn v4_addresses(h: &etherparse::Ipv4HeaderSlice<'_>) -> (IpAddr, IpAddr) {
    (
        IpAddr::V4(h.source_addr()),
        IpAddr::V4(h.destination_addr()),
    )
}

fn v6_addresses(h: &etherparse::Ipv6HeaderSlice<'_>) -> (IpAddr, IpAddr) {
    (
        IpAddr::V6(h.source_addr()),
        IpAddr::V6(h.destination_addr()),
    )
}

fn segment<'a>(
    tcp: &TcpSlice<'_>,
    (src_ip, dst_ip): (IpAddr, IpAddr),
    tunnel: Tunnel,
    payload: Cow<'a, [u8]>,
) -> TcpSegment<'a> {
    TcpSegment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        tunnel,
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        payload,
        cut_bytes: 0,
    }
}

/// Strips the link layer, returning the IP packet (empty when the frame is not IP).
pub fn ip_payload_of(link_type: LinkType, data: &[u8]) -> Result<&[u8], Skip> {
    match link_type {
        LinkType::ETHERNET => ethernet_payload(data),
        LinkType::LINUX_SLL => {
            let proto = be16(data, 14).ok_or(Skip::Malformed)?;
            ether_type_payload(proto, data.get(16..).ok_or(Skip::Malformed)?)
        }
        LinkType::LINUX_SLL2 => {
            let proto = be16(data, 0).ok_or(Skip::Malformed)?;
            ether_type_payload(proto, data.get(20..).ok_or(Skip::Malformed)?)
        }
        LinkType::NULL | LinkType::LOOP => {
            let family = data.get(..4).ok_or(Skip::Malformed)?;
            let le = u32::from_le_bytes([family[0], family[1], family[2], family[3]]);
            let be = u32::from_be_bytes([family[0], family[1], family[2], family[3]]);
            // AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 depending on the BSD.
            let is_ip = |f: u32| matches!(f, 2 | 24 | 28 | 30);
            if is_ip(le) || is_ip(be) {
                Ok(&data[4..])
            } else {
                Ok(&[])
            }
        }
        LinkType::PPP | LinkType::PPP_HDLC => Ok(ppp_payload(data)),
        LinkType::RAW
        | LinkType::RAW_DLT12
        | LinkType::RAW_DLT14
        | LinkType::IPV4
        | LinkType::IPV6 => Ok(data),
        other => Err(Skip::UnsupportedLinkType(other)),
    }
}

/// True when `decode` can handle packets of this link type.
pub fn link_type_supported(link_type: LinkType) -> bool {
    !matches!(
        ip_payload_of(link_type, &[]),
        Err(Skip::UnsupportedLinkType(_))
    )
}

fn ethernet_payload(data: &[u8]) -> Result<&[u8], Skip> {
    let ether_type = be16(data, 12).ok_or(Skip::Malformed)?;
    let rest = data.get(14..).ok_or(Skip::Malformed)?;
    // IP straight after the header, the common case, without a call.
    if matches!(ether_type, ETHERTYPE_IPV4 | ETHERTYPE_IPV6) {
        return Ok(rest);
    }
    ether_type_payload(ether_type, rest)
}

/// The IP packet in a payload of this EtherType: through stacked VLAN tags (802.1Q,
/// 802.1ad, the pre-standard 0x9100; at most [`MAX_VLAN_TAGS`]), a PPPoE session or an
/// MPLS label stack. Empty when it is not IP.
fn ether_type_payload(mut ether_type: u16, mut rest: &[u8]) -> Result<&[u8], Skip> {
    for _ in 0..=MAX_VLAN_TAGS {
        match ether_type {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Ok(rest),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                ether_type = be16(rest, 2).ok_or(Skip::Malformed)?;
                rest = rest.get(4..).ok_or(Skip::Malformed)?;
            }
            ETHERTYPE_PPPOE_SESSION => {
                // 6-byte PPPoE header (its length counts the PPP protocol field and what
                // follows, not the Ethernet padding), then the 2-byte PPP protocol number.
                let len = be16(rest, 4).ok_or(Skip::Malformed)? as usize;
                let end = (6 + len).min(rest.len());
                return match be16(rest, 6) {
                    Some(0x0021 | 0x0057) => Ok(rest.get(8..end).unwrap_or(&[])),
                    Some(_) => Ok(&[]),
                    None => Err(Skip::Malformed),
                };
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => return tunnel::mpls(rest),
            _ => return Ok(&[]),
        }
    }
    // More tags than are read: not followed.
    Ok(&[])
}

/// The IP packet in a PPP frame (RFC 1661; in HDLC-like framing, RFC 1662, as WAN and
/// VPN links capture it): the address and control bytes 0xff 0x03 when present, then
/// the protocol, 0x0021 IPv4 or 0x0057 IPv6 (one byte when compressed, RFC 1661 §6.5).
/// Empty for the link's own protocols (LCP, IPCP, …).
fn ppp_payload(data: &[u8]) -> &[u8] {
    let data = data.strip_prefix(&[0xff, 0x03]).unwrap_or(data);
    match data {
        [0x00, 0x21 | 0x57, ip @ ..] | [0x21 | 0x57, ip @ ..] => ip,
        _ => &[],
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let builder = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(51000, 443, 1000, 64000)
            .ack(7);
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    fn packet(link_type: LinkType, data: &[u8]) -> Packet<'_> {
        Packet {
            frame: 1,
            ts: Timestamp(0),
            link_type,
            data,
            orig_len: data.len() as u32,
        }
    }

    #[test]
    fn a_segment_cut_by_the_snap_length_says_how_much_is_missing() {
        let ip = ipv4_tcp(&[0x16; 1000]);
        let cut = &ip[..300];
        let p = Packet {
            orig_len: ip.len() as u32,
            ..packet(LinkType::RAW, cut)
        };
        let seg = Decoder::new()
            .decode(&p)
            .expect("the captured bytes are kept");
        assert_eq!(seg.payload.len(), 300 - 40);
        assert_eq!(seg.cut_bytes, 740);
        // An IPv4 total length of 0 (segmentation offload): the captured bytes count.
        let mut tso = ipv4_tcp(b"hello");
        tso[2] = 0;
        tso[3] = 0;
        let seg = Decoder::new()
            .decode(&packet(LinkType::RAW, &tso))
            .expect("TSO");
        assert_eq!(&seg.payload[..], b"hello");
        assert_eq!(seg.cut_bytes, 0);
    }

    #[test]
    fn decodes_each_link_type_to_the_same_segment() {
        let ip = ipv4_tcp(b"hello");
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0, 93, 0x81, 0x00, 1, 2, 0x08, 0x00]);
        eth.extend_from_slice(&ip);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        let mut ppp = vec![0x00, 0x21];
        ppp.extend_from_slice(&ip);
        let mut ppp_hdlc = vec![0xff, 0x03, 0x00, 0x21];
        ppp_hdlc.extend_from_slice(&ip);
        let mut ppp_compressed = vec![0x21];
        ppp_compressed.extend_from_slice(&ip);
        for (lt, data) in [
            (LinkType::ETHERNET, &eth),
            (LinkType::PPP, &ppp),
            (LinkType::PPP_HDLC, &ppp_hdlc),
            (LinkType::PPP, &ppp_compressed),
            (LinkType::LINUX_SLL, &sll),
            (LinkType::LINUX_SLL2, &sll2),
            (LinkType::NULL, &null),
            (LinkType::RAW, &ip),
        ] {
            let seg = Decoder::new().decode(&packet(lt, data)).unwrap();
            assert_eq!(seg.src, "10.0.0.1:51000".parse().unwrap(), "{lt:?}");
            assert_eq!(seg.dst, "10.0.0.2:443".parse().unwrap());
            assert_eq!(&*seg.payload, b"hello");
            assert_eq!(seg.seq, 1000);
            assert!(seg.flags.ack && !seg.flags.syn);
        }
    }

    /// PPP's own protocols (LCP here) carry no IP packet.
    #[test]
    fn ppp_control_frames_are_not_ip() {
        assert!(
            ip_payload_of(LinkType::PPP, &[0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4])
                .unwrap()
                .is_empty()
        );
        assert!(link_type_supported(LinkType::PPP));
        assert_eq!(LinkType::PPP_HDLC.name(), "PPP_HDLC");
    }

    #[test]
    fn unknown_link_type_is_named() {
        let err = Decoder::new()
            .decode(&packet(LinkType(147), b"xx"))
            .unwrap_err();
        assert_eq!(err, Skip::UnsupportedLinkType(LinkType(147)));
        assert!(!link_type_supported(LinkType(147)));
        assert!(link_type_supported(LinkType::LINUX_SLL2));
    }
}

#[cfg(test)]
mod fragment_tests {
    use super::*;

    #[test]
    fn ipv4_fragments_are_reassembled() {
        // A TCP segment with 64 bytes of payload, split into two IPv4 fragments.
        let payload: Vec<u8> = (0..64u8).collect();
        let tcp = etherparse::TcpHeader::new(51000, 443, 77, 64000);
        let mut transport = tcp.to_bytes().to_vec();
        transport.extend_from_slice(&payload);
        let (first, second) = transport.split_at(48); // 8-byte aligned
        let frag = |offset_units: u16, more: bool, data: &[u8]| {
            let mut h = etherparse::Ipv4Header::new(
                data.len() as u16,
                64,
                etherparse::IpNumber::TCP,
                [10, 0, 0, 1],
                [10, 0, 0, 2],
            )
            .unwrap();
            h.identification = 4242;
            h.more_fragments = more;
            h.fragment_offset = etherparse::IpFragOffset::try_new(offset_units).unwrap();
            h.header_checksum = h.calc_header_checksum();
            let mut v = h.to_bytes().to_vec();
            v.extend_from_slice(data);
            v
        };
        let p1 = frag(0, true, first);
        let p2 = frag(6, false, second);
        let mut decoder = Decoder::new();
        let first_packet = Packet {
            frame: 1,
            ts: Timestamp(0),
            link_type: LinkType::RAW,
            data: &p1,
            orig_len: p1.len() as u32,
        };
        let second_packet = Packet {
            frame: 2,
            ts: Timestamp(1),
            link_type: LinkType::RAW,
            data: &p2,
            orig_len: p2.len() as u32,
        };
        assert_eq!(
            decoder.decode(&first_packet).unwrap_err(),
            Skip::FragmentHeld
        );
        let seg = decoder.decode(&second_packet).unwrap();
        assert_eq!(seg.dst.port(), 443);
        assert_eq!(seg.seq, 77);
        assert_eq!(&*seg.payload, &payload[..]);
    }
}
