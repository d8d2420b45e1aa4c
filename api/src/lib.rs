//! HTTP API. Placeholder.
