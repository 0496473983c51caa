//! Runs: GET /api/v1/runs/{id}, /metrics and /curves.svg. Runs are written by
//! jobs, so their happy paths are in jobs.rs; this file covers 404 and auth.

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn unknown_run_ids_are_404_on_every_run_route() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/runs/nope",
        "/api/v1/runs/nope/metrics",
        "/api/v1/runs/nope/curves.svg",
    ] {
        assert_error(app.admin_get(path).await, 404, "not_found").await;
    }
}

#[tokio::test]
async fn run_routes_need_admin_credentials() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/runs/x",
        "/api/v1/runs/x/metrics",
        "/api/v1/runs/x/curves.svg",
    ] {
        assert_error(app.get(path).await, 401, "unauthorized").await;
    }
}
