//! Unit tests for the Dockerfile input.
