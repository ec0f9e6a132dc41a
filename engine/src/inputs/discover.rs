//! File discovery (placeholder).
