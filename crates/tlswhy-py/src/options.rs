//! Keyword arguments to analysis settings, with the command line's names and defaults.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use tlswhy::diagnose::{self, Profiles};
use tlswhy::limits::Limits;
use tlswhy::pipeline::Settings;
use tlswhy::record::DetailLevel;

/// What the keyword arguments of `Analysis` and `analyze_json` say.
pub struct Options {
    pub settings: Settings,
    /// Keep only the records whose verdict cites server profiles (`true`), or only the
    /// others (`false`).
    pub cites_profiles: Option<bool>,
    /// Files analyzed side by side.
    pub threads: usize,
}

#[allow(clippy::too_many_arguments)]
pub fn options(
    threads: Option<usize>,
    detail: &str,
    timeout: f64,
    flow_idle_timeout: Option<f64>,
    max_flows: Option<usize>,
    max_handshake_bytes: Option<usize>,
    max_pending_bytes: Option<usize>,
    max_chain: Option<usize>,
    max_records: Option<u64>,
    ports: Vec<u16>,
    keylog: Vec<String>,
    server_profiles: Option<Vec<u8>>,
    keep_profiles: bool,
    cites_profiles: Option<bool>,
) -> PyResult<Options> {
    let defaults = Limits::default();
    let idle = flow_idle_timeout.unwrap_or(defaults.flow_idle_timeout.as_secs_f64());
    if !(timeout.is_finite() && timeout > 0.0) {
        return Err(PyValueError::new_err(
            "timeout must be a positive number of seconds",
        ));
    }
    if !(idle.is_finite() && idle >= timeout && idle <= 1e9) {
        return Err(PyValueError::new_err(
            "flow_idle_timeout must be a number of seconds no smaller than timeout",
        ));
    }
    let detail = match detail {
        "compact" => DetailLevel::Compact,
        "full" => DetailLevel::Full,
        other => {
            return Err(PyValueError::new_err(format!(
                "detail must be 'compact' or 'full', not '{other}'"
            )))
        }
    };
    let limits = Limits {
        max_flows: max_flows.unwrap_or(defaults.max_flows).max(1),
        max_handshake_message: max_handshake_bytes.unwrap_or(defaults.max_handshake_message),
        max_pending_bytes: max_pending_bytes.unwrap_or(defaults.max_pending_bytes),
        max_chain: max_chain.unwrap_or(defaults.max_chain),
        max_records: max_records.unwrap_or(defaults.max_records),
        flow_idle_timeout: Duration::from_secs_f64(idle),
        ..defaults
    };
    let mut settings = Settings {
        diagnosis: diagnose::Settings {
            response_timeout: timeout,
            limits,
            ..Default::default()
        },
        render_json: true,
        json_only: true,
        ok_records: true,
        detail,
        keep_profiles,
        ..Settings::default()
    };
    settings.diagnosis.tls_ports.extend(ports);
    if !keylog.is_empty() {
        let keys = tlswhy::keys::KeyLog::new();
        for path in &keylog {
            keys.add_file(std::path::Path::new(path))
                .map_err(|e| PyValueError::new_err(format!("keylog {path}: {e}")))?;
        }
        settings.keys = Some(Arc::new(keys));
    }
    if let Some(bytes) = server_profiles {
        let profiles =
            Profiles::from_bytes(&bytes).map_err(|e| PyValueError::new_err(e.to_string()))?;
        settings.server_profiles = Some(Arc::new(profiles));
    }
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    Ok(Options {
        settings,
        cites_profiles,
        threads,
    })
}
