//! The TLS secrets a pcapng carries in its Decryption Secrets Blocks (secrets type
//! `TLSK`: an NSS key log), read ahead of the packets (a memory-mapped capture) or as
//! the walk meets them (a stream).

use crate::keys::KeyLog;

/// pcapng Decryption Secrets Block.
pub(super) const DSB_BLOCK_TYPE: u32 = 0x0000_000A;
/// Its secrets type for an NSS key log ("TLSK").
const TLS_KEY_LOG: u32 = 0x544c_534b;

/// Adds to `log` the TLS key logs of every Decryption Secrets Block in the pcapng
/// `bytes`, reading only block headers on the way; stops at the first block whose
/// length does not make sense (the packet walk reports that damage).
pub(super) fn read_ahead(bytes: &[u8], log: &KeyLog) {
    log.set_read_ahead();
    let mut big_endian = false;
    let mut at = 0usize;
    while let Some(header) = bytes.get(at..at + 12) {
        if header[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
            // A section header carries its own byte order.
            big_endian = header[8..12] == [0x1a, 0x2b, 0x3c, 0x4d];
        }
        let word = |b: &[u8]| read_u32(b, big_endian);
        let (kind, len) = (word(&header[..4]), word(&header[4..8]) as usize);
        if len < 12 || len % 4 != 0 || len > bytes.len() - at {
            return;
        }
        if kind == DSB_BLOCK_TYPE {
            add_block(log, &bytes[at..at + len], big_endian);
        }
        at += len;
    }
}

/// Adds the key log of one Decryption Secrets Block (its whole bytes) to `log`.
pub(super) fn add_block(log: &KeyLog, block: &[u8], big_endian: bool) {
    let (Some(kind), Some(len)) = (block.get(8..12), block.get(12..16)) else {
        return;
    };
    if read_u32(kind, big_endian) != TLS_KEY_LOG {
        return;
    }
    let len = read_u32(len, big_endian) as usize;
    if let Some(data) = block.get(16..16usize.saturating_add(len)) {
        log.add_lines(data);
    }
}

fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let b = [b[0], b[1], b[2], b[3]];
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(kind: u32, secrets_type: u32, data: &[u8]) -> Vec<u8> {
        let padded = data.len().div_ceil(4) * 4;
        let total = (16 + padded + 4) as u32;
        let mut b = Vec::new();
        b.extend(kind.to_le_bytes());
        b.extend(total.to_le_bytes());
        b.extend(secrets_type.to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend(data);
        b.resize(16 + padded, 0);
        b.extend(total.to_le_bytes());
        b
    }

    #[test]
    fn reads_tls_key_logs_and_skips_other_blocks() {
        let line = format!("CLIENT_RANDOM {} {}\n", "01".repeat(32), "02".repeat(48));
        let mut bytes = block(6, 0, &[0; 9]);
        bytes.extend(block(DSB_BLOCK_TYPE, 0x5747_4b4c, line.as_bytes()));
        bytes.extend(block(DSB_BLOCK_TYPE, TLS_KEY_LOG, line.as_bytes()));
        let log = KeyLog::new();
        read_ahead(&bytes, &log);
        assert_eq!(log.len(), 1);
        // A block whose length runs past the bytes ends the read without a panic.
        let cut = &bytes[..bytes.len() - 3];
        read_ahead(cut, &KeyLog::new());
    }
}
