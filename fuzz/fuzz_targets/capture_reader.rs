//! pcap / pcapng framing: `PacketReader::new`, every packet, then `damage()`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlswhy::capture::PacketReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = PacketReader::new(data, "fuzz") else {
        return;
    };
    let mut frames = 0u64;
    for packet in reader.by_ref() {
        frames += 1;
        // Frame numbers count packets from 1, as Wireshark does.
        assert_eq!(packet.frame, frames);
        // Packets are borrowed from the input, so never longer than it.
        assert!(packet.data.len() <= data.len());
        std::hint::black_box(packet.ts.to_string());
        std::hint::black_box(packet.link_type.name());
    }
    if let Some(damage) = reader.damage() {
        assert!(damage.offset as usize <= data.len(), "{damage}");
        std::hint::black_box(damage.to_string());
    }
    assert!(reader.offset() <= data.len());
    std::hint::black_box(reader.link_types());
});
