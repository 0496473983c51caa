//! Rate limiting per client: a keyed GCRA limiter (the `governor` crate)
//! applied to every request by the [`limit_rate`] middleware, and the
//! [`KeyedLimiter`] wrapper that the credential throttle reuses.
//!
//! The client is the API key it presents (so one school's integration is
//! limited as one client wherever its requests come from), the admin token,
//! or else its IP address (see `client.rs`). A key that is not one of ours
//! counts as no key, so inventing keys does not buy fresh buckets. Loopback
//! clients are not limited unless `ESSAY_GRADER_RATE_LIMIT_LOOPBACK` is set:
//! on one machine, the operator's own scripts and health checks are not the
//! abuse this guards against. Over the limit the answer is 429 with
//! `Retry-After` and the JSON error shape.
//!
//! The state lives in this process: with several replicas behind a load
//! balancer, a client may get up to the limit from each.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::AppState;
use super::auth;
use super::client::ClientIp;
use super::error::ApiError;

/// How many checks pass between two sweeps of idle keys. The sweep drops
/// every key whose bucket is full again, so the map holds only clients seen
/// within about one refill period, however many addresses pass by.
const SWEEP_EVERY: u64 = 4096;

/// A keyed GCRA limiter whose map of keys stays bounded.
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// At most `burst` cells at once, refilled at `per_period` cells per
    /// `period` (both at least 1; `Settings::validate` makes sure).
    pub fn new(per_period: NonZeroU32, period: Duration, burst: NonZeroU32) -> Self {
        let refill = period / per_period.get();
        let quota = Quota::with_period(refill.max(Duration::from_nanos(1)))
            .expect("a positive refill period")
            .allow_burst(burst);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one cell of `key`'s bucket, or says how long until one is free.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Keys with a bucket that is not full (for tests of the sweep).
    pub fn tracked_keys(&self) -> usize {
        self.limiter.len()
    }
}

/// Whose bucket a request takes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// One of the configured API keys, by its digest.
    ApiKey([u8; 32]),
    /// The admin token.
    Admin,
    /// No valid key: the client's address.
    Ip(IpAddr),
}

/// The per-client request limiter of the service.
pub struct RateLimiter {
    /// `None` when rate limiting is off (`ESSAY_GRADER_RATE_LIMIT_PER_MINUTE=0`).
    limiter: Option<KeyedLimiter<RateKey>>,
    /// Whether loopback clients are limited too.
    limit_loopback: bool,
}

impl RateLimiter {
    /// `per_minute` requests a minute in the long run, with bursts of up to
    /// `burst`; 0 per minute turns limiting off.
    pub fn new(per_minute: u32, burst: u32, limit_loopback: bool) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|per_minute| {
            KeyedLimiter::new(
                per_minute,
                Duration::from_secs(60),
                NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
            )
        });
        Self {
            limiter,
            limit_loopback,
        }
    }

    /// Whether a request of `client`, presenting `secret`, may go on now.
    pub fn admit(
        &self,
        client: ClientIp,
        secret: Option<&str>,
        credentials: &auth::Credentials,
    ) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if client.is_loopback() && !self.limit_loopback {
            return Ok(());
        }
        let key = match secret {
            Some(secret) if credentials.is_admin_token(secret) => RateKey::Admin,
            Some(secret) if credentials.is_api_key(secret) => RateKey::ApiKey(auth::digest(secret)),
            _ => RateKey::Ip(client.0),
        };
        limiter
            .check(&key)
            .map_err(|wait| ApiError::TooManyRequests {
                code: "rate_limited",
                message: "too many requests from this client; slow down and retry after the \
                      number of seconds in Retry-After"
                    .to_owned(),
                retry_after: wait,
            })
    }
}

/// Middleware: refuses a request over its client's rate with 429.
pub async fn limit_rate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let client = ClientIp::of(req.extensions());
    let secret = auth::presented_secret(req.headers());
    if let Err(refusal) = state.rate_limiter.admit(client, secret, &state.credentials) {
        metrics::counter!("http_rate_limited_total").increment(1);
        return refusal.into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> auth::Credentials {
        auth::Credentials {
            admin: auth::digest("admin-token-for-tests"),
            api_keys: vec![auth::digest("school-key-0001")],
        }
    }

    fn remote(last: u8) -> ClientIp {
        ClientIp(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn a_client_over_its_burst_is_refused_with_the_wait() {
        let limiter = RateLimiter::new(60, 2, false);
        let creds = credentials();

        assert!(limiter.admit(remote(1), None, &creds).is_ok());
        assert!(limiter.admit(remote(1), None, &creds).is_ok());
        let refused = limiter.admit(remote(1), None, &creds).unwrap_err();

        let ApiError::TooManyRequests { retry_after, .. } = refused else {
            panic!("a 429, got {refused:?}");
        };
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1));
        // Another address has its own bucket.
        assert!(limiter.admit(remote(2), None, &creds).is_ok());
    }

    #[test]
    fn an_api_key_is_one_client_wherever_it_calls_from() {
        let limiter = RateLimiter::new(60, 1, false);
        let creds = credentials();

        assert!(
            limiter
                .admit(remote(1), Some("school-key-0001"), &creds)
                .is_ok()
        );

        assert!(
            limiter
                .admit(remote(2), Some("school-key-0001"), &creds)
                .is_err()
        );
        assert!(limiter.admit(remote(2), None, &creds).is_ok());
    }

    #[test]
    fn an_unknown_key_is_limited_by_address_so_inventing_keys_does_not_help() {
        let limiter = RateLimiter::new(60, 1, false);
        let creds = credentials();

        assert!(limiter.admit(remote(1), Some("made-up-1"), &creds).is_ok());

        assert!(limiter.admit(remote(1), Some("made-up-2"), &creds).is_err());
    }

    #[test]
    fn loopback_clients_are_exempt_unless_configured_otherwise() {
        let creds = credentials();
        let loopback = ClientIp(IpAddr::from([127, 0, 0, 1]));
        let exempting = RateLimiter::new(60, 1, false);
        let limiting = RateLimiter::new(60, 1, true);

        for _ in 0..5 {
            assert!(exempting.admit(loopback, None, &creds).is_ok());
        }
        assert!(limiting.admit(loopback, None, &creds).is_ok());
        assert!(limiting.admit(loopback, None, &creds).is_err());
    }

    #[test]
    fn zero_per_minute_turns_limiting_off() {
        let limiter = RateLimiter::new(0, 1, true);
        for _ in 0..5 {
            assert!(limiter.admit(remote(1), None, &credentials()).is_ok());
        }
    }

    #[test]
    fn idle_clients_are_swept_from_the_map() {
        // A fast refill, so that every bucket is full again by the sweep.
        let limiter = KeyedLimiter::<u64>::new(
            NonZeroU32::new(1000).unwrap(),
            Duration::from_millis(1),
            NonZeroU32::MIN,
        );
        for key in 0..SWEEP_EVERY - 1 {
            limiter.check(&key).unwrap();
        }
        assert_eq!(limiter.tracked_keys(), (SWEEP_EVERY - 1) as usize);
        std::thread::sleep(Duration::from_millis(5));

        limiter.check(&u64::MAX).unwrap();

        assert!(limiter.tracked_keys() <= 1, "{}", limiter.tracked_keys());
    }
}
