//! The manifest JSON Schema, generated from the Rust types (checked in as `schemas/manifest.schema.json`).

use super::ManifestFile;

/// The schema as pretty JSON with a trailing newline, exactly as checked in.
pub fn manifest_schema() -> String {
    let schema = schemars::schema_for!(ManifestFile);
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    s.push('\n');
    s
}
