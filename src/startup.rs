//! (Scaffold: Application::build / run_until_stopped; replaced by its owner.)
