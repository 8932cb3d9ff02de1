//! Where media comes from. Every device has a synthetic twin so the same pipeline runs on
//! machines without a camera, microphone or display.

pub mod synthetic;
