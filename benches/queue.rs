//! Placeholder until the primitive lands.
fn main() {}
