//! Unit tests of the capture walk.

use super::*;

fn pcap_le(records: &[(&[u8], u32)], nanos: bool) -> Vec<u8> {
    let mut v = Vec::new();
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    v.extend_from_slice(&magic.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for (data, frac) in records {
        v.extend_from_slice(&10u32.to_le_bytes());
        v.extend_from_slice(&frac.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
    }
    v
}

#[test]
fn reads_microsecond_and_nanosecond_timestamps() {
    let us = pcap_le(&[(b"abcd", 5)], false);
    let p: Vec<_> = PacketReader::new(&us, "t").unwrap().collect();
    assert_eq!(p[0].ts, Timestamp(10_000_005_000));
    let ns = pcap_le(&[(b"abcd", 5)], true);
    let p: Vec<_> = PacketReader::new(&ns, "t").unwrap().collect();
    assert_eq!(p[0].ts, Timestamp(10_000_000_005));
    assert_eq!(p[0].data, b"abcd");
}

#[test]
fn truncated_record_is_damage_not_panic() {
    let mut v = pcap_le(&[(b"abcdef", 0), (b"ghijkl", 0)], false);
    v.truncate(v.len() - 3);
    let mut r = PacketReader::new(&v, "t").unwrap();
    assert_eq!(r.next().unwrap().data, b"abcdef");
    assert!(r.next().is_none());
    let d = r.damage().unwrap();
    assert_eq!(d.offset, 24 + 16 + 6);
    assert!(d.what.contains("cut off"), "{}", d.what);
}

#[test]
fn absurd_caplen_is_damage() {
    let mut v = pcap_le(&[(b"abcdef", 0)], false);
    let at = 24 + 8;
    v[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut r = PacketReader::new(&v, "t").unwrap();
    assert!(r.next().is_none());
    assert!(r.damage().unwrap().what.contains("more than any packet"));
}

#[test]
fn not_a_capture_is_an_error_naming_the_bytes() {
    let err = PacketReader::new(b"GET / HTTP/1.1\r\n", "x.txt")
        .err()
        .unwrap();
    assert!(err.to_string().contains("47 45 54 20"), "{err}");
}
