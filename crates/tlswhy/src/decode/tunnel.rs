//! Tunnel headers between an outer IP packet and the packet it carries: IP-in-IP (4in4,
//! 6in4, 4in6, 6in6), GRE (with NVGRE and ERSPAN types I–III), VXLAN, Geneve, GTP-U and
//! MPLS label stacks. Each parser borrows the bytes and returns what the header carries;
//! none allocates, loops more than a fixed number of times, or reads past its slice.
//!
//! A tunnel that identifies a tenant (the VNI of VXLAN and Geneve, the VSID of NVGRE)
//! adds it to the segment's [`Tunnel`], so two tenants reusing the same inner addresses
//! stay apart. Tunnels whose identifiers differ by direction (GTP-U TEIDs, MPLS labels)
//! or that name no tenant (IP-in-IP, ERSPAN, GRE without NVGRE) add nothing: the inner
//! 5-tuple alone keys the flow. Encapsulations recognised but not decoded (L2TP, PPTP,
//! VXLAN-GPE, MPLS pseudowires, non-IP GTP-U sessions, nesting past the bound) are
//! named by [`Encapsulation`] so a capture can say what it did not look into.

use std::fmt;

use etherparse::{IpNumber, UdpSlice};

use super::{be16, Skip};

/// The virtual network a segment was carried in: the tenant identifiers of the tunnels
/// around it, combined. [`Tunnel::NONE`] for untunnelled traffic and for tunnels that
/// name no tenant. Part of the flow key, so it is cheap to hash and compare.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tunnel(pub u64);

impl Tunnel {
    /// Not tunnelled, or only through tunnels that name no tenant.
    pub const NONE: Tunnel = Tunnel(0);

    /// This network seen through one more tunnel naming tenant `id` of `kind`. One
    /// level keeps the values apart exactly (`kind` in the high half); deeper nesting
    /// mixes them.
    fn within(self, kind: TenantKind, id: u32) -> Tunnel {
        let level = ((kind as u64) << 32) | u64::from(id);
        Tunnel(self.0.rotate_left(23).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ level)
    }
}

/// Which kind of tunnel named a tenant (so VXLAN VNI 5 and Geneve VNI 5 differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TenantKind {
    Vxlan = 1,
    Geneve = 2,
    Nvgre = 3,
}

/// An encapsulation recognised but not decoded: the TLS inside it is not analyzed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Encapsulation {
    /// L2TP, over UDP port 1701 or IP protocol 115.
    L2tp,
    /// PPTP's enhanced GRE (version 1) carrying PPP.
    Pptp,
    /// GRE with RFC 1701 source routing.
    GreRouting,
    /// VXLAN-GPE (UDP port 4790).
    VxlanGpe,
    /// An MPLS label stack over something other than IP (a pseudowire).
    MplsPseudowire,
    /// An MPLS label stack deeper than [`MAX_LABELS`].
    MplsTooDeep,
    /// A GTP-U session carrying something other than IP (Ethernet or unstructured PDUs).
    GtpNonIp,
    /// Tunnels nested more than [`MAX_TUNNELS`] deep.
    NestedTooDeep,
}

impl Encapsulation {
    /// Its name in a capture's warning.
    pub fn name(self) -> &'static str {
        match self {
            Encapsulation::L2tp => "L2TP",
            Encapsulation::Pptp => "PPTP (GRE version 1 carrying PPP)",
            Encapsulation::GreRouting => "GRE with source routing",
            Encapsulation::VxlanGpe => "VXLAN-GPE",
            Encapsulation::MplsPseudowire => "MPLS pseudowire (not IP under the labels)",
            Encapsulation::MplsTooDeep => "MPLS label stack deeper than 16",
            Encapsulation::GtpNonIp => "GTP-U carrying non-IP sessions",
            Encapsulation::NestedTooDeep => "tunnels nested more than 4 deep",
        }
    }
}

impl fmt::Display for Encapsulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Tunnels peeled from one packet at most; one more is [`Encapsulation::NestedTooDeep`].
pub const MAX_TUNNELS: u8 = 4;
/// MPLS label stack entries read at most.
pub const MAX_LABELS: usize = 16;
/// GTP-U extension headers followed at most.
const MAX_GTP_EXTENSIONS: usize = 8;

const UDP_VXLAN: u16 = 4789;
/// The port Linux (and flannel) use for VXLAN when none is given.
const UDP_VXLAN_LINUX: u16 = 8472;
const UDP_VXLAN_GPE: u16 = 4790;
const UDP_GENEVE: u16 = 6081;
const UDP_GTP_U: u16 = 2152;
const UDP_L2TP: u16 = 1701;

const IP_L2TPV3: IpNumber = IpNumber(115);

/// EtherType of an Ethernet frame carried whole (GRE, Geneve): transparent Ethernet
/// bridging.
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_ERSPAN_II: u16 = 0x88be;
const ETHERTYPE_ERSPAN_III: u16 = 0x22eb;
const ETHERTYPE_PPP: u16 = 0x880b;

/// What a tunnel header carries.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Inner<'a> {
    /// An IP packet.
    Ip(&'a [u8]),
    /// An Ethernet frame.
    Ethernet(&'a [u8]),
    /// A payload of this EtherType (GRE, Geneve).
    EtherType(u16, &'a [u8]),
}

/// One tunnel header read.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Peeled<'a> {
    pub inner: Inner<'a>,
    /// The network inside: `outer` with this tunnel's tenant, if it names one.
    pub tunnel: Tunnel,
}

/// What an IP payload holds, as far as tunnels go.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Carried<'a> {
    Tunnel(Peeled<'a>),
    Undecoded(Encapsulation),
    /// Not a tunnel this decoder knows.
    Other,
}

/// Reads the tunnel header, if any, at the start of an IP payload of protocol
/// `ip_number`, in network `outer`. A UDP header that does not parse is malformed.
pub(super) fn peel<'a>(
    ip_number: IpNumber,
    payload: &'a [u8],
    outer: Tunnel,
) -> Result<Carried<'a>, Skip> {
    let peeled = |inner| {
        Carried::Tunnel(Peeled {
            inner,
            tunnel: outer,
        })
    };
    Ok(match ip_number {
        IpNumber::IPV4 => peeled(Inner::Ip(payload)),
        IpNumber::IPV6 => peeled(Inner::Ip(payload)),
        IpNumber::GRE => gre(payload, outer),
        IP_L2TPV3 => Carried::Undecoded(Encapsulation::L2tp),
        IpNumber::UDP => {
            // Lax: the UDP length may disagree with a frame cut by the snap length.
            let udp = UdpSlice::from_slice_lax(payload).map_err(|_| Skip::Malformed)?;
            let data = udp.payload();
            match udp.destination_port() {
                UDP_VXLAN | UDP_VXLAN_LINUX => vxlan(data, outer),
                UDP_GENEVE => geneve(data, outer),
                UDP_GTP_U => gtp_u(data, outer),
                UDP_L2TP => Carried::Undecoded(Encapsulation::L2tp),
                UDP_VXLAN_GPE => Carried::Undecoded(Encapsulation::VxlanGpe),
                _ => Carried::Other,
            }
        }
        _ => Carried::Other,
    })
}

fn be24(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(3)?)?;
    Some(u32::from_be_bytes([0, b[0], b[1], b[2]]))
}

/// VXLAN (RFC 7348): 8 bytes, the I flag set, a 24-bit VNI; an Ethernet frame follows.
fn vxlan(data: &[u8], outer: Tunnel) -> Carried<'_> {
    let (Some(&flags), Some(vni), Some(frame)) = (data.first(), be24(data, 4), data.get(8..))
    else {
        return Carried::Other;
    };
    if flags & 0x08 == 0 {
        return Carried::Other;
    }
    Carried::Tunnel(Peeled {
        inner: Inner::Ethernet(frame),
        tunnel: outer.within(TenantKind::Vxlan, vni),
    })
}

/// Geneve (RFC 8926): version 0, options of `opt_len` 4-byte words, a protocol type
/// (an EtherType) and a 24-bit VNI. Control (OAM) packets carry no tenant traffic.
fn geneve(data: &[u8], outer: Tunnel) -> Carried<'_> {
    let (Some(&first), Some(&second), Some(protocol), Some(vni)) =
        (data.first(), data.get(1), be16(data, 2), be24(data, 4))
    else {
        return Carried::Other;
    };
    let control = second & 0x80 != 0;
    if first >> 6 != 0 || control {
        return Carried::Other;
    }
    let Some(rest) = data.get(8 + usize::from(first & 0x3f) * 4..) else {
        return Carried::Other;
    };
    let inner = if protocol == ETHERTYPE_TEB {
        Inner::Ethernet(rest)
    } else {
        Inner::EtherType(protocol, rest)
    };
    Carried::Tunnel(Peeled {
        inner,
        tunnel: outer.within(TenantKind::Geneve, vni),
    })
}

/// GTP-U (3GPP TS 29.281): version 1, protocol type GTP; a G-PDU (message type 255)
/// carries a user packet after the optional sequence number, N-PDU number and chain of
/// extension headers. Other messages (echo, error indication, end marker) carry none.
fn gtp_u(data: &[u8], outer: Tunnel) -> Carried<'_> {
    let (Some(&flags), Some(&message), Some(length)) = (data.first(), data.get(1), be16(data, 2))
    else {
        return Carried::Other;
    };
    if flags >> 5 != 1 || flags & 0x10 == 0 || message != 0xff {
        return Carried::Other;
    }
    let end = (8 + usize::from(length)).min(data.len());
    let mut at = 8;
    if flags & 0x07 != 0 {
        let Some(&next) = data.get(11) else {
            return Carried::Other;
        };
        at = 12;
        // The next extension header type counts only with the E flag.
        let mut next = if flags & 0x04 != 0 { next } else { 0 };
        let mut followed = 0;
        while next != 0 {
            // Each extension header: its length in 4-byte units, ..., the next type.
            let words = data.get(at).copied().unwrap_or(0);
            followed += 1;
            if words == 0 || followed > MAX_GTP_EXTENSIONS {
                return Carried::Other;
            }
            let after = at + usize::from(words) * 4;
            let Some(&n) = data.get(after - 1) else {
                return Carried::Other;
            };
            next = n;
            at = after;
        }
    }
    let Some(pdu) = data.get(at..end.max(at)) else {
        return Carried::Other;
    };
    match pdu.first().map(|b| b >> 4) {
        Some(4 | 6) => Carried::Tunnel(Peeled {
            inner: Inner::Ip(pdu),
            tunnel: outer,
        }),
        Some(_) => Carried::Undecoded(Encapsulation::GtpNonIp),
        None => Carried::Other,
    }
}

/// GRE (RFC 2784/2890): optional checksum, key and sequence number, then a payload of
/// the EtherType in the header. NVGRE (RFC 7637: Ethernet, key = VSID and flow id)
/// names a tenant; ERSPAN mirrors Ethernet frames behind a header of its own.
fn gre(data: &[u8], outer: Tunnel) -> Carried<'_> {
    let (Some(flags), Some(protocol)) = (be16(data, 0), be16(data, 2)) else {
        return Carried::Other;
    };
    let (checksum, routing, key, sequence) = (
        flags & 0x8000 != 0,
        flags & 0x4000 != 0,
        flags & 0x2000 != 0,
        flags & 0x1000 != 0,
    );
    match flags & 0x0007 {
        0 => {}
        1 if protocol == ETHERTYPE_PPP => return Carried::Undecoded(Encapsulation::Pptp),
        _ => return Carried::Other,
    }
    if routing {
        return Carried::Undecoded(Encapsulation::GreRouting);
    }
    let mut at = 4;
    if checksum {
        at += 4;
    }
    let key_at = at;
    if key {
        at += 4;
    }
    if sequence {
        at += 4;
    }
    let Some(rest) = data.get(at..) else {
        return Carried::Other;
    };
    let peeled = |inner, tunnel| Carried::Tunnel(Peeled { inner, tunnel });
    match protocol {
        ETHERTYPE_TEB => {
            let tunnel = match key.then(|| be24(data, key_at)).flatten() {
                Some(vsid) => outer.within(TenantKind::Nvgre, vsid),
                None => outer,
            };
            peeled(Inner::Ethernet(rest), tunnel)
        }
        // Type I has no header of its own; type II (with a sequence number) has 8 bytes.
        ETHERTYPE_ERSPAN_II if !sequence => peeled(Inner::Ethernet(rest), outer),
        ETHERTYPE_ERSPAN_II => match rest.get(8..) {
            Some(frame) if rest[0] >> 4 == 1 => peeled(Inner::Ethernet(frame), outer),
            _ => Carried::Other,
        },
        ETHERTYPE_ERSPAN_III => erspan_iii(rest, outer),
        _ => peeled(Inner::EtherType(protocol, rest), outer),
    }
}

/// ERSPAN type III: 12 bytes (version 2), then an 8-byte platform-specific subheader
/// when the O flag is set; frame type 0 is Ethernet, 2 is IP.
fn erspan_iii(data: &[u8], outer: Tunnel) -> Carried<'_> {
    let (Some(&first), Some(&flags)) = (data.first(), data.get(11)) else {
        return Carried::Other;
    };
    if first >> 4 != 2 {
        return Carried::Other;
    }
    let at = if flags & 0x01 != 0 { 20 } else { 12 };
    let frame_type = (data[10] >> 2) & 0x1f;
    let Some(rest) = data.get(at..) else {
        return Carried::Other;
    };
    let inner = match frame_type {
        0 => Inner::Ethernet(rest),
        2 => Inner::Ip(rest),
        _ => return Carried::Other,
    };
    Carried::Tunnel(Peeled {
        inner,
        tunnel: outer,
    })
}

/// MPLS (RFC 3032): label stack entries up to the one with the bottom-of-stack bit,
/// then IP (told by its version nibble). Anything else under the labels is a
/// pseudowire, not decoded.
pub(super) fn mpls(data: &[u8]) -> Result<&[u8], Skip> {
    for i in 0..MAX_LABELS {
        let entry = data.get(i * 4..i * 4 + 4).ok_or(Skip::Malformed)?;
        if entry[2] & 0x01 != 0 {
            let rest = &data[i * 4 + 4..];
            return match rest.first().map(|b| b >> 4) {
                Some(4 | 6) => Ok(rest),
                Some(_) => Err(Skip::Undecoded(Encapsulation::MplsPseudowire)),
                None => Err(Skip::Malformed),
            };
        }
    }
    Err(Skip::Undecoded(Encapsulation::MplsTooDeep))
}

#[cfg(test)]
#[path = "tunnel_tests.rs"]
mod tests;
