//! rekam-encoder (being written).
