//! Tunnel headers around one inner TCP segment, decoded through [`Decoder::decode`]:
//! what each tunnel carries, which ones name a tenant, what is left undecoded, and that
//! no prefix of any of them panics.

use etherparse::{IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder};

use crate::capture::{LinkType, Packet, Timestamp};
use crate::decode::{Decoder, Encapsulation, Skip, TcpSegment, Tunnel};

const INNER_CLIENT: [u8; 4] = [10, 1, 0, 1];
const INNER_SERVER: [u8; 4] = [10, 1, 0, 2];

/// The inner packet of every test: IPv4, 10.1.0.1:40000 → 10.1.0.2:443, "hello".
fn inner_v4() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(INNER_CLIENT, INNER_SERVER, 64)
        .tcp(40000, 443, 1000, 64000)
        .write(&mut out, b"hello")
        .unwrap();
    out
}

fn inner_v6() -> Vec<u8> {
    let mut out = Vec::new();
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    a[0] = 0xfd;
    a[15] = 1;
    b[0] = 0xfd;
    b[15] = 2;
    PacketBuilder::ipv6(a, b, 64)
        .tcp(40000, 443, 1000, 64000)
        .write(&mut out, b"hello")
        .unwrap();
    out
}

/// An outer IPv4 header (192.0.2.1 → 192.0.2.2) of protocol `proto` around `payload`.
fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = Ipv4Header::new(
        payload.len() as u16,
        64,
        IpNumber(proto),
        [192, 0, 2, 1],
        [192, 0, 2, 2],
    )
    .unwrap();
    h.header_checksum = h.calc_header_checksum();
    let mut v = h.to_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let h = Ipv6Header {
        traffic_class: 0,
        flow_label: Ipv6FlowLabel::ZERO,
        payload_length: payload.len() as u16,
        next_header: IpNumber(next),
        hop_limit: 64,
        source: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        destination: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    };
    let mut v = h.to_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

/// UDP from port 50000 to `port` in an outer IPv4 packet.
fn udp(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(50000, port)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn ethernet(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    v.extend_from_slice(&ether_type.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let v = vni.to_be_bytes();
    cat(&[&[0x08, 0, 0, 0, v[1], v[2], v[3], 0], frame])
}

fn decode(link_type: LinkType, data: &[u8]) -> Result<TcpSegment<'static>, Skip> {
    let packet = Packet {
        frame: 1,
        ts: Timestamp(0),
        link_type,
        data,
        orig_len: data.len() as u32,
    };
    Decoder::new().decode(&packet).map(TcpSegment::into_owned)
}

/// Decodes a raw IP packet and checks the inner segment is the test's one.
fn inner_of(ip: &[u8]) -> TcpSegment<'static> {
    let seg = decode(LinkType::RAW, ip).expect("the inner segment");
    assert_eq!(seg.dst.port(), 443);
    assert_eq!(seg.src.port(), 40000);
    assert_eq!(&*seg.payload, b"hello");
    seg
}

#[test]
fn ip_in_ip_4in4_6in4_4in6_6in6() {
    let seg = inner_of(&ipv4(4, &inner_v4()));
    assert_eq!(seg.src, "10.1.0.1:40000".parse().unwrap());
    assert_eq!(seg.tunnel, Tunnel::NONE);
    let seg = inner_of(&ipv4(41, &inner_v6()));
    assert_eq!(seg.src, "[fd00::1]:40000".parse().unwrap());
    let seg = inner_of(&ipv6(4, &inner_v4()));
    assert_eq!(seg.dst, "10.1.0.2:443".parse().unwrap());
    inner_of(&ipv6(41, &inner_v6()));
}

#[test]
fn vxlan_names_its_tenant_by_vni() {
    let frame = ethernet(0x0800, &inner_v4());
    let a = inner_of(&udp(4789, &vxlan(100, &frame)));
    let b = inner_of(&udp(4789, &vxlan(200, &frame)));
    let a_again = inner_of(&udp(8472, &vxlan(100, &frame)));
    assert_ne!(a.tunnel, Tunnel::NONE);
    assert_ne!(a.tunnel, b.tunnel, "two tenants, the same inner 5-tuple");
    assert_eq!(a.tunnel, a_again.tunnel);
    assert_eq!(a.src, b.src);
    // Without the I flag it is some other UDP on that port.
    let mut bad = vxlan(100, &frame);
    bad[0] = 0;
    assert_eq!(
        decode(LinkType::RAW, &udp(4789, &bad)).unwrap_err(),
        Skip::NotTcp
    );
    // VXLAN over IPv6 with IPv6 inside.
    let frame6 = ethernet(0x86dd, &inner_v6());
    let mut out = Vec::new();
    PacketBuilder::ipv6([1; 16], [2; 16], 64)
        .udp(50000, 4789)
        .write(&mut out, &vxlan(100, &frame6))
        .unwrap();
    inner_of(&out);
}

#[test]
fn geneve_with_options_ethernet_or_ip() {
    let vni = [0, 0, 7];
    // Two 4-byte words of options (opt_len 2), then Ethernet.
    let with_options = cat(&[
        &[0x02, 0x00, 0x65, 0x58, vni[0], vni[1], vni[2], 0],
        &[0x01, 0x02, 0x80, 0x01, 0, 0, 0, 0],
        &ethernet(0x0800, &inner_v4()),
    ]);
    let a = inner_of(&udp(6081, &with_options));
    let ip = cat(&[&[0x00, 0x00, 0x08, 0x00, 0, 0, 7, 0], &inner_v4()]);
    let b = inner_of(&udp(6081, &ip));
    assert_eq!(a.tunnel, b.tunnel);
    let vxlan7 = inner_of(&udp(4789, &vxlan(7, &ethernet(0x0800, &inner_v4()))));
    assert_ne!(
        a.tunnel, vxlan7.tunnel,
        "VNI 7 of Geneve is not VNI 7 of VXLAN"
    );
    // A control (OAM) packet carries no tenant traffic.
    let mut oam = ip.clone();
    oam[1] = 0x80;
    assert_eq!(
        decode(LinkType::RAW, &udp(6081, &oam)).unwrap_err(),
        Skip::NotTcp
    );
}

#[test]
fn gtp_u_with_extension_headers() {
    let inner = inner_v4();
    let len = |extra: usize| ((inner.len() + extra) as u16).to_be_bytes();
    let plain = cat(&[&[0x30, 0xff], &len(0), &[0, 0, 0, 0x2a], &inner]);
    let seg = inner_of(&udp(2152, &plain));
    assert_eq!(
        seg.tunnel,
        Tunnel::NONE,
        "TEIDs differ by direction: no tenant"
    );
    // E flag: sequence/N-PDU/next type, a PDU session container (1 word), then none.
    let extended = cat(&[
        &[0x34, 0xff],
        &len(8),
        &[0, 0, 0, 0x2a, 0, 0, 0, 0x85],
        &[0x01, 0x10, 0x09, 0x00],
        &inner,
    ]);
    inner_of(&udp(2152, &extended));
    // An extension header of length 0 would never end: not followed.
    let mut looping = extended.clone();
    looping[12] = 0;
    assert_eq!(
        decode(LinkType::RAW, &udp(2152, &looping)).unwrap_err(),
        Skip::NotTcp
    );
    // A sequence number without the E flag: the next-type byte is not read.
    let sequenced = cat(&[
        &[0x32, 0xff],
        &len(4),
        &[0, 0, 0, 0x2a, 0, 7, 0, 0x85],
        &inner,
    ]);
    inner_of(&udp(2152, &sequenced));
    // An echo request carries no user packet.
    let echo = [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0];
    assert_eq!(
        decode(LinkType::RAW, &udp(2152, &echo)).unwrap_err(),
        Skip::NotTcp
    );
    // An Ethernet PDU session is recognised and named.
    let eth_pdu = cat(&[
        &[0x30, 0xff],
        &len(14),
        &[0, 0, 0, 1],
        &ethernet(0x0800, &inner),
    ]);
    assert_eq!(
        decode(LinkType::RAW, &udp(2152, &eth_pdu)).unwrap_err(),
        Skip::Undecoded(Encapsulation::GtpNonIp)
    );
}

#[test]
fn gre_ip_nvgre_and_erspan() {
    let inner = inner_v4();
    let frame = ethernet(0x0800, &inner);
    inner_of(&ipv4(47, &cat(&[&[0, 0, 0x08, 0x00], &inner])));
    // Checksum, key and sequence number present.
    let all = cat(&[
        &[0xb0, 0, 0x08, 0x00],
        &[0; 4],
        &[0, 0, 0, 9],
        &[0, 0, 0, 1],
        &inner,
    ]);
    assert_eq!(inner_of(&ipv4(47, &all)).tunnel, Tunnel::NONE);
    // NVGRE: Ethernet with a VSID in the key.
    let nvgre = |vsid: u8| cat(&[&[0x20, 0, 0x65, 0x58], &[0, 0, vsid, 0], &frame]);
    let a = inner_of(&ipv4(47, &nvgre(1)));
    let b = inner_of(&ipv4(47, &nvgre(2)));
    assert_ne!(a.tunnel, b.tunnel);
    assert_ne!(a.tunnel, Tunnel::NONE);
    // ERSPAN type I (no sequence number), II and III (with a platform subheader).
    inner_of(&ipv4(47, &cat(&[&[0, 0, 0x88, 0xbe], &frame])));
    let ii = cat(&[
        &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1],
        &[0x10, 0x01, 0, 0x05, 0, 0, 0, 0],
        &frame,
    ]);
    inner_of(&ipv4(47, &ii));
    let iii = cat(&[
        &[0x10, 0, 0x22, 0xeb, 0, 0, 0, 1],
        &[0x20, 0x01, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x01],
        &[0; 8],
        &frame,
    ]);
    inner_of(&ipv4(47, &iii));
    // MPLS over GRE.
    inner_of(&ipv4(
        47,
        &cat(&[&[0, 0, 0x88, 0x47], &[0, 0x10, 0x01, 64], &inner]),
    ));
    // PPTP and source routing are named, not decoded.
    let pptp = cat(&[
        &[0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 1],
        &[0xff, 0x03],
    ]);
    assert_eq!(
        decode(LinkType::RAW, &ipv4(47, &pptp)).unwrap_err(),
        Skip::Undecoded(Encapsulation::Pptp)
    );
    assert_eq!(
        decode(
            LinkType::RAW,
            &ipv4(47, &cat(&[&[0x40, 0, 0x08, 0], &inner]))
        )
        .unwrap_err(),
        Skip::Undecoded(Encapsulation::GreRouting)
    );
}

#[test]
fn mpls_label_stacks_and_vlan_tags() {
    let inner = inner_v4();
    let labels = cat(&[&[0, 0x10, 0x00, 64], &[0, 0x20, 0x01, 64], &inner]);
    let seg = decode(LinkType::ETHERNET, &ethernet(0x8847, &labels)).unwrap();
    assert_eq!(&*seg.payload, b"hello");
    // A pseudowire (control word, then Ethernet) is named.
    let pw = cat(&[&[0, 0x10, 0x01, 64], &[0; 4], &ethernet(0x0800, &inner)]);
    assert_eq!(
        decode(LinkType::ETHERNET, &ethernet(0x8847, &pw)).unwrap_err(),
        Skip::Undecoded(Encapsulation::MplsPseudowire)
    );
    // No bottom of stack within the bound.
    let deep = cat(&[&[0, 0x10, 0x00, 64].repeat(40), &inner]);
    assert_eq!(
        decode(LinkType::ETHERNET, &ethernet(0x8847, &deep)).unwrap_err(),
        Skip::Undecoded(Encapsulation::MplsTooDeep)
    );
    // 802.1ad service tag over an 802.1Q customer tag (QinQ).
    let qinq = ethernet(
        0x88a8,
        &cat(&[&[0, 100, 0x81, 0x00], &[0, 42, 0x08, 0x00], &inner]),
    );
    assert_eq!(
        &*decode(LinkType::ETHERNET, &qinq).unwrap().payload,
        b"hello"
    );
    // Thousands of tags are not followed (and do not recurse).
    let tags = ethernet(0x88a8, &cat(&[&[0, 1, 0x88, 0xa8].repeat(5000), &inner]));
    assert_eq!(decode(LinkType::ETHERNET, &tags).unwrap_err(), Skip::NotTcp);
}

#[test]
fn l2tp_and_vxlan_gpe_are_named() {
    for ip in [
        udp(1701, &[0xc8, 0x02, 0, 0]),
        ipv4(115, &[0, 0, 0, 1, 0, 0]),
    ] {
        assert_eq!(
            decode(LinkType::RAW, &ip).unwrap_err(),
            Skip::Undecoded(Encapsulation::L2tp)
        );
    }
    assert_eq!(
        decode(LinkType::RAW, &udp(4790, &[0x0c, 0, 0, 1, 0, 0, 1, 0])).unwrap_err(),
        Skip::Undecoded(Encapsulation::VxlanGpe)
    );
}

/// `levels` VXLAN tunnels around the inner packet.
fn nested_vxlan(levels: usize) -> Vec<u8> {
    let mut ip = inner_v4();
    for level in 0..levels {
        ip = udp(4789, &vxlan(level as u32 + 1, &ethernet(0x0800, &ip)));
    }
    ip
}

#[test]
fn nesting_is_bounded() {
    let four = inner_of(&nested_vxlan(4));
    assert_ne!(four.tunnel, Tunnel::NONE);
    assert_eq!(
        decode(LinkType::RAW, &nested_vxlan(5)).unwrap_err(),
        Skip::Undecoded(Encapsulation::NestedTooDeep)
    );
}

#[test]
fn a_tunnel_packet_fragmented_on_its_way_is_reassembled() {
    let outer = udp(4789, &vxlan(5, &ethernet(0x0800, &inner_v4())));
    let transport = &outer[20..];
    let (first, second) = transport.split_at(48);
    let frag = |offset_units: u16, more: bool, data: &[u8]| {
        let mut h = Ipv4Header::new(
            data.len() as u16,
            64,
            IpNumber::UDP,
            [192, 0, 2, 1],
            [192, 0, 2, 2],
        )
        .unwrap();
        h.identification = 7;
        h.more_fragments = more;
        h.fragment_offset = etherparse::IpFragOffset::try_new(offset_units).unwrap();
        h.header_checksum = h.calc_header_checksum();
        cat(&[&h.to_bytes(), data])
    };
    let (p1, p2) = (frag(0, true, first), frag(6, false, second));
    let mut decoder = Decoder::new();
    let packet = |data: &[u8]| -> Result<TcpSegment<'static>, Skip> {
        let p = Packet {
            frame: 1,
            ts: Timestamp(0),
            link_type: LinkType::RAW,
            data,
            orig_len: data.len() as u32,
        };
        decoder.decode(&p).map(TcpSegment::into_owned)
    };
    let mut packet = packet;
    assert_eq!(packet(&p1).unwrap_err(), Skip::FragmentHeld);
    let seg = packet(&p2).expect("the inner segment, once whole");
    assert_eq!(&*seg.payload, b"hello");
    assert_ne!(seg.tunnel, Tunnel::NONE);
}

#[test]
fn no_prefix_or_flipped_byte_of_a_tunnel_packet_panics() {
    let frame = ethernet(0x0800, &inner_v4());
    let samples = [
        ipv4(4, &inner_v4()),
        ipv6(41, &inner_v6()),
        udp(4789, &vxlan(1, &frame)),
        udp(6081, &cat(&[&[0x3f, 0, 0x65, 0x58, 0, 0, 1, 0], &frame])),
        udp(
            2152,
            &cat(&[
                &[0x37, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0xff],
                &[0xff; 64],
            ]),
        ),
        ipv4(47, &cat(&[&[0xf0, 0, 0x22, 0xeb], &[0xff; 40], &frame])),
        ipv4(
            47,
            &cat(&[&[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1], &[0x10; 8], &frame]),
        ),
        nested_vxlan(6),
        ethernet(
            0x8847,
            &cat(&[&[0, 0, 0, 0].repeat(3), &[0, 0, 1, 0], &inner_v4()]),
        ),
    ];
    for sample in &samples {
        for lt in [LinkType::RAW, LinkType::ETHERNET] {
            for end in 0..=sample.len() {
                let _ = decode(lt, &sample[..end]);
            }
            for at in 0..sample.len() {
                for value in [0x00, 0xff, 0x08, 0x40] {
                    let mut v = sample.clone();
                    v[at] = value;
                    let _ = decode(lt, &v);
                }
            }
        }
    }
}
