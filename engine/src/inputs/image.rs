//! Image metadata input (placeholder).
use std::path::Path;

use super::{FileReport, LoadOptions};

/// Whether `dir` is an OCI image layout.
pub fn is_oci_layout(dir: &Path) -> bool {
    dir.join("oci-layout").is_file()
}

/// Loads an OCI image layout directory.
pub fn load_layout(dir: &Path, _opts: &LoadOptions) -> FileReport {
    FileReport::skipped(dir.display().to_string(), "pending")
}
