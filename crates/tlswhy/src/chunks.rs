//! Packets in runs ("chunks") for the analysis pass, from bytes in memory (a memory map,
//! a test's buffer) or from a stream read in 1 MiB `read()` calls (files, standard
//! input, gzip): small enough that the bytes are still in the CPU cache when the walk
//! and the workers get to them (8 MiB chunks were 9–12% slower). A stream keeps only
//! the chunk being walked and the few that workers still hold, so memory does not grow
//! with the capture; a record cut off at the end of a chunk is carried over to the next
//! one.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Deref;
use std::sync::Arc;

use crate::capture::{
    CaptureError, Damage, LinkType, Packet, PacketReader, ReaderState, Source, Timestamp,
};

/// Bytes asked of a stream per chunk.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Spare capacity left after a chunk's bytes.
const READ_SLACK: usize = 4096;
/// Bytes read at most to find a whole file header.
const MAX_HEADER_BYTES: usize = 1 << 20;
/// Packets per chunk when the whole capture is in memory already: about what a 1 MiB
/// chunk of a stream holds. Workers take stock (hand on finished connections) once per
/// chunk; with 65 536 packets per chunk, a memory-mapped handshake-heavy capture took
/// 15–19% longer on two workers.
const PACKETS_PER_SLICE_CHUNK: usize = 4096;

/// Where a packet lies in its chunk, with what the walk learnt about it.
#[derive(Clone, Copy, Debug)]
pub struct PacketAt {
    pub frame: u64,
    pub ts: Timestamp,
    pub link_type: LinkType,
    pub orig_len: u32,
    start: usize,
    len: usize,
}

impl PacketAt {
    fn of(packet: &Packet<'_>, bytes: &[u8]) -> PacketAt {
        PacketAt {
            frame: packet.frame,
            ts: packet.ts,
            link_type: packet.link_type,
            orig_len: packet.orig_len,
            // The packet is a sub-slice of `bytes`.
            start: packet.data.as_ptr() as usize - bytes.as_ptr() as usize,
            len: packet.data.len(),
        }
    }

    /// The packet, borrowed from the bytes of its chunk.
    pub fn packet<'b>(&self, bytes: &'b [u8]) -> Packet<'b> {
        Packet {
            frame: self.frame,
            ts: self.ts,
            link_type: self.link_type,
            data: &bytes[self.start..self.start + self.len],
            orig_len: self.orig_len,
        }
    }
}

/// The bytes a chunk's packets lie in: borrowed from memory, or read from a stream and
/// shared with the workers that still hold packets of it.
#[derive(Clone, Debug)]
pub enum ChunkBytes<'a> {
    Borrowed(&'a [u8]),
    Shared(Arc<Vec<u8>>),
}

impl Deref for ChunkBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ChunkBytes::Borrowed(b) => b,
            ChunkBytes::Shared(v) => v,
        }
    }
}

/// A run of packets and the bytes they lie in.
pub struct Chunk<'a> {
    pub bytes: ChunkBytes<'a>,
    pub packets: Vec<PacketAt>,
    /// Bytes of the capture this chunk walked past (for progress).
    pub span: u64,
}

/// Packets of one capture, a chunk at a time.
pub enum PacketSource<'a> {
    Memory(PacketReader<'a>, &'a [u8]),
    Stream(Box<StreamReader>),
}

impl<'a> PacketSource<'a> {
    /// The capture in `bytes`.
    /// A pcapng's Decryption Secrets Blocks are read before its packets.
    pub fn memory(bytes: &'a [u8], name: &str) -> Result<PacketSource<'a>, CaptureError> {
        let reader = PacketReader::new(bytes, name)?;
        reader.read_secrets_ahead();
        Ok(PacketSource::Memory(reader, bytes))
    }

    /// pcapng: the TLS secrets its Decryption Secrets Blocks carry — all of them for a
    /// capture in memory, those read so far for a stream (the rest are added as they
    /// come).
    pub fn secrets(&self) -> Option<Arc<crate::keys::KeyLog>> {
        match self {
            PacketSource::Memory(reader, _) => reader.secrets().cloned(),
            PacketSource::Stream(stream) => {
                stream.state.as_ref().and_then(|s| s.secrets().cloned())
            }
        }
    }

    /// The next run of packets; `None` at the end or at damage.
    pub fn next_chunk(&mut self) -> Option<Chunk<'a>> {
        match self {
            PacketSource::Memory(reader, bytes) => {
                let bytes: &'a [u8] = bytes;
                let before = reader.offset();
                let packets: Vec<PacketAt> = reader
                    .by_ref()
                    .take(PACKETS_PER_SLICE_CHUNK)
                    .map(|p| PacketAt::of(&p, bytes))
                    .collect();
                let span = reader.offset().saturating_sub(before) as u64;
                (!packets.is_empty()).then_some(Chunk {
                    bytes: ChunkBytes::Borrowed(bytes),
                    packets,
                    span,
                })
            }
            PacketSource::Stream(stream) => stream.next_chunk(),
        }
    }

    /// Takes back a chunk that was walked, to reuse its packet list (and, once no
    /// worker holds it, its buffer) for a later chunk.
    pub fn recycle(&mut self, chunk: Chunk<'a>) {
        if let PacketSource::Stream(stream) = self {
            if stream.spare_packets.len() < stream.buffers_kept {
                let mut packets = chunk.packets;
                packets.clear();
                stream.spare_packets.push(packets);
            }
        }
    }

    /// Keeps `n` chunk buffers for reuse: as many as can be in use at once (by the
    /// chunk being read and those its users still hold).
    pub fn keep_buffers(&mut self, n: usize) {
        if let PacketSource::Stream(stream) = self {
            stream.buffers_kept = n.max(1);
        }
    }

    /// Where the capture stopped making sense (once `next_chunk` returned `None`).
    pub fn damage(&self) -> Option<Damage> {
        match self {
            PacketSource::Memory(reader, _) => reader.damage().cloned(),
            PacketSource::Stream(stream) => stream.damage.clone(),
        }
    }

    /// When the capture ended, if the file says so (pcapng `isb_endtime`).
    pub fn capture_end(&self) -> Option<Timestamp> {
        match self {
            PacketSource::Memory(reader, _) => reader.capture_end(),
            PacketSource::Stream(stream) => stream.state.as_ref().and_then(|s| s.capture_end()),
        }
    }
}

/// A capture read from a file or a pipe in chunks, inflated on the way when gzipped.
pub struct StreamReader {
    input: Box<dyn Read + Send>,
    name: String,
    gzip: bool,
    /// The walk's state between chunks; `None` before the file header is read.
    state: Option<ReaderState>,
    /// The start of a record that continues in the next chunk.
    carry: Vec<u8>,
    /// Stream position of the next chunk's first byte.
    base: u64,
    finished: bool,
    damage: Option<Damage>,
    /// The first chunk, read when the stream was opened.
    first: Option<Chunk<'static>>,
    /// Bytes asked of the input per chunk.
    chunk_bytes: usize,
    /// Buffers of chunks handed out lately: reused once nobody else holds them, so a
    /// long capture does not make the allocator map and zero fresh pages per chunk.
    handed_out: Vec<Arc<Vec<u8>>>,
    /// How many of them to keep.
    buffers_kept: usize,
    /// Packet lists given back by [`PacketSource::recycle`], as many as buffers are
    /// kept: several chunks are often given back at once, and a list made afresh grows
    /// by doubling into pages the allocator takes from the kernel, to be zeroed (which
    /// took ~9% of a two-thread run on the handshake-heavy benchmark).
    spare_packets: Vec<Vec<PacketAt>>,
    /// Packets in the last chunk read: the room of a list made afresh.
    last_packets: usize,
}

/// Chunk buffers kept for reuse unless told otherwise ([`PacketSource::keep_buffers`]).
/// Fewer than can be in use at once, and a new buffer (fresh pages to map and zero) is
/// made for most chunks.
const BUFFERS_KEPT: usize = 12;
/// Room in a chunk buffer for the record carried over from the chunk before (one
/// capture record, at most 256 KiB, in all but a file header's first reads).
const CARRY_ROOM: usize = 512 * 1024;

impl StreamReader {
    /// Opens a source for chunked reading and reads its header; an input that is not a
    /// capture is an error here, not damage.
    pub fn open(source: &Source) -> Result<PacketSource<'static>, CaptureError> {
        StreamReader::open_with(source, CHUNK_BYTES)
    }

    /// [`StreamReader::open`] with chunks of `chunk_bytes` (at least 64).
    pub fn open_with(
        source: &Source,
        chunk_bytes: usize,
    ) -> Result<PacketSource<'static>, CaptureError> {
        let name = source.display_name();
        let raw: Box<dyn Read + Send> = match source {
            Source::File(path) => match File::open(path) {
                Ok(file) => Box::new(file),
                Err(e) => {
                    return Err(CaptureError::Io {
                        path: name,
                        source: e,
                    })
                }
            },
            Source::Stdin => Box::new(io::stdin()),
        };
        StreamReader::from_reader(raw, &name, chunk_bytes)
    }

    /// A capture from any reader (a socket, a decompressor, bytes in memory), in chunks
    /// of `chunk_bytes` (at least 64); gzip is recognised and inflated.
    pub fn from_reader(
        raw: Box<dyn Read + Send>,
        name: &str,
        chunk_bytes: usize,
    ) -> Result<PacketSource<'static>, CaptureError> {
        let name = name.to_string();
        let io_err = |e| CaptureError::Io {
            path: name.clone(),
            source: e,
        };
        let mut buffered = BufReader::with_capacity(64 * 1024, raw);
        let head = buffered.fill_buf().map_err(io_err)?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let input: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        let mut stream = StreamReader {
            input,
            name,
            gzip,
            state: None,
            carry: Vec::new(),
            base: 0,
            finished: false,
            damage: None,
            first: None,
            chunk_bytes: chunk_bytes.max(64),
            handed_out: Vec::new(),
            buffers_kept: BUFFERS_KEPT,
            spare_packets: Vec::new(),
            last_packets: 0,
        };
        // Read the first chunk now, so that a file that is no capture fails here.
        stream.first = stream.read_chunk()?;
        Ok(PacketSource::Stream(Box::new(stream)))
    }

    /// Fills a buffer with the carried-over bytes and up to a chunk more.
    /// Returns the buffer and whether the input ended.
    fn fill(&mut self) -> Result<(Vec<u8>, bool), CaptureError> {
        // Slack past the chunk: `read_to_end` probes for more once the chunk is in,
        // and must not reallocate (copy) the whole chunk to do so.
        let capacity = self.carry.len().max(CARRY_ROOM) + self.chunk_bytes + READ_SLACK;
        let mut buf = self.spare_buffer(capacity);
        buf.append(&mut self.carry);
        self.fill_more(buf)
    }

    /// An empty buffer of at least `capacity` bytes: one of the chunks handed out
    /// before that every worker has let go of, or a new one.
    fn spare_buffer(&mut self, capacity: usize) -> Vec<u8> {
        let free = self
            .handed_out
            .iter()
            .position(|b| Arc::strong_count(b) == 1);
        let mut buf = free
            .and_then(|i| Arc::try_unwrap(self.handed_out.swap_remove(i)).ok())
            .unwrap_or_default();
        buf.clear();
        buf.reserve(capacity);
        buf
    }

    /// Shares a chunk's buffer with its users, keeping a handle to reuse it later.
    fn hand_out(&mut self, buf: Vec<u8>) -> Arc<Vec<u8>> {
        let shared = Arc::new(buf);
        if self.handed_out.len() >= self.buffers_kept {
            // All still in use: the oldest is left to its last user to free.
            self.handed_out.remove(0);
        }
        self.handed_out.push(Arc::clone(&shared));
        shared
    }

    /// Appends up to a chunk of input to `buf`.
    fn fill_more(&mut self, mut buf: Vec<u8>) -> Result<(Vec<u8>, bool), CaptureError> {
        let want = self.chunk_bytes;
        buf.reserve(want + READ_SLACK);
        let before = buf.len();
        match (&mut self.input).take(want as u64).read_to_end(&mut buf) {
            Ok(_) => {
                let eof = buf.len() - before < want;
                Ok((buf, eof))
            }
            Err(e) if self.state.is_some() || buf.len() >= 24 => {
                // Damage inside the stream (a gzip member cut off): keep what came.
                let what = if self.gzip {
                    format!("gzip stream damaged: {e}")
                } else {
                    format!("read failed: {e}")
                };
                self.damage = Some(Damage {
                    offset: self.base + buf.len() as u64,
                    what,
                });
                Ok((buf, true))
            }
            Err(e) if self.gzip => Err(CaptureError::Gzip {
                path: self.name.clone(),
                source: e,
            }),
            Err(e) => Err(CaptureError::Io {
                path: self.name.clone(),
                source: e,
            }),
        }
    }

    /// Reads and walks one chunk.
    fn read_chunk(&mut self) -> Result<Option<Chunk<'static>>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        let (mut buf, mut eof) = self.fill()?;
        if self.state.is_none() {
            // The file header (a pcapng section header can be long) must be whole.
            while !eof && buf.len() < MAX_HEADER_BYTES && PacketReader::new(&buf, "").is_err() {
                (buf, eof) = self.fill_more(buf)?;
            }
        }
        let damage_in_read = self.damage.take();
        let mut reader = match self.state.take() {
            None => PacketReader::new(&buf, &self.name)?,
            Some(state) => PacketReader::resume(state, &buf),
        };
        reader.set_stream(self.base, !eof);
        let mut packets = self
            .spare_packets
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.last_packets + self.last_packets / 8));
        packets.extend(reader.by_ref().map(|p| PacketAt::of(&p, &buf)));
        self.last_packets = packets.len();
        let consumed = reader.offset().min(buf.len());
        let wants_more = reader.wants_more();
        let damage = reader.damage().cloned();
        self.state = Some(reader.into_state());
        let span = if wants_more { consumed } else { buf.len() } as u64;
        if wants_more {
            self.carry = buf[consumed..].to_vec();
            self.base += consumed as u64;
        } else {
            self.base += buf.len() as u64;
            if eof || damage.is_some() {
                self.finished = true;
                self.damage = damage.or(damage_in_read);
            }
        }
        if packets.is_empty() && self.finished {
            return Ok(None);
        }
        Ok(Some(Chunk {
            bytes: ChunkBytes::Shared(self.hand_out(buf)),
            packets,
            span,
        }))
    }

    fn next_chunk(&mut self) -> Option<Chunk<'static>> {
        if let Some(first) = self.first.take() {
            if !first.packets.is_empty() {
                return Some(first);
            }
        }
        loop {
            match self.read_chunk() {
                Ok(Some(chunk)) if chunk.packets.is_empty() => {
                    // Nothing whole in it (a record continues in the next chunk): its
                    // list serves the next one.
                    self.spare_packets.push(chunk.packets);
                    continue;
                }
                Ok(chunk) => return chunk,
                Err(e) => {
                    self.finished = true;
                    self.damage = Some(Damage {
                        offset: self.base,
                        what: e.to_string(),
                    });
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks given back together have their packet lists reused, each list for one
    /// later chunk, and the packets those chunks list are their own.
    #[test]
    fn packet_lists_given_back_together_are_all_reused() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures/ok_tls13.pcap");
        let open = || StreamReader::open_with(&Source::File(path.clone()), 150).unwrap();
        let frames = |chunks: &[Chunk<'_>]| -> Vec<u64> {
            chunks
                .iter()
                .flat_map(|c| c.packets.iter().map(|p| p.frame))
                .collect()
        };
        let mut source = open();
        source.keep_buffers(4);
        let first: Vec<Chunk<'_>> = (0..3).map_while(|_| source.next_chunk()).collect();
        assert_eq!(
            first.len(),
            3,
            "the capture has more than three chunks of 150 bytes"
        );
        let mut lists: Vec<*const PacketAt> = first.iter().map(|c| c.packets.as_ptr()).collect();
        let first_frames = frames(&first);
        for chunk in first {
            source.recycle(chunk);
        }
        let later: Vec<Chunk<'_>> = (0..3).map_while(|_| source.next_chunk()).collect();
        for chunk in &later {
            let reused = lists.iter().position(|&p| p == chunk.packets.as_ptr());
            lists.remove(reused.expect("a packet list given back was not reused"));
        }
        // The same frames as a reading that reuses nothing.
        let mut fresh = open();
        let all: Vec<Chunk<'_>> = (0..6).map_while(|_| fresh.next_chunk()).collect();
        let mut seen = first_frames;
        seen.extend(frames(&later));
        assert_eq!(seen, frames(&all));
    }
}
