//! (Scaffold: the features module; replaced by its owner.)
