//! Encrypted records: of pseudo-random bytes of the right sizes, or — with `--keylog` —
//! sealed for real with the connection's keys (TLS 1.3 server flights included).

use crate::keys::{relayout, TLS13_OVERHEAD};
use crate::messages::*;
use crate::profiles::{APPLICATION_DATA, HANDSHAKE, TLS12};
use crate::scenario::{Attempt, World};
use crate::tcp::*;

impl World {
    /// One protected record from side `d` of `content_type` whose plaintext is `size`
    /// bytes (TLS 1.3: application_data on the outside): pseudo-random bytes, or with
    /// keys the message `message` writes (given the record's pseudo-random bytes to take
    /// varying fields from) sealed for real; TLS 1.3 pads it to `size`.
    pub(crate) fn encrypted_record(
        &mut self,
        out: &mut Vec<u8>,
        d: usize,
        content_type: u8,
        tls13: bool,
        size: usize,
        message: impl FnOnce(&mut Vec<u8>, &[u8]),
    ) {
        let overhead = World::overhead(tls13);
        if self.keys.is_none() {
            let outer = if tls13 {
                APPLICATION_DATA
            } else {
                content_type
            };
            record(out, outer, TLS12, |b| self.ciphertext(b, size + overhead));
            return;
        }
        let mut random = std::mem::take(&mut self.random);
        let mut content = std::mem::take(&mut self.content);
        random.clear();
        content.clear();
        self.ciphertext(&mut random, size + overhead);
        message(&mut content, &random);
        let pad = if tls13 {
            size.saturating_sub(content.len())
        } else {
            0
        };
        if let Some(keys) = self.keys.as_mut() {
            keys.seal(d, out, content_type, &content, pad);
        }
        self.random = random;
        self.content = content;
    }

    /// Application data records from side `d` of plaintexts of these sizes: pseudo-random
    /// bytes, or with keys pseudo-random plaintexts sealed for real (in as many bytes).
    pub(crate) fn encrypted_records(
        &mut self,
        out: &mut Vec<u8>,
        d: usize,
        tls13: bool,
        sizes: &[usize],
    ) {
        let overhead = World::overhead(tls13);
        if self.keys.is_none() {
            for &s in sizes {
                record(out, APPLICATION_DATA, TLS12, |b| {
                    self.ciphertext(b, s + overhead)
                });
            }
            return;
        }
        let mut random = std::mem::take(&mut self.random);
        random.clear();
        for &s in sizes {
            self.ciphertext(&mut random, s + overhead);
        }
        if let Some(keys) = self.keys.as_mut() {
            let mut at = 0;
            for n in relayout(sizes, overhead, keys.overhead()) {
                keys.seal(d, out, APPLICATION_DATA, &random[at..at + n], 0);
                at += n;
            }
        }
        self.random = random;
    }

    /// With keys: the server's EncryptedExtensions, Certificate, CertificateVerify (not
    /// when resuming) and Finished sealed with its handshake traffic keys, one record
    /// each of the size it has without keys where the message fits (padded). Where it
    /// does not (an ALPN name longer than the drawn EncryptedExtensions, a SHA-384
    /// Finished) the record grows; if that changes the number of TCP segments of the
    /// flight, the messages go in one record (as many servers send them), padded so
    /// that the flight keeps its length: the segments, and the main stream's draws
    /// for their faults, stay as without keys.
    pub(crate) fn sealed_server_flight13(
        &mut self,
        flight: &mut Vec<u8>,
        a: &Attempt,
        sizes: &[usize],
        mss: usize,
    ) {
        let mut random = std::mem::take(&mut self.random);
        let mut content = std::mem::take(&mut self.content);
        random.clear();
        content.clear();
        // Each record's pseudo-random bytes, drawn as without keys.
        let mut starts = Vec::with_capacity(sizes.len());
        for &s in sizes {
            starts.push(random.len());
            self.ciphertext(&mut random, s + TLS13_OVERHEAD);
        }
        let Some(keys) = self.keys.as_mut() else {
            return;
        };
        // The messages, each ending at an offset of `content`.
        let mut ends = Vec::with_capacity(sizes.len());
        encrypted_extensions(&mut content, a.profile, a.resume, sizes[0]);
        ends.push(content.len());
        if !a.resume {
            certificate13(&mut content, a.server.chain);
            ends.push(content.len());
            certificate_verify(&mut content, a.server.key, &random[starts[2]..]);
            ends.push(content.len());
        }
        let last = starts[sizes.len() - 1];
        finished(&mut content, &random[last..last + keys.suite.hash.len()]);
        ends.push(content.len());

        let record = |size: usize| 5 + size + TLS13_OVERHEAD;
        let before = flight.len();
        let unkeyed: usize = sizes.iter().map(|&s| record(s)).sum();
        let mut begin = 0;
        let one_each: usize = ends
            .iter()
            .zip(sizes)
            .map(|(&end, &size)| {
                let n = record((end - begin).max(size));
                begin = end;
                n
            })
            .sum();
        let segments = |len: usize| len.div_ceil(mss);
        if segments(before + one_each) == segments(before + unkeyed) {
            let mut begin = 0;
            for (&end, &size) in ends.iter().zip(sizes) {
                let pad = size.saturating_sub(end - begin);
                keys.seal(SERVER, flight, HANDSHAKE, &content[begin..end], pad);
                begin = end;
            }
        } else {
            let pad = (unkeyed - record(0)).saturating_sub(content.len());
            keys.seal(SERVER, flight, HANDSHAKE, &content, pad);
        }
        assert_eq!(
            segments(flight.len()),
            segments(before + unkeyed),
            "the sealed server flight keeps its TCP segments"
        );
        keys.finished(SERVER);
        self.random = random;
        self.content = content;
    }
}
