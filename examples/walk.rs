//! The lower bound for the end-to-end comparison (`benches/compare.sh`): walk a
//! capture's records, decode Ethernet/IP/TCP and look each packet's flow up in a hash
//! map — what any analyzer must do — and nothing else.

use std::collections::HashMap;

use tlswhy::capture::{CaptureBytes, PacketReader, Source};
use tlswhy::decode::Decoder;
use tlswhy::flow::key_of;

fn main() {
    let path = std::env::args().nth(1).expect("usage: walk CAPTURE");
    let bytes = CaptureBytes::load(&Source::File(path.clone().into())).expect("readable capture");
    let mut decoder = Decoder::new();
    let mut flows: HashMap<_, u64> = HashMap::new();
    let mut packets = 0u64;
    for p in PacketReader::new(&bytes, &path).expect("a capture") {
        packets += 1;
        if let Ok(seg) = decoder.decode(&p) {
            *flows.entry(key_of(seg.src, seg.dst)).or_default() += 1;
        }
    }
    println!("{packets} packets, {} flows", flows.len());
}
