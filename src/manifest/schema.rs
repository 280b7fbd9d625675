//! The manifest JSON Schema, generated from the Rust types (checked in as `schemas/manifest.schema.json`).
//! [`ManifestFile`] has a section per kind of the registry, so a new kind appears here by itself.

use super::Settings;
use crate::resources::Text;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A section's type: a list of entries, or one mapping for a singleton.
macro_rules! section_type {
    (many $Spec:path) => { Vec<$Spec> };
    (one $Spec:path) => { Option<$Spec> };
}

macro_rules! manifest_file {
    ($($V:ident $section:ident $Spec:path, $shape:ident;)*) => {
        /// One manifest file, as written. Every section is optional; sections of all files are merged.
        /// Export writes files of this shape.
        #[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[schemars(title = "skyform manifest", description = "A SkyLight Chat account as code. See skyform's README.")]
        pub struct ManifestFile {
            /// Reusable texts, local to the manifests: `name: text`, or `name: { file: path }`.
            #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
            pub prompts: IndexMap<String, Text>,
            $(
                #[serde(default, skip_serializing_if = "is_empty_section")]
                pub $section: section_type!($shape $Spec),
            )*
            #[serde(default, skip_serializing_if = "is_default_settings")]
            pub settings: Settings,
        }
    };
}
each_kind!(manifest_file);

/// Empty list, or no singleton.
trait EmptySection {
    fn empty(&self) -> bool;
}
impl<T> EmptySection for Vec<T> {
    fn empty(&self) -> bool {
        self.is_empty()
    }
}
impl<T> EmptySection for Option<T> {
    fn empty(&self) -> bool {
        self.is_none()
    }
}
fn is_empty_section(s: &impl EmptySection) -> bool {
    s.empty()
}

fn is_default_settings(s: &Settings) -> bool {
    s.prune.is_empty()
}

/// The schema as pretty JSON with a trailing newline, exactly as checked in.
pub fn manifest_schema() -> String {
    let schema = schemars::schema_for!(ManifestFile);
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    s.push('\n');
    s
}
