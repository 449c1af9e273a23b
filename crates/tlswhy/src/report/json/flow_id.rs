//! The flow's names that other tools share: the Community ID (v1) of the TCP
//! connection, as Zeek, Suricata and Arkime write it, and the record's time in RFC 3339.
//! Both are written straight into the output, without an allocation.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::writer::{write_seconds, SECONDS_RANGE};
use crate::capture::Timestamp;
use crate::tls::cert::civil_from_days;

/// IANA protocol numbers of TCP and UDP.
const TCP: u8 = 6;
const UDP: u8 = 17;

/// The Community ID v1 of a TCP connection: `1:` and the base64 of the SHA-1 of seed,
/// both addresses, protocol, a zero byte and both ports, the endpoints ordered so that
/// both directions give the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommunityId([u8; 30]);

impl CommunityId {
    /// With seed 0, the default of every tool that writes it (the records' id).
    pub fn tcp(client: SocketAddr, server: SocketAddr) -> CommunityId {
        CommunityId::tcp_seeded(0, client, server)
    }

    /// Of a UDP flow (QUIC), with seed 0.
    pub fn udp(client: SocketAddr, server: SocketAddr) -> CommunityId {
        CommunityId::seeded(UDP, 0, client, server)
    }

    /// With another seed (tools can be configured with one).
    pub fn tcp_seeded(seed: u16, client: SocketAddr, server: SocketAddr) -> CommunityId {
        CommunityId::seeded(TCP, seed, client, server)
    }

    /// Of a flow of IP protocol `protocol` (one with ports: TCP, UDP).
    fn seeded(protocol: u8, seed: u16, client: SocketAddr, server: SocketAddr) -> CommunityId {
        // The endpoints in order, by address then port (as `SocketAddr`'s order would
        // have them, read here without its generic comparison for two IPv4 ones).
        let client_first = match (client.ip(), server.ip()) {
            (IpAddr::V4(c), IpAddr::V4(s)) => {
                (c.to_bits(), client.port()) <= (s.to_bits(), server.port())
            }
            (c, s) => (c, client.port()) <= (s, server.port()),
        };
        let (a, b) = if client_first {
            (client, server)
        } else {
            (server, client)
        };
        // The hashed bytes (at most 40) make one SHA-1 block with their padding: they
        // are put in it and compressed once, without a hasher's buffering.
        let mut block = [0u8; 64];
        block[..2].copy_from_slice(&seed.to_be_bytes());
        let mut len = 2;
        for ip in [a.ip(), b.ip()] {
            match ip {
                IpAddr::V4(v4) => {
                    block[len..len + 4].copy_from_slice(&v4.octets());
                    len += 4;
                }
                IpAddr::V6(v6) => {
                    block[len..len + 16].copy_from_slice(&v6.octets());
                    len += 16;
                }
            }
        }
        block[len..len + 2].copy_from_slice(&[protocol, 0]);
        block[len + 2..len + 4].copy_from_slice(&a.port().to_be_bytes());
        block[len + 4..len + 6].copy_from_slice(&b.port().to_be_bytes());
        len += 6;
        // SHA-1's padding (FIPS 180-4 §5.1.1): a 1 bit, zeros, the length in bits.
        block[len] = 0x80;
        block[56..].copy_from_slice(&(len as u64 * 8).to_be_bytes());
        let mut state = SHA1_INITIAL;
        sha1::compress(&mut state, &[block.into()]);
        let mut digest = [0u8; 20];
        for (bytes, word) in digest.chunks_exact_mut(4).zip(state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        let mut id = [0u8; 30];
        id[..2].copy_from_slice(b"1:");
        let mut text = [0u8; 28];
        base64(&digest, &mut text);
        id[2..].copy_from_slice(&text);
        CommunityId(id)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The id as bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// SHA-1's initial hash value (FIPS 180-4 §5.3.1).
const SHA1_INITIAL: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];

/// Standard base64 with padding (RFC 4648 §4) of 20 bytes into 28: six groups of three
/// bytes, then two bytes and a `=`.
fn base64(bytes: &[u8; 20], out: &mut [u8; 28]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let char_at = |n: u32, shift: u32| ALPHABET[(n >> shift & 63) as usize];
    for i in 0..7 {
        let b = |j: usize| bytes.get(3 * i + j).map_or(0, |&b| u32::from(b));
        let n = b(0) << 16 | b(1) << 8 | b(2);
        out[4 * i..4 * i + 4].copy_from_slice(&[
            char_at(n, 18),
            char_at(n, 12),
            char_at(n, 6),
            char_at(n, 0),
        ]);
    }
    // 20 bytes are six groups of three and two bytes: one `=`.
    out[27] = b'=';
}

/// A capture time as RFC 3339 in UTC with microseconds: `2026-11-23T17:01:15.966895Z`,
/// spelled into a fixed buffer (a [`Timestamp`] spans the years 1677 to 2262).
pub struct Rfc3339([u8; 27]);

impl Rfc3339 {
    pub fn of(ts: Timestamp) -> Rfc3339 {
        let micros = ts.round_micros();
        let secs = micros.div_euclid(1_000_000);
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        let digits = |out: &mut [u8; 27], at: usize, width: usize, mut n: u32| {
            for slot in out[at..at + width].iter_mut().rev() {
                *slot = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        // Records come in time order, many in the same second: its date and time are
        // spelled once per thread and second.
        thread_local! {
            static LAST_SECOND: Cell<(i64, [u8; 19])> = const { Cell::new((i64::MIN, [0; 19])) };
        }
        let (last, spelled) = LAST_SECOND.get();
        if last == secs {
            out[..19].copy_from_slice(&spelled);
        } else {
            let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
            let of_day = secs.rem_euclid(86_400) as u32;
            digits(&mut out, 0, 4, year as u32);
            digits(&mut out, 5, 2, month);
            digits(&mut out, 8, 2, day);
            digits(&mut out, 11, 2, of_day / 3600);
            digits(&mut out, 14, 2, of_day / 60 % 60);
            digits(&mut out, 17, 2, of_day % 60);
            let mut prefix = [0; 19];
            prefix.copy_from_slice(&out[..19]);
            LAST_SECOND.set((secs, prefix));
        }
        digits(&mut out, 20, 6, micros.rem_euclid(1_000_000) as u32);
        Rfc3339(out)
    }

    /// The time as bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// `00` to `99`.
const TWO_DIGITS: &[u8; 200] = b"0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Writes a record's `,"ts":…,"time":"…"`: the time as seconds ([`write_seconds`]) and
/// as [`Rfc3339`], from one rounding to the microsecond. Between 2001 and 2106 (every
/// capture) the second's ten digits and its date and time of day are spelled once per
/// thread and second, the fraction's six digits once, both values into one buffer.
pub(super) fn write_ts_and_time(out: &mut Vec<u8>, ts: Timestamp) {
    let micros = ts.round_micros();
    if !SECONDS_RANGE.contains(&micros) {
        out.extend_from_slice(b",\"ts\":");
        write_seconds(out, micros);
        out.extend_from_slice(b",\"time\":\"");
        out.extend_from_slice(Rfc3339::of(ts).as_bytes());
        out.push(b'"');
        return;
    }
    let (secs, mut fraction) = (micros / 1_000_000, (micros % 1_000_000) as u32);
    /// Seconds spelled per thread: records come in the order their connections end,
    /// and the connections that end together began within a few seconds.
    const SECONDS: usize = 8;
    /// A second, its ten digits, its date and time of day.
    type Spelled = (i64, [u8; 10], [u8; 19]);
    thread_local! {
        /// Seconds spelled, by the second modulo [`SECONDS`]: each with its ten digits
        /// and its date and time of day.
        static SPELLED: RefCell<[Spelled; SECONDS]> =
            const { RefCell::new([(i64::MIN, [0; 10], [0; 19]); SECONDS]) };
    }
    let (digits, date) = SPELLED.with_borrow_mut(|spelled| {
        let slot = &mut spelled[secs as usize % SECONDS];
        if slot.0 != secs {
            let mut n = secs;
            for place in slot.1.iter_mut().rev() {
                *place = b'0' + (n % 10) as u8;
                n /= 10;
            }
            slot.2.copy_from_slice(&Rfc3339::of(ts).as_bytes()[..19]);
            slot.0 = secs;
        }
        (slot.1, slot.2)
    });
    // Two digits at a time.
    let mut six = *b"000000";
    for pair in six.chunks_exact_mut(2).rev() {
        let at = 2 * (fraction % 100) as usize;
        pair.copy_from_slice(&TWO_DIGITS[at..at + 2]);
        fraction /= 100;
    }
    // `,"ts":` 10 digits, `.`, up to six, `,"time":"` 19, `.`, six, `Z"`.
    let mut buf = [0u8; 6 + 10 + 7 + 9 + 19 + 9];
    buf[..6].copy_from_slice(b",\"ts\":");
    buf[6..16].copy_from_slice(&digits);
    buf[16] = b'.';
    // The fraction without its trailing zeros (`.0` for a whole second).
    let kept = 6 - six.iter().rev().take_while(|&&d| d == b'0').count();
    let kept = kept.max(1);
    buf[17..17 + 6].copy_from_slice(&six);
    let at = 17 + kept;
    buf[at..at + 9].copy_from_slice(b",\"time\":\"");
    buf[at + 9..at + 28].copy_from_slice(&date);
    buf[at + 28] = b'.';
    buf[at + 29..at + 35].copy_from_slice(&six);
    buf[at + 35..at + 37].copy_from_slice(b"Z\"");
    out.extend_from_slice(&buf[..at + 37]);
}

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(client: &str, server: &str) -> String {
        let (c, s) = (client.parse().unwrap(), server.parse().unwrap());
        let forward = CommunityId::tcp(c, s);
        assert_eq!(forward, CommunityId::tcp(s, c), "both directions");
        forward.as_str().to_string()
    }

    /// The TCP vectors of the Community ID specification's baseline.
    #[test]
    fn community_id_matches_the_specification() {
        assert_eq!(
            id("128.232.110.120:34855", "66.35.250.204:80"),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        assert_eq!(
            id(
                "[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943",
                "[2607:f8b0:400c:c03::1a]:25"
            ),
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="
        );
    }

    /// Both values written together are what each writes alone: across the years,
    /// within one second and the next, whole seconds, and outside 2001–2106.
    #[test]
    fn ts_and_time_together_as_alone() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut nanos: Vec<i64> = vec![
            0,
            -1_000,
            999_999_999_999_999_499,
            999_999_999_999_999_500,
            1_000_000_000_000_000_000,
            1_735_732_800_000_000_000,
            1_735_732_800_000_000_400,
            1_735_732_800_000_000_500,
            1_735_732_800_100_000_000,
            1_735_732_800_999_999_600,
            4_294_967_295_999_999_000,
            4_294_967_296_000_000_000,
            i64::MAX,
            i64::MIN,
        ];
        for _ in 0..100_000 {
            let base = 1_700_000_000_000_000_000 + (next() % 100_000_000_000_000_000) as i64;
            // A run within one second, then a jump.
            for step in 0..3 {
                nanos.push(base + step * (next() % 400_000_000) as i64);
            }
            nanos.push((next() >> 1) as i64 * if next() % 2 == 0 { 1 } else { -1 });
        }
        for ns in nanos {
            let ts = Timestamp(ns);
            let mut together = Vec::new();
            write_ts_and_time(&mut together, ts);
            let mut alone = b",\"ts\":".to_vec();
            write_seconds(&mut alone, ts.round_micros());
            alone.extend_from_slice(b",\"time\":\"");
            alone.extend_from_slice(Rfc3339::of(ts).as_bytes());
            alone.push(b'"');
            assert_eq!(
                String::from_utf8(together).unwrap(),
                String::from_utf8(alone).unwrap(),
                "{ns}"
            );
        }
    }

    #[test]
    fn rfc3339_in_utc_with_microseconds() {
        let at = |ns: i64| Rfc3339::of(Timestamp(ns)).to_string();
        assert_eq!(at(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(1_795_453_275_966_895_000), "2026-11-23T17:01:15.966895Z");
        // Rounded to the microsecond, carrying into the next second.
        assert_eq!(at(951_868_799_999_999_600), "2000-03-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400_000_001_000), "2000-02-29T00:00:00.000001Z");
        assert_eq!(at(-1_000), "1969-12-31T23:59:59.999999Z");
        assert_eq!(at(i64::MAX), "2262-04-11T23:47:16.854775Z");
        assert_eq!(at(i64::MIN), "1677-09-21T00:12:43.145224Z");
        // The same second again (its date and time as spelled last), then another.
        assert_eq!(at(1_795_453_275_000_001_000), "2026-11-23T17:01:15.000001Z");
        assert_eq!(at(1_795_453_275_999_999_000), "2026-11-23T17:01:15.999999Z");
        assert_eq!(at(1_795_453_276_000_000_000), "2026-11-23T17:01:16.000000Z");
        assert_eq!(at(1_795_453_275_500_000_000), "2026-11-23T17:01:15.500000Z");
    }
}
