//! Building and running the service: `Application::build(Settings)` opens and
//! migrates the database, settles the admin token, makes sure a model is
//! active (registering the built-in default model on a fresh database;
//! falling back to an earlier version, or to none, when the active one does
//! not load), loads (or refits) each prompt's calibration for the active
//! model, and binds the listener; `run_until_stopped` serves until
//! SIGINT, SIGTERM or a [`ShutdownHandle`] asks it to stop, then drains.
//! `main` and the API tests call the same code.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Settings;
use crate::http::{self, AppState, ModelHandle, PromptCache, auth};
use crate::jobs::{JobQueue, QueueSettings, TrainingExecutor};
use crate::store;

/// A built, bound, not yet running service.
pub struct Application {
    port: u16,
    listener: TcpListener,
    state: AppState,
    shutdown: ShutdownHandle,
}

/// Asks a running [`Application`] to stop gracefully (the tests' Ctrl-C).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    sender: Arc<watch::Sender<bool>>,
}

impl ShutdownHandle {
    fn new() -> Self {
        Self {
            sender: Arc::new(watch::channel(false).0),
        }
    }

    /// Starts a graceful shutdown: no new connections, requests in flight finish.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Resolves once [`trigger`](Self::trigger) has been called.
    pub async fn triggered(&self) {
        let mut receiver = self.sender.subscribe();
        // An error means the sender is gone, which cannot happen while self lives.
        let _ = receiver.wait_for(|stop| *stop).await;
    }
}

impl Application {
    /// Opens the database, prepares the state and binds `settings.addr`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.check_abuse_limits()?;
        settings
            .validate_admission()
            .map_err(|problems| anyhow::anyhow!("invalid settings: {problems}"))?;
        let metrics = http::metrics::prometheus_handle();

        // Secrets first: a bad secret file or a short key stops start-up
        // before anything is opened.
        let secrets = settings
            .secrets()
            .context("checking the admin token and API keys")?;
        let db = store::open(&settings.database, settings.db_max_connections).await?;

        let (admin_digest, generated) =
            auth::resolve_admin_token(&db, secrets.admin_token.as_ref().map(|t| t.expose()))
                .await
                .context("settling the admin token")?;
        if let Some(token) = generated {
            // Printed once, on the first start of this database, to stderr:
            // the log stream (stdout, often JSON shipped elsewhere) never
            // holds it. Only its digest is kept, so it cannot be shown again.
            eprintln!(
                "\n  essay-grader admin token (shown only now; store it safely):\n\n    {token}\n\n  \
                 Or set ESSAY_GRADER_ADMIN_TOKEN or ESSAY_GRADER_ADMIN_TOKEN_FILE to choose your own.\n"
            );
            tracing::warn!(
                "generated a new admin token and printed it once to stderr; only its digest is stored"
            );
        }
        let credentials = auth::Credentials {
            admin: admin_digest,
            api_keys: secrets
                .api_keys
                .iter()
                .map(|k| auth::digest(k.expose()))
                .collect(),
        };

        let model = ModelHandle::default();
        load_active_model(&db, &model, &settings).await?;

        // Registered prompts are prepared on demand (the first grade against
        // each), so start-up time and memory do not grow with their number.
        let grading_slots = http::grading_slots::GradingSlots::new(
            settings.grading_cpu_slots(),
            settings.grading_queue,
        );
        let prompts = PromptCache::new(settings.prompt_cache_bytes, grading_slots.clone());
        if let Some(active) = model.current() {
            let calibrated = http::calibrations::load_all(&db, &prompts, &active)
                .await
                .map_err(|e| anyhow::anyhow!("loading the prompts' calibrations: {e}"))?;
            tracing::info!(prompts = calibrated, "calibrations ready");
        }

        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.addr))?;
        let port = listener.local_addr()?.port();
        tracing::info!(addr = %listener.local_addr()?, "essay-grader is listening");

        // Each job trains on one thread, so grading keeps the other cores.
        let jobs = JobQueue::new(
            db.clone(),
            QueueSettings {
                workers: settings.workers,
                ..QueueSettings::with_lease(settings.job_lease())
            },
            Arc::new(TrainingExecutor::new(1)),
        );
        let rate_limiter = Arc::new(http::rate_limit::RateLimiter::new(
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            settings.rate_limit_loopback,
        ));
        let throttle = Arc::new(http::throttle::AuthThrottle::new(
            std::num::NonZeroU32::new(settings.auth_failure_limit)
                .context("the credential throttle's limit")?,
            settings.auth_failure_window(),
        ));
        let state = AppState {
            rate_limiter,
            throttle,
            event_streams: Default::default(),
            metrics_token: settings
                .metrics_token
                .as_ref()
                .map(|token| auth::digest(token.expose().trim())),
            jobs,
            db,
            model,
            db_writes: Default::default(),
            prompts,
            inline_prompts: http::grading::InlinePromptCache::new(
                settings.inline_prompt_cache_bytes,
                grading_slots.clone(),
            ),
            grading_slots,
            settings: Arc::new(settings),
            credentials: Arc::new(credentials),
            metrics,
            activation_lock: Arc::default(),
            calibration_lock: Arc::default(),
        };
        Ok(Self {
            port,
            listener,
            state,
            shutdown: ShutdownHandle::new(),
        })
    }

    /// The port the service listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state, for tests that inspect the database or the model.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle that stops [`run_until_stopped`](Self::run_until_stopped) gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Serves until SIGINT, SIGTERM or the shutdown handle; then stops
    /// accepting connections, lets the requests in flight finish, and closes
    /// the database.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            shutdown,
            ..
        } = self;
        let workers = state
            .jobs
            .start()
            .await
            .context("starting the job workers")?;
        // Activations made through another replica reach this one by polling.
        let follower = tokio::spawn(http::activation_follower::follow_activations(
            state.clone(),
            {
                let jobs = state.jobs.clone();
                async move { jobs.stopping().await }
            },
        ));
        let prober = tokio::spawn(probe_writes(state.clone(), {
            let jobs = state.jobs.clone();
            async move { jobs.stopping().await }
        }));
        let app = http::router(state.clone());
        let stop = shutdown.clone();
        let jobs = state.jobs.clone();
        // The peer address feeds the rate limiter and the credential throttle.
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = stop.triggered() => {}
                () = os_signal() => {}
            }
            tracing::info!("shutting down: finishing requests in flight");
            // Running jobs stop at their next epoch and go back in the
            // queue; job event streams end so they do not hold up the drain.
            jobs.begin_shutdown();
        })
        .await
        .context("serving HTTP");
        workers.shutdown().await;
        let _ = follower.await;
        let _ = prober.await;
        served?;
        state.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// How often the service checks that the database takes writes.
pub const WRITE_PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Probes the database's writability every [`WRITE_PROBE_INTERVAL`] until
/// `stop` resolves, keeping the verdict in `state.db_writes` for `/ready`
/// and logging each change (refused, then taken again).
async fn probe_writes(state: AppState, stop: impl std::future::Future<Output = ()>) {
    use store::writability::{ProbeFailure, probe};
    tokio::pin!(stop);
    loop {
        let verdict = match probe(&state.db).await {
            Ok(()) => None,
            Err(ProbeFailure::NotWritable(kind)) => Some(kind),
            Err(ProbeFailure::Other(error)) => {
                // Unreachable is `/ready`'s own check; keep the last verdict.
                tracing::warn!(%error, "could not probe the database for writes; will retry");
                state.db_writes.refused().map(|(kind, _)| kind)
            }
        };
        if state.db_writes.record(verdict) {
            match verdict {
                Some(kind) => tracing::error!(
                    reason = kind.describe(),
                    "the database refuses writes: grading goes on from memory, changes answer 503"
                ),
                None => tracing::info!("the database takes writes again"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(WRITE_PROBE_INTERVAL) => {}
            () = &mut stop => return,
        }
    }
}

/// The default model (models/default.json, trained on the CommonLit data; see
/// the README), built into the binary so that a fresh install grades at once.
pub const DEFAULT_MODEL: &[u8] = include_bytes!("../models/default.json");

/// Registers the default model (the `--default-model` file, else the built-in
/// one) as version 1 and activates it when the registry is empty.
async fn register_default_model(db: &crate::store::Db, settings: &Settings) -> anyhow::Result<()> {
    let artifact: Vec<u8> = match &settings.default_model {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("reading the default model {}", path.display()))?,
        None => DEFAULT_MODEL.to_vec(),
    };
    // Check that it loads before it goes into the registry, and take its
    // training summary as the registry's metrics.
    let (grader, artifact) = tokio::task::spawn_blocking(move || {
        (crate::grader::GraderModel::from_json(&artifact), artifact)
    })
    .await?;
    let grader = grader.context("the default model does not load")?;
    let metrics = serde_json::to_value(grader.training())?;
    let new = store::models::NewModel {
        artifact: &artifact,
        metrics,
        run_id: None,
        dataset_id: None,
        source: "default",
    };
    if let Some(record) = store::models::register_first_model(db, &new).await? {
        tracing::info!(model_id = %record.id, "registered the default model as version 1");
    }
    Ok(())
}

/// Loads the active model into `handle`, registering the default model first
/// on an empty registry.
///
/// An active version that does not load (a damaged artifact row, an artifact
/// of a future format) does not stop the start: the service would only
/// crash-loop under `restart: unless-stopped`. It falls back to the newest
/// earlier version that loads, or, when none does, starts with no model
/// (grading answers 503, the admin API stays up for the repair). Either way
/// the trouble is logged and kept on the handle for `/ready`. The registry is
/// left as it is: it still names the broken version until someone activates
/// another, so replicas that can load it are not overruled.
async fn load_active_model(
    db: &crate::store::Db,
    handle: &ModelHandle,
    settings: &Settings,
) -> anyhow::Result<()> {
    if store::models::count_models(db).await? == 0 {
        register_default_model(db, settings).await?;
    }
    let Some((record, artifact)) = store::models::active_model(db).await? else {
        tracing::warn!("no model is active: grading will answer 503 until one is activated");
        return Ok(());
    };
    let (active_id, active_version) = (record.id.clone(), record.version);
    let reason = match http::models::load_off_executor(record, artifact).await {
        Ok(loaded) => {
            tracing::info!(model_id = %loaded.id, version = loaded.version, "active model loaded");
            handle.swap(loaded);
            return Ok(());
        }
        Err(err) => err.to_string(),
    };
    let trouble = http::active_model::ModelTrouble {
        active_id: active_id.clone(),
        active_version,
        reason,
    };
    tracing::error!(model_id = %active_id, version = active_version, reason = %trouble.reason, "the active model does not load; looking for an earlier version that does");
    let fallback = load_newest_earlier_model(db, active_version).await?;
    let serving = fallback.as_ref().map(|m| m.version);
    if let Some(loaded) = fallback {
        handle.swap(loaded);
    }
    let message = trouble.describe(serving);
    match serving {
        Some(version) => tracing::warn!(fallback_version = version, "{message}"),
        None => tracing::error!("{message}"),
    }
    handle.report_trouble(trouble);
    Ok(())
}

/// The newest model version older than `below` whose artifact loads, if any.
/// Each version that does not load is logged with its reason.
async fn load_newest_earlier_model(
    db: &crate::store::Db,
    below: i64,
) -> anyhow::Result<Option<http::ActiveModel>> {
    // Newest first, every version (no page bound: this is start-up, not a request).
    for record in store::models::list_models(db, i64::MAX, 0).await? {
        if record.version >= below {
            continue;
        }
        let Some(artifact) = store::models::model_artifact(db, &record.id).await? else {
            continue;
        };
        let (id, version) = (record.id.clone(), record.version);
        match http::models::load_off_executor(record, artifact).await {
            Ok(loaded) => return Ok(Some(loaded)),
            Err(err) => {
                tracing::warn!(model_id = %id, version, reason = %err, "an earlier model version does not load either")
            }
        }
    }
    Ok(None)
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM (what `docker stop` and
/// orchestrators send).
async fn os_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handling available: never resolve from here.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
