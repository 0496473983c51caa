//! (Scaffold: the store module; replaced by its owner.)
