//! Rego `# METADATA` parsing (pending).
