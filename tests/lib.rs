//! Helpers shared by rekam's end-to-end tests: they start `rekamd` on a temporary socket
//! with simulated devices and hand out generated gRPC clients.
