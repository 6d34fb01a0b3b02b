//! rekamctl (being written).
fn main() {}
