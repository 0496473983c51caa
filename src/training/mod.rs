//! (Scaffold: the training module; replaced by its owner.)
