//! rekam-camera (being written).
