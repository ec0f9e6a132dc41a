//! Rego runtime (pending).
