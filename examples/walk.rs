//! The lower bound for the end-to-end comparison (`benches/compare.sh`): walk a
//! capture's records, decode Ethernet/IP/TCP and look each packet's flow up in a hash
//! map — what any analyzer must do — and nothing else. It reads the way `tlswhy analyze`
//! does: 1 MiB `read()` chunks, or a memory map with `--mmap`.
//!
//! usage: walk [--mmap] CAPTURE

use std::collections::HashMap;

use tlswhy::capture::{CaptureBytes, Source};
use tlswhy::chunks::{PacketSource, StreamReader};
use tlswhy::decode::Decoder;
use tlswhy::flow::key_of;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mmap = args.iter().any(|a| a == "--mmap");
    let path = args
        .iter()
        .find(|a| *a != "--mmap")
        .expect("usage: walk [--mmap] CAPTURE")
        .clone();
    let source = Source::File(path.clone().into());
    let mapped;
    let packets = if mmap {
        mapped = CaptureBytes::load(&source).expect("readable capture");
        PacketSource::memory(&mapped, &path).expect("a capture")
    } else {
        StreamReader::open(&source).expect("a capture")
    };
    let (count, flows) = walk(packets);
    println!("{count} packets, {flows} flows");
}

fn walk(mut source: PacketSource<'_>) -> (u64, usize) {
    let mut decoder = Decoder::new();
    let mut flows: HashMap<_, u64, foldhash::fast::RandomState> = HashMap::default();
    let mut count = 0u64;
    while let Some(chunk) = source.next_chunk() {
        for at in &chunk.packets {
            count += 1;
            if let Ok(seg) = decoder.decode(&at.packet(&chunk.bytes)) {
                *flows
                    .entry(key_of(seg.src, seg.dst, seg.tunnel))
                    .or_default() += 1;
            }
        }
        source.recycle(chunk);
    }
    (count, flows.len())
}
