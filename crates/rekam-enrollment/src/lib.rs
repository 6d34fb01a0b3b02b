//! rekam-enrollment (being written).
