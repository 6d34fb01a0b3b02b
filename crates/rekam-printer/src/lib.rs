//! rekam-printer (being written).
