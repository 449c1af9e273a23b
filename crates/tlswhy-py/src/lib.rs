//! The Python module `tlswhy._native`, wrapped by the pure-Python package `tlswhy`
//! (`python/tlswhy/__init__.py`): the analysis of capture files or bytes, its records
//! streamed to Python as Arrow record batches through the Arrow PyCapsule interface
//! (`__arrow_c_stream__`, read by `pyarrow.RecordBatchReader.from_stream`), or as
//! JSON Lines for dicts.
//!
//! The analysis runs on threads of its own, never holding the interpreter lock: Python
//! threads (and Spark's Python workers) go on while it works.

mod options;
mod stream;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use stream::{Analysis, ArrowSchema};
use tlswhy::diagnose::{Code, Profiles, Warning};

/// The package's version.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The records' JSON Schema (2020-12), as text.
#[pyfunction]
fn json_schema() -> &'static str {
    tlswhy_arrow::schema::JSON_SCHEMA
}

/// The records' Arrow schema (an object with `__arrow_c_schema__`).
#[pyfunction(name = "arrow_schema")]
fn record_schema() -> ArrowSchema {
    ArrowSchema
}

/// The verdict codes: `[{"code", "title"}]`, in the catalog's order.
#[pyfunction]
fn codes(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    titled(
        py,
        "code",
        Code::ALL.iter().map(|c| (c.as_str(), c.title())),
    )
}

/// The warnings of completed handshakes ("ok, but"): `[{"warning", "title"}]`.
#[pyfunction]
fn warnings(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    titled(
        py,
        "warning",
        Warning::ALL.iter().map(|w| (w.as_str(), w.title())),
    )
}

/// A catalog as `[{key: name, "title": title}]`, in its order.
fn titled<'py>(
    py: Python<'py>,
    key: &str,
    entries: impl Iterator<Item = (&'static str, &'static str)>,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for (name, title) in entries {
        let d = PyDict::new(py);
        d.set_item(key, name)?;
        d.set_item("title", title)?;
        list.append(d)?;
    }
    Ok(list)
}

/// Merges server profiles (bytes from `Analysis.profiles`), in the order given: the
/// profiles of all the files, for `server_profiles=`.
#[pyfunction]
fn merge_profiles<'py>(py: Python<'py>, parts: Vec<Vec<u8>>) -> PyResult<Bound<'py, PyBytes>> {
    let merged = py.detach(move || {
        let mut merged = Profiles::default();
        for part in &parts {
            merged.merge(Profiles::from_bytes(part)?);
        }
        Ok::<_, tlswhy::diagnose::profile::ProfileBytesError>(merged.to_bytes())
    });
    let merged = merged.map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(PyBytes::new(py, &merged))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SCHEMA_VERSION", tlswhy::report::json::SCHEMA_VERSION)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(json_schema, m)?)?;
    m.add_function(wrap_pyfunction!(record_schema, m)?)?;
    m.add_function(wrap_pyfunction!(codes, m)?)?;
    m.add_function(wrap_pyfunction!(warnings, m)?)?;
    m.add_function(wrap_pyfunction!(merge_profiles, m)?)?;
    m.add_function(wrap_pyfunction!(stream::analyze_json, m)?)?;
    m.add_class::<Analysis>()?;
    m.add_class::<ArrowSchema>()?;
    Ok(())
}
