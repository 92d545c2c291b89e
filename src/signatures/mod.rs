//! signatures
