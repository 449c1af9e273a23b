//! Live capture through libpcap (cargo feature `live`): packets from an interface go
//! through the same [`Engine`] as files; every 100 ms the connections whose outcome is
//! known are diagnosed and handed out, so a verdict appears as its handshake resolves —
//! on completion, an alert or a close, or after the idle timeout (wall clock) for the
//! timeout codes. Reported connections are freed, so memory follows the open ones.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pcap::{Capture, Device};

use crate::capture::OwnedPacket;
use crate::capture::{LinkType, Packet, Timestamp};
use crate::decode::link_type_supported;
use crate::diagnose::Profiles;
use crate::pipeline::{Engine, Settings};
use crate::record::{Handshake, Stats};

/// Why live capture could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "capturing on {interface} needs privileges: {message}\n\
         run as root (sudo), or allow the binary to capture without root:\n\
         \x20   sudo setcap cap_net_raw,cap_net_admin=eip {binary}"
    )]
    Permission {
        interface: String,
        message: String,
        binary: String,
    },
    #[error("cannot capture on {interface}: {message}")]
    Open { interface: String, message: String },
    #[error("capture filter '{filter}' does not compile: {message}")]
    Filter { filter: String, message: String },
    #[error("{interface} has link type {link_type}, which tlswhy does not decode")]
    LinkType {
        interface: String,
        link_type: String,
    },
    #[error("--user {user}: {message}")]
    User { user: String, message: String },
    #[error("listing interfaces: {0}")]
    List(String),
    #[error("capture failed: {0}")]
    Capture(String),
}

/// What to capture and when to stop.
#[derive(Debug, Default)]
pub struct LiveOptions {
    pub interface: String,
    pub filter: Option<String>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many handshake verdicts.
    pub count: Option<u64>,
    /// Key logs followed as clients append to them (they replace `Settings::keys`).
    pub keylog: Option<crate::keys::KeyLogFollower>,
}

/// Counters at the end of a live run.
#[derive(Clone, Debug, Default)]
pub struct LiveStats {
    /// libpcap: packets received by the filter, dropped for lack of buffer space, and
    /// dropped by the interface.
    pub received: u32,
    pub dropped: u32,
    pub if_dropped: u32,
    pub engine: Stats,
    pub handshakes: u64,
    /// Packets `--write` could not keep (caps reached).
    pub packets_not_kept: u64,
}

/// Bytes of each packet kept (libpcap's snap length): whole packets on any common link.
pub const SNAPLEN: u32 = 262_144;

/// What the interface was opened with: for the caller's "listening on" line.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Opened {
    pub link_type: LinkType,
    /// Bytes of each packet kept.
    pub snaplen: u32,
}

/// Interfaces libpcap can capture on: name and description.
pub fn interfaces() -> Result<Vec<(String, Option<String>)>, LiveError> {
    let devices = Device::list().map_err(|e| LiveError::List(e.to_string()))?;
    Ok(devices.into_iter().map(|d| (d.name, d.desc)).collect())
}

fn wall_clock() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(d.as_nanos() as i64)
}

fn open_error(interface: &str, e: pcap::Error) -> LiveError {
    let message = e.to_string();
    let lower = message.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        LiveError::Permission {
            interface: interface.to_string(),
            message,
            binary: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "tlswhy".into()),
        }
    } else {
        LiveError::Open {
            interface: interface.to_string(),
            message,
        }
    }
}

/// Captures until `stop` is set, the duration passes or the count is reached.
/// `after_open` runs once the interface is open and its link type known to be decoded,
/// before the first packet (the command line says it is listening, and drops
/// privileges there). Calls
/// `on_handshake` for each verdict with the packets of the connection when it failed
/// and `Settings::keep_failing_packets` is on; `warn` for drops while running.
pub fn run(
    opts: LiveOptions,
    settings: &Settings,
    stop: &AtomicBool,
    after_open: impl FnOnce(&Opened) -> Result<(), LiveError>,
    mut on_handshake: impl FnMut(&Handshake, &[OwnedPacket]) -> std::io::Result<()>,
    mut warn: impl FnMut(String),
) -> Result<LiveStats, LiveError> {
    let interface = opts.interface.as_str();
    let mut cap = Capture::from_device(interface)
        .map_err(|e| open_error(interface, e))?
        .promisc(false)
        .snaplen(SNAPLEN as i32)
        .immediate_mode(true)
        .timeout(100)
        .open()
        .map_err(|e| open_error(interface, e))?
        // Non-blocking: the loop must also drain verdicts and notice a stop while the
        // interface is quiet.
        .setnonblock()
        .map_err(|e| open_error(interface, e))?;
    if let Some(filter) = &opts.filter {
        cap.filter(filter, true).map_err(|e| LiveError::Filter {
            filter: filter.clone(),
            message: e.to_string(),
        })?;
    }
    let link_type = LinkType(cap.get_datalink().0 as u32);
    if !link_type_supported(link_type) {
        return Err(LiveError::LinkType {
            interface: interface.to_string(),
            link_type: link_type.name(),
        });
    }
    after_open(&Opened {
        link_type,
        snaplen: SNAPLEN,
    })?;

    let name = format!("live:{interface}");
    // Key logs are followed: a line a client appends while its handshake runs opens
    // that connection (its records wait for it a while; see `tls::protected::Held`).
    let mut follower = opts.keylog;
    let mut followed;
    let settings = match &follower {
        Some(f) => {
            followed = settings.clone();
            followed.keys = Some(f.log());
            &followed
        }
        None => settings,
    };
    let mut engine = Engine::new(settings);
    let mut profiles = Profiles::default();
    let started = Instant::now();
    let mut last_drain = Instant::now();
    let mut last_stats = Instant::now();
    let mut dropped_seen = 0u32;
    let mut frame = 0u64;
    let mut stats = LiveStats::default();
    let mut resolved = Vec::new();
    let mut deliver =
        |engine: &mut Engine<'_>, flush: bool, stats: &mut LiveStats| -> Result<(), LiveError> {
            resolved.clear();
            engine.drain(&name, wall_clock(), flush, &mut profiles, &mut resolved);
            for finished in &resolved {
                // Made unless `Settings::ok_records` is off and the handshake succeeded.
                if let Some(h) = &finished.handshake {
                    on_handshake(h, &finished.packets)
                        .map_err(|e| LiveError::Capture(e.to_string()))?;
                }
                stats.handshakes += 1;
            }
            Ok(())
        };
    loop {
        if stop.load(Ordering::Relaxed)
            || opts.duration.is_some_and(|d| started.elapsed() >= d)
            || opts.count.is_some_and(|n| stats.handshakes >= n)
        {
            break;
        }
        match cap.next_packet() {
            Ok(p) => {
                frame += 1;
                let ts = Timestamp(p.header.ts.tv_sec * 1_000_000_000 + p.header.ts.tv_usec * 1000);
                engine.push(&Packet {
                    frame,
                    ts,
                    link_type,
                    data: p.data,
                    orig_len: p.header.len,
                });
            }
            Err(pcap::Error::TimeoutExpired) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(LiveError::Capture(e.to_string())),
        }
        if last_drain.elapsed() >= Duration::from_millis(100) {
            last_drain = Instant::now();
            if let Some(f) = &mut follower {
                if let Err(e) = f.poll() {
                    warn(format!("--keylog: {e}"));
                }
            }
            deliver(&mut engine, false, &mut stats)?;
        }
        if last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = Instant::now();
            if let Ok(s) = cap.stats() {
                if s.dropped > dropped_seen {
                    warn(format!(
                        "libpcap dropped {} packet(s) so far: verdicts of the affected connections may be incomplete_capture",
                        s.dropped
                    ));
                    dropped_seen = s.dropped;
                }
            }
        }
    }
    deliver(&mut engine, true, &mut stats)?;
    if let Ok(s) = cap.stats() {
        stats.received = s.received;
        stats.dropped = s.dropped;
        stats.if_dropped = s.if_dropped;
    }
    stats.packets_not_kept = engine.packets_not_kept();
    stats.engine = engine.stats.clone();
    Ok(stats)
}
