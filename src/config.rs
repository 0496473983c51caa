//! (Scaffold: service settings; replaced by its owner.)
