//! (Scaffold: the http module; replaced by its owner.)
