//! The `ringmaster` binary. Placeholder.
fn main() {}
