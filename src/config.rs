//! Every setting of the service, read from a command-line flag or an
//! environment variable (the flag wins), each documented so that
//! `essay-grader serve --help` is the full reference. Nothing else in the
//! crate reads the environment.
//!
//! `Settings::default()` equals what `serve` with no flags and no environment
//! gives; the tests start from it and change what they need.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The settings of `essay-grader serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address and port to listen on. Port 0 picks a free port (the tests use it).
    #[arg(long, env = "ESSAY_GRADER_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Database URL. `sqlite://path/file.db`: an embedded SQLite file, created
    /// (with its folder) and migrated on start. `postgres://user:password@host:port/db`:
    /// a PostgreSQL server, migrated on start, which several replicas may
    /// share. Any other scheme is refused at start-up.
    #[arg(
        long,
        env = "ESSAY_GRADER_DATABASE",
        default_value = "sqlite://data/essay-grader.db"
    )]
    pub database: DatabaseUrl,

    /// A model artifact to register as version 1 when the database has no
    /// model, instead of the default model built into the binary.
    #[arg(long, env = "ESSAY_GRADER_DEFAULT_MODEL", value_name = "FILE")]
    pub default_model: Option<PathBuf>,

    /// Number of training-job workers (jobs run one at a time per worker).
    #[arg(long, env = "ESSAY_GRADER_WORKERS", default_value_t = 1)]
    pub workers: usize,

    /// Seconds a claimed training job stays leased to its worker without a
    /// heartbeat (renewed every second). When a worker dies, any process
    /// sharing the database reruns its job this long after its last heartbeat.
    #[arg(
        long,
        env = "ESSAY_GRADER_JOB_LEASE_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(3..=3600)
    )]
    pub job_lease_secs: u64,

    // -- secrets and sessions (security) --
    /// Admin token for the administration API, at least 16 characters. When
    /// neither it nor --admin-token-file is set, a token is generated on first
    /// start, printed once to stderr, and only its hash is stored. Changing it
    /// ends every admin session.
    #[arg(
        long,
        env = "ESSAY_GRADER_ADMIN_TOKEN",
        hide_env_values = true,
        conflicts_with = "admin_token_file"
    )]
    pub admin_token: Option<Secret>,

    /// A file holding the admin token (e.g. a Docker secret under
    /// /run/secrets/); surrounding whitespace and the trailing newline are
    /// dropped.
    #[arg(long, env = "ESSAY_GRADER_ADMIN_TOKEN_FILE", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// API keys for grading and prompts, comma-separated, each at least 16
    /// characters. When set, those endpoints require `Authorization: Bearer
    /// <key>` (or `X-Api-Key: <key>`, or admin credentials); when unset they
    /// are open.
    #[arg(
        long = "api-keys",
        env = "ESSAY_GRADER_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true,
        conflicts_with = "api_keys_file"
    )]
    pub api_keys: Vec<Secret>,

    /// A file holding the API keys, one per line (e.g. a Docker secret);
    /// blank lines and lines starting with `#` are skipped.
    #[arg(long, env = "ESSAY_GRADER_API_KEYS_FILE", value_name = "FILE")]
    pub api_keys_file: Option<PathBuf>,

    /// The service is reached over HTTPS (a TLS proxy in front): the session
    /// cookie becomes `__Host-essay_grader_session` and is marked `Secure`,
    /// so a browser never sends it over plain HTTP.
    #[arg(long, env = "ESSAY_GRADER_BEHIND_TLS")]
    pub behind_tls: bool,

    /// Hours an admin session cookie stays valid.
    #[arg(long, env = "ESSAY_GRADER_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u64,
    // -- end of secrets and sessions --
    /// Largest body of a single-essay request (grading, prompts), in bytes.
    #[arg(long, env = "ESSAY_GRADER_GRADE_BODY_LIMIT", default_value_t = 100 * 1024)]
    pub grade_body_limit: usize,

    /// Largest body of a batch grading request, in bytes.
    #[arg(long, env = "ESSAY_GRADER_BATCH_BODY_LIMIT", default_value_t = 16 * 1024 * 1024)]
    pub batch_body_limit: usize,

    /// Largest body of a dataset upload, in bytes.
    #[arg(long, env = "ESSAY_GRADER_UPLOAD_BODY_LIMIT", default_value_t = 64 * 1024 * 1024)]
    pub upload_body_limit: usize,

    /// Most essays in one batch grading request.
    #[arg(long, env = "ESSAY_GRADER_BATCH_MAX_ITEMS", default_value_t = 1000)]
    pub batch_max_items: usize,

    /// Seconds a request may take before it is answered with 408.
    #[arg(long, env = "ESSAY_GRADER_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Maximum number of database connections in the pool.
    #[arg(long, env = "ESSAY_GRADER_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,

    /// Write logs as JSON lines instead of human-readable text.
    #[arg(long, env = "ESSAY_GRADER_LOG_JSON")]
    pub log_json: bool,

    /// Log filter in tracing's EnvFilter syntax, e.g. `info,sqlx=warn`.
    #[arg(long, env = "ESSAY_GRADER_LOG", default_value = "info,sqlx=warn")]
    pub log: String,

    // -- abuse limits (limits): prompts, essays, caches, grading CPU --
    /// Most prompts the service registers; a registration beyond it is
    /// refused with 422 (there is no delete route yet; raise the cap).
    #[arg(long, env = "ESSAY_GRADER_MAX_PROMPTS", default_value_t = 1000)]
    pub max_prompts: usize,

    /// Longest prompt title, in characters (registered and inline prompts).
    #[arg(
        long,
        env = "ESSAY_GRADER_PROMPT_TITLE_MAX_CHARS",
        default_value_t = 300
    )]
    pub prompt_title_max_chars: usize,

    /// Longest prompt question, in characters (registered and inline prompts).
    #[arg(
        long,
        env = "ESSAY_GRADER_PROMPT_QUESTION_MAX_CHARS",
        default_value_t = 2_000
    )]
    pub prompt_question_max_chars: usize,

    /// Longest prompt text, in characters (registered and inline prompts).
    #[arg(
        long,
        env = "ESSAY_GRADER_PROMPT_TEXT_MAX_CHARS",
        default_value_t = 40_000
    )]
    pub prompt_text_max_chars: usize,

    /// Longest essay, in characters (single and batch grading).
    #[arg(long, env = "ESSAY_GRADER_ESSAY_MAX_CHARS", default_value_t = 20_000)]
    pub essay_max_chars: usize,

    /// Memory the prepared registered prompts may take, in bytes (estimated
    /// from their tables). The least recently used are dropped beyond it and
    /// prepared again from the database when next graded against.
    #[arg(long, env = "ESSAY_GRADER_PROMPT_CACHE_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub prompt_cache_bytes: usize,

    /// Memory the prepared inline prompts may take, in bytes (least recently
    /// used dropped first).
    #[arg(long, env = "ESSAY_GRADER_INLINE_PROMPT_CACHE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub inline_prompt_cache_bytes: usize,

    /// Grading requests that may use the CPU at once (single essays, batches,
    /// prompt preparation); 0 means one per core.
    #[arg(long, env = "ESSAY_GRADER_GRADING_SLOTS", default_value_t = 0)]
    pub grading_slots: usize,

    /// Grading requests that may wait for a slot; beyond it the service
    /// answers 503 with `Retry-After` instead of stacking up work.
    #[arg(long, env = "ESSAY_GRADER_GRADING_QUEUE", default_value_t = 256)]
    pub grading_queue: usize,

    // -- admission control: rate limits, credential throttling, admin limits, metrics (admission) --
    /// Requests per minute one client may make in the long run (an API key,
    /// the admin token, or else an IP address); 0 turns rate limiting off.
    #[arg(
        long,
        env = "ESSAY_GRADER_RATE_LIMIT_PER_MINUTE",
        default_value_t = 600
    )]
    pub rate_limit_per_minute: u32,

    /// Requests one client may make at once before the per-minute rate applies.
    #[arg(long, env = "ESSAY_GRADER_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,

    /// Rate-limit loopback clients (127.0.0.0/8, ::1) too; by default they
    /// are exempt.
    #[arg(long, env = "ESSAY_GRADER_RATE_LIMIT_LOOPBACK")]
    pub rate_limit_loopback: bool,

    /// Reverse proxies whose `X-Forwarded-For` is believed, comma-separated
    /// addresses or networks (`10.0.0.2,172.16.0.0/12`). Without it the
    /// client is the socket's peer address.
    #[arg(
        long,
        env = "ESSAY_GRADER_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_trusted_proxy
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Failed admin sign-ins, and separately failed bearer / API-key
    /// attempts, allowed per IP address per window before it gets 429.
    #[arg(long, env = "ESSAY_GRADER_AUTH_FAILURE_LIMIT", default_value_t = 10)]
    pub auth_failure_limit: u32,

    /// The window of `--auth-failure-limit`, in seconds.
    #[arg(
        long,
        env = "ESSAY_GRADER_AUTH_FAILURE_WINDOW_SECS",
        default_value_t = 300
    )]
    pub auth_failure_window_secs: u64,

    /// Most jobs waiting in the queue; another `POST /api/v1/jobs` gets 429.
    #[arg(long, env = "ESSAY_GRADER_MAX_QUEUED_JOBS", default_value_t = 20)]
    pub max_queued_jobs: i64,

    /// Most live job event streams one admin session (or the admin token)
    /// may hold open at once; another gets 429.
    #[arg(long, env = "ESSAY_GRADER_MAX_EVENT_STREAMS", default_value_t = 8)]
    pub max_event_streams: usize,

    /// Most units in one hidden layer of a job's train config.
    #[arg(long, env = "ESSAY_GRADER_MAX_UNITS_PER_LAYER", default_value_t = 512)]
    pub max_units_per_layer: usize,

    /// Most hidden layers of a job's train config.
    #[arg(long, env = "ESSAY_GRADER_MAX_LAYERS", default_value_t = 8)]
    pub max_layers: usize,

    /// Most epochs of a job's train config. Epochs cost time, not memory,
    /// and a running job can be cancelled, so the default is generous.
    #[arg(long, env = "ESSAY_GRADER_MAX_EPOCHS", default_value_t = 100_000)]
    pub max_epochs: usize,

    /// Most ensemble members of a job's train config (64 at most).
    #[arg(long, env = "ESSAY_GRADER_MAX_ENSEMBLE", default_value_t = 32)]
    pub max_ensemble: usize,

    /// Most feature-matrix cells (dataset rows × the config's features) a job may train on.
    #[arg(
        long,
        env = "ESSAY_GRADER_MAX_TRAINING_CELLS",
        default_value_t = 20_000_000
    )]
    pub max_training_cells: u64,

    /// Most runs one sweep job may make (cells, baselines, feature sets and sizes).
    #[arg(long, env = "ESSAY_GRADER_MAX_SWEEP_RUNS", default_value_t = 200)]
    pub max_sweep_runs: usize,

    /// When set, `GET /metrics` needs `Authorization: Bearer <this token>`.
    #[arg(long, env = "ESSAY_GRADER_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,
}

/// A trusted proxy: an address (`10.0.0.2`) or a network (`10.0.0.0/8`).
fn parse_trusted_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(ipnet::IpNet::from(ip));
    }
    text.parse::<ipnet::IpNet>()
        .map_err(|_| format!("`{text}` is neither an IP address nor a network such as 10.0.0.0/8"))
}

impl Default for Settings {
    /// The same values as the flags' defaults (a unit test keeps them equal).
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: DatabaseUrl::from("sqlite://data/essay-grader.db"),
            default_model: None,
            workers: 1,
            job_lease_secs: 30,
            admin_token: None,
            admin_token_file: None,
            api_keys: Vec::new(),
            api_keys_file: None,
            behind_tls: false,
            grade_body_limit: 100 * 1024,
            batch_body_limit: 16 * 1024 * 1024,
            upload_body_limit: 64 * 1024 * 1024,
            batch_max_items: 1000,
            request_timeout_secs: 30,
            session_hours: 12,
            db_max_connections: 8,
            log_json: false,
            log: "info,sqlx=warn".to_owned(),
            max_prompts: 1000,
            prompt_title_max_chars: 300,
            prompt_question_max_chars: 2_000,
            prompt_text_max_chars: 40_000,
            essay_max_chars: 20_000,
            prompt_cache_bytes: 256 * 1024 * 1024,
            inline_prompt_cache_bytes: 64 * 1024 * 1024,
            grading_slots: 0,
            grading_queue: 256,
            rate_limit_per_minute: 600,
            rate_limit_burst: 100,
            rate_limit_loopback: false,
            trusted_proxies: Vec::new(),
            auth_failure_limit: 10,
            auth_failure_window_secs: 300,
            max_queued_jobs: 20,
            max_event_streams: 8,
            max_units_per_layer: 512,
            max_layers: 8,
            max_epochs: 100_000,
            max_ensemble: 32,
            max_training_cells: 20_000_000,
            max_sweep_runs: 200,
            metrics_token: None,
        }
    }
}

impl Settings {
    /// How long a request may run before the service answers 408.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// How long a claimed job stays leased without a heartbeat.
    pub fn job_lease(&self) -> Duration {
        Duration::from_secs(self.job_lease_secs)
    }

    /// How long an admin session lasts.
    pub fn session_lifetime(&self) -> Duration {
        Duration::from_secs(self.session_hours * 3600)
    }

    /// CPU slots for grading: `grading_slots`, or one per core when 0.
    pub fn grading_cpu_slots(&self) -> usize {
        match self.grading_slots {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Checks the abuse limits at start-up, naming every setting that makes
    /// no sense (a zero cap would refuse everything; a cache smaller than the
    /// largest prompt could hold none).
    pub fn check_abuse_limits(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        for (name, value) in [
            ("ESSAY_GRADER_MAX_PROMPTS", self.max_prompts),
            (
                "ESSAY_GRADER_PROMPT_TITLE_MAX_CHARS",
                self.prompt_title_max_chars,
            ),
            (
                "ESSAY_GRADER_PROMPT_QUESTION_MAX_CHARS",
                self.prompt_question_max_chars,
            ),
            (
                "ESSAY_GRADER_PROMPT_TEXT_MAX_CHARS",
                self.prompt_text_max_chars,
            ),
            ("ESSAY_GRADER_ESSAY_MAX_CHARS", self.essay_max_chars),
        ] {
            if value == 0 {
                problems.push(format!("{name} must be at least 1"));
            }
        }
        for (name, value) in [
            ("ESSAY_GRADER_PROMPT_CACHE_BYTES", self.prompt_cache_bytes),
            (
                "ESSAY_GRADER_INLINE_PROMPT_CACHE_BYTES",
                self.inline_prompt_cache_bytes,
            ),
        ] {
            if value < MIN_PROMPT_CACHE_BYTES {
                problems.push(format!(
                    "{name} is {value}; it must be at least {MIN_PROMPT_CACHE_BYTES} (16 MiB) \
                     to hold a prompt of the largest allowed size"
                ));
            }
        }
        if self.grading_slots > 1024 {
            problems.push(format!(
                "ESSAY_GRADER_GRADING_SLOTS is {}; at most 1024",
                self.grading_slots
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("invalid limits: {}", problems.join("; "))
        }
    }

    /// The upper bounds on a job's training config.
    pub fn train_bounds(&self) -> crate::jobs::TrainBounds {
        crate::jobs::TrainBounds {
            max_units_per_layer: self.max_units_per_layer,
            max_layers: self.max_layers,
            max_epochs: self.max_epochs,
            max_ensemble: self.max_ensemble,
            max_training_cells: self.max_training_cells,
            max_sweep_runs: self.max_sweep_runs,
        }
    }

    /// The window of the credential throttles.
    pub fn auth_failure_window(&self) -> Duration {
        Duration::from_secs(self.auth_failure_window_secs)
    }

    /// Checks the admission-control settings, every problem listed: limits
    /// that would refuse everything, and training bounds that would refuse
    /// the default train config.
    pub fn validate_admission(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.rate_limit_per_minute > 0 && self.rate_limit_burst == 0 {
            problems.push(
                "ESSAY_GRADER_RATE_LIMIT_BURST must be at least 1 while rate limiting is on"
                    .to_owned(),
            );
        }
        if self.auth_failure_limit == 0 {
            problems.push("ESSAY_GRADER_AUTH_FAILURE_LIMIT must be at least 1".to_owned());
        }
        if self.auth_failure_window_secs == 0 {
            problems.push("ESSAY_GRADER_AUTH_FAILURE_WINDOW_SECS must be at least 1".to_owned());
        }
        if self.max_queued_jobs < 1 {
            problems.push("ESSAY_GRADER_MAX_QUEUED_JOBS must be at least 1".to_owned());
        }
        if self.max_event_streams == 0 {
            problems.push("ESSAY_GRADER_MAX_EVENT_STREAMS must be at least 1".to_owned());
        }
        if self.max_ensemble > crate::training::config::MAX_ENSEMBLE {
            problems.push(format!(
                "ESSAY_GRADER_MAX_ENSEMBLE must be at most {}",
                crate::training::config::MAX_ENSEMBLE
            ));
        }
        if self.max_sweep_runs == 0 {
            problems.push("ESSAY_GRADER_MAX_SWEEP_RUNS must be at least 1".to_owned());
        }
        let bounds = self.train_bounds();
        for (field, message) in
            bounds.check_config(&crate::training::TrainConfig::default_valid(), "config")
        {
            problems.push(format!(
                "the training bounds refuse the default train config ({field}: {message}); raise the bound"
            ));
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.expose().trim().chars().count() < MIN_SECRET_CHARS)
        {
            problems.push(format!(
                "ESSAY_GRADER_METRICS_TOKEN must be at least {MIN_SECRET_CHARS} characters (a short token can be guessed)"
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The smallest prompt cache accepted: a prompt of the default largest text
/// prepares to a few megabytes (see `features::PreparedPrompt::heap_bytes`).
pub const MIN_PROMPT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// The fewest characters an admin token or API key may have: 16 random
/// characters are beyond guessing through a rate-limited API.
pub const MIN_SECRET_CHARS: usize = 16;

/// A credential (admin token, API key) held in memory. Its `Debug` never
/// shows the value, so `Settings` can be logged or printed in a panic
/// message without leaking it; only [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential in clear, for hashing it: never log what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

/// A database URL. It may carry a PostgreSQL password, so its `Debug` shows
/// it with the password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl std::ops::Deref for DatabaseUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for DatabaseUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", crate::store::redact(&self.0))
    }
}

/// The credentials the service runs with, read from the settings or from
/// their files, trimmed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    /// The admin token; `None` lets start-up use the stored (or a new,
    /// generated) one.
    pub admin_token: Option<Secret>,
    /// The API keys; empty means grading is open.
    pub api_keys: Vec<Secret>,
}

/// Why the configured credentials were refused at start-up. The messages
/// name the setting and the file, never the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// A secret file could not be read.
    #[error("{setting}: cannot read {}: {source}", path.display())]
    Unreadable {
        /// The setting naming the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A secret file holds nothing.
    #[error("{setting}: {} is empty", path.display())]
    EmptyFile {
        /// The setting naming the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A secret is too short to resist guessing.
    #[error(
        "{which} is {chars} characters long; it must have at least {MIN_SECRET_CHARS} \
         (generate one with `openssl rand -hex 32`)"
    )]
    TooShort {
        /// Which secret, e.g. `ESSAY_GRADER_API_KEYS: key 2`.
        which: String,
        /// Its length in characters.
        chars: usize,
    },
}

impl Settings {
    /// Reads the admin token and the API keys from the settings or their
    /// files, drops surrounding whitespace (a file's trailing newline) and
    /// blank entries, and refuses any shorter than [`MIN_SECRET_CHARS`].
    /// A blank admin token counts as unset (`ESSAY_GRADER_ADMIN_TOKEN=` from
    /// a compose file): the stored or a generated token is used then.
    pub fn secrets(&self) -> Result<Secrets, SecretsError> {
        let (admin_token, admin_source) = match &self.admin_token_file {
            Some(path) => {
                let text = read_secret_file("ESSAY_GRADER_ADMIN_TOKEN_FILE", path)?;
                (
                    Some(text.trim().to_owned()),
                    "ESSAY_GRADER_ADMIN_TOKEN_FILE",
                )
            }
            None => (
                self.admin_token
                    .as_ref()
                    .map(|t| t.expose().trim().to_owned())
                    .filter(|t| !t.is_empty()),
                "ESSAY_GRADER_ADMIN_TOKEN (--admin-token)",
            ),
        };
        if let Some(token) = &admin_token {
            check_length(admin_source.to_owned(), token)?;
        }

        let (keys, keys_source): (Vec<String>, &str) = match &self.api_keys_file {
            Some(path) => {
                let text = read_secret_file("ESSAY_GRADER_API_KEYS_FILE", path)?;
                let keys = text
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty() && !line.starts_with('#'))
                    .map(str::to_owned)
                    .collect();
                (keys, "ESSAY_GRADER_API_KEYS_FILE")
            }
            None => (
                self.api_keys
                    .iter()
                    .map(|k| k.expose().trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .collect(),
                "ESSAY_GRADER_API_KEYS (--api-keys)",
            ),
        };
        for (i, key) in keys.iter().enumerate() {
            check_length(format!("{keys_source}: key {}", i + 1), key)?;
        }
        Ok(Secrets {
            admin_token: admin_token.map(Secret::new),
            api_keys: keys.into_iter().map(Secret::new).collect(),
        })
    }
}

fn read_secret_file(setting: &'static str, path: &std::path::Path) -> Result<String, SecretsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretsError::Unreadable {
        setting,
        path: path.to_owned(),
        source,
    })?;
    if text.trim().is_empty() {
        return Err(SecretsError::EmptyFile {
            setting,
            path: path.to_owned(),
        });
    }
    Ok(text)
}

fn check_length(which: String, secret: &str) -> Result<(), SecretsError> {
    let chars = secret.chars().count();
    if chars < MIN_SECRET_CHARS {
        return Err(SecretsError::TooShort { which, chars });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn default_settings_equal_the_flag_defaults() {
        // Only meaningful when the environment does not set any of them.
        if std::env::vars()
            .any(|(k, _)| k.starts_with("ESSAY_GRADER_") && k != "ESSAY_GRADER_COMMONLIT")
        {
            eprintln!("skipped: ESSAY_GRADER_* variables are set");
            return;
        }
        let parsed = Wrapper::parse_from(["essay-grader"]).settings;
        assert_eq!(format!("{parsed:?}"), format!("{:?}", Settings::default()));
    }

    #[test]
    fn a_job_lease_shorter_than_three_heartbeats_is_refused() {
        let parsed = Wrapper::try_parse_from(["essay-grader", "--job-lease-secs", "2"]);
        assert!(parsed.is_err());
        let parsed = Wrapper::parse_from(["essay-grader", "--job-lease-secs", "5"]).settings;
        assert_eq!(parsed.job_lease(), Duration::from_secs(5));
    }

    #[test]
    fn zero_caps_and_tiny_caches_are_refused_at_start_up() {
        assert!(Settings::default().check_abuse_limits().is_ok());
        let settings = Settings {
            essay_max_chars: 0,
            prompt_cache_bytes: 1024,
            ..Settings::default()
        };
        let problem = settings.check_abuse_limits().unwrap_err().to_string();
        assert!(
            problem.contains("ESSAY_GRADER_ESSAY_MAX_CHARS"),
            "{problem}"
        );
        assert!(
            problem.contains("ESSAY_GRADER_PROMPT_CACHE_BYTES"),
            "{problem}"
        );
    }

    #[test]
    fn grading_slots_default_to_one_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(Settings::default().grading_cpu_slots(), cores);
        let two = Settings {
            grading_slots: 2,
            ..Settings::default()
        };
        assert_eq!(two.grading_cpu_slots(), 2);
    }

    #[test]
    fn trusted_proxies_take_addresses_and_networks() {
        let parsed = Wrapper::parse_from([
            "essay-grader",
            "--trusted-proxies",
            "10.0.0.2,172.16.0.0/12,::1",
        ])
        .settings;
        let nets: Vec<String> = parsed
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(nets, ["10.0.0.2/32", "172.16.0.0/12", "::1/128"]);
        assert!(Wrapper::try_parse_from(["essay-grader", "--trusted-proxies", "nginx"]).is_err());
    }

    #[test]
    fn the_default_admission_settings_are_valid() {
        assert_eq!(Settings::default().validate_admission(), Ok(()));
    }

    #[test]
    fn admission_settings_that_refuse_everything_are_reported_together() {
        let settings = Settings {
            auth_failure_limit: 0,
            max_queued_jobs: 0,
            max_epochs: 1,
            ..Settings::default()
        };

        let problems = settings.validate_admission().unwrap_err();

        assert!(
            problems.contains("ESSAY_GRADER_AUTH_FAILURE_LIMIT"),
            "{problems}"
        );
        assert!(
            problems.contains("ESSAY_GRADER_MAX_QUEUED_JOBS"),
            "{problems}"
        );
        assert!(problems.contains("config.epochs"), "{problems}");
    }

    #[test]
    fn api_keys_are_split_on_commas() {
        let parsed = Wrapper::parse_from(["essay-grader", "--api-keys", "a,b"]).settings;
        assert_eq!(parsed.api_keys, vec![Secret::new("a"), Secret::new("b")]);
    }

    const TOKEN: &str = "admin-token-0123456789";
    const KEY_1: &str = "grading-key-0000000001";
    const KEY_2: &str = "grading-key-0000000002";

    #[test]
    fn debug_output_of_the_settings_shows_no_secret() {
        let settings = Settings {
            admin_token: Some(Secret::new(TOKEN)),
            api_keys: vec![Secret::new(KEY_1)],
            metrics_token: Some(Secret::new("metrics-token-31337")),
            database: DatabaseUrl::from("postgres://eg:db-password-42@db:5432/eg"),
            ..Settings::default()
        };
        let shown = format!("{settings:?} {settings:#?}");
        for secret in [TOKEN, KEY_1, "db-password-42", "metrics-token-31337"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("postgres://eg:***@db:5432/eg"), "{shown}");
    }

    #[test]
    fn secrets_are_read_from_files_without_the_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("admin_token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
        let keys_file = dir.path().join("api_keys");
        std::fs::write(&keys_file, format!("# teachers\n{KEY_1}\n\n  {KEY_2}\r\n")).unwrap();
        let settings = Wrapper::parse_from([
            "essay-grader".as_ref(),
            "--admin-token-file".as_ref(),
            token_file.as_os_str(),
            "--api-keys-file".as_ref(),
            keys_file.as_os_str(),
        ])
        .settings;
        let secrets = settings.secrets().unwrap();
        assert_eq!(secrets.admin_token, Some(Secret::new(TOKEN)));
        assert_eq!(
            secrets.api_keys,
            vec![Secret::new(KEY_1), Secret::new(KEY_2)]
        );
    }

    #[test]
    fn a_token_and_a_token_file_together_are_refused() {
        let parsed = Wrapper::try_parse_from([
            "essay-grader",
            "--admin-token",
            TOKEN,
            "--admin-token-file",
            "/run/secrets/admin_token",
        ]);
        assert!(parsed.is_err());
    }

    #[test]
    fn a_short_admin_token_is_refused_without_showing_it() {
        let settings = Settings {
            admin_token: Some(Secret::new("short-token")),
            ..Settings::default()
        };
        let err = settings.secrets().unwrap_err().to_string();
        assert!(err.contains("ESSAY_GRADER_ADMIN_TOKEN"), "{err}");
        assert!(err.contains("11 characters"), "{err}");
        assert!(err.contains("at least 16"), "{err}");
        assert!(!err.contains("short-token"), "{err}");
    }

    #[test]
    fn a_short_api_key_is_refused_naming_which_one() {
        let settings = Settings {
            api_keys: vec![Secret::new(KEY_1), Secret::new("k2")],
            ..Settings::default()
        };
        let err = settings.secrets().unwrap_err().to_string();
        assert!(err.contains("key 2"), "{err}");
        assert!(!err.contains("k2 "), "{err}");
    }

    #[test]
    fn a_short_key_in_a_file_is_refused_too() {
        let dir = tempfile::tempdir().unwrap();
        let keys_file = dir.path().join("api_keys");
        std::fs::write(&keys_file, format!("{KEY_1}\nabc\n")).unwrap();
        let settings = Settings {
            api_keys_file: Some(keys_file),
            ..Settings::default()
        };
        let err = settings.secrets().unwrap_err().to_string();
        assert!(err.contains("ESSAY_GRADER_API_KEYS_FILE: key 2"), "{err}");
    }

    #[test]
    fn an_empty_or_missing_secret_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let settings = Settings {
            admin_token_file: Some(empty),
            ..Settings::default()
        };
        let err = settings.secrets().unwrap_err().to_string();
        assert!(
            err.contains("ESSAY_GRADER_ADMIN_TOKEN_FILE") && err.contains("empty"),
            "{err}"
        );
        let settings = Settings {
            api_keys_file: Some(dir.path().join("missing")),
            ..Settings::default()
        };
        let err = settings.secrets().unwrap_err().to_string();
        assert!(
            err.contains("cannot read") && err.contains("missing"),
            "{err}"
        );
    }

    #[test]
    fn a_blank_admin_token_counts_as_unset() {
        let settings = Settings {
            admin_token: Some(Secret::new("  ")),
            ..Settings::default()
        };
        assert_eq!(settings.secrets().unwrap().admin_token, None);
    }
}
