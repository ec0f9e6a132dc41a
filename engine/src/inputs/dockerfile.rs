//! Dockerfile input (placeholder until the parser lands).
use super::{Document, InputError};
use crate::source::Position;

/// Parses a Dockerfile into one document.
pub fn parse(path: &str, _text: &str) -> Result<Document, InputError> {
    Err(InputError::new(
        path,
        Position::START,
        "dockerfile parser pending",
    ))
}
