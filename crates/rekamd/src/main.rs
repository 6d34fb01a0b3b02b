//! rekamd (being written).
fn main() {}
