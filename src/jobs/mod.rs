//! (Scaffold: the jobs module; replaced by its owner.)
