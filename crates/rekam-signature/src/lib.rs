//! rekam-signature (being written).
