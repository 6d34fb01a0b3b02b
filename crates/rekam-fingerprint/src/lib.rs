//! rekam-fingerprint (being written).
