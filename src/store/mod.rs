//! (Scaffold: the store module; replaced by its owner.)

pub mod datasets;
pub mod jobs;
pub mod runs;

pub mod datasets;
pub mod jobs;
pub mod runs;
