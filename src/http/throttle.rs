//! Throttling of failed credentials, per client address, so that the admin
//! token and the API keys cannot be guessed at speed. Two throttles count
//! separately: failed admin sign-ins (`POST /api/v1/session` with a wrong
//! token) and bearer / `X-Api-Key` secrets that match nothing we know.
//!
//! Each allows `ESSAY_GRADER_AUTH_FAILURE_LIMIT` failures per
//! `ESSAY_GRADER_AUTH_FAILURE_WINDOW_SECS` from one address (a GCRA bucket
//! of that size, refilled evenly over the window). The failure that finds
//! the bucket empty blocks the address until a cell is free again: while
//! blocked, every attempt of that kind is answered 429 with `Retry-After`
//! *before* its secret is checked, so a guess made then cannot succeed, even
//! a right one. Requests that present no secret are not affected, nor are
//! session cookies (random 256-bit values, not guessable, and a browser
//! with an expired one should not be locked out).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::auth::Credentials;
use super::client::ClientIp;
use super::error::ApiError;
use super::rate_limit::KeyedLimiter;

/// Blocked addresses kept before expired entries are dropped.
const BLOCKED_SWEEP_AT: usize = 1024;

/// One kind of credential attempt, throttled per address.
pub struct Throttle {
    /// What is throttled, for the 429's message, e.g. `admin sign-ins`.
    what: &'static str,
    /// Counts failures per address.
    failures: KeyedLimiter<IpAddr>,
    /// Addresses that used up their failures, and until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl Throttle {
    /// `limit` failures per `window` from one address.
    pub fn new(what: &'static str, limit: NonZeroU32, window: Duration) -> Self {
        Self {
            what,
            failures: KeyedLimiter::new(limit, window, limit),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// 429 when `client` is blocked; call it before checking a secret.
    pub fn refuse_if_blocked(&self, client: ClientIp) -> Result<(), ApiError> {
        let mut blocked = self
            .blocked
            .lock()
            .expect("the throttle lock is not poisoned");
        let now = Instant::now();
        match blocked.get(&client.0) {
            Some(&until) if until > now => Err(self.refusal(until - now)),
            Some(_) => {
                blocked.remove(&client.0);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records a failed attempt of `client`: returns `refusal` (the 401) while
    /// it has failures left, else blocks it and returns a 429.
    pub fn record_failure(&self, client: ClientIp, refusal: ApiError) -> ApiError {
        let Err(wait) = self.failures.check(&client.0) else {
            return refusal;
        };
        let mut blocked = self
            .blocked
            .lock()
            .expect("the throttle lock is not poisoned");
        let now = Instant::now();
        if blocked.len() >= BLOCKED_SWEEP_AT {
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(client.0, now + wait);
        tracing::warn!(client = %client.0, what = self.what, retry_after_ms = wait.as_millis() as u64,
            "credential attempts throttled");
        metrics::counter!("auth_throttled_total", "kind" => self.what).increment(1);
        self.refusal(wait)
    }

    fn refusal(&self, wait: Duration) -> ApiError {
        ApiError::TooManyRequests {
            code: "too_many_failed_attempts",
            message: format!(
                "too many failed {} from this address; wait for the number of seconds in Retry-After",
                self.what
            ),
            retry_after: wait,
        }
    }
}

/// The two throttles of the service.
pub struct AuthThrottle {
    /// `POST /api/v1/session` with a wrong admin token.
    pub sign_ins: Throttle,
    /// A bearer or `X-Api-Key` secret that is neither the admin token nor an API key.
    pub credentials: Throttle,
}

impl AuthThrottle {
    /// Both throttles with the same limit and window.
    pub fn new(limit: NonZeroU32, window: Duration) -> Self {
        Self {
            sign_ins: Throttle::new("admin sign-ins", limit, window),
            credentials: Throttle::new("bearer or API-key attempts", limit, window),
        }
    }

    /// Before a request's bearer or API-key secret is checked: 429 when its
    /// address is blocked and it presents one.
    pub fn before_secret(&self, client: ClientIp, presented: Option<&str>) -> Result<(), ApiError> {
        match presented {
            Some(_) => self.credentials.refuse_if_blocked(client),
            None => Ok(()),
        }
    }

    /// After a request was refused: counts the failure when it presented a
    /// secret we do not know (a key that is merely not enough for this
    /// route is no guess), and answers the refusal or a 429.
    pub fn after_refusal(
        &self,
        client: ClientIp,
        presented: Option<&str>,
        credentials: &Credentials,
        refusal: ApiError,
    ) -> ApiError {
        match presented {
            Some(secret) if !credentials.knows(secret) => {
                self.credentials.record_failure(client, refusal)
            }
            _ => refusal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unauthorized() -> ApiError {
        ApiError::Unauthorized {
            message: "wrong".to_owned(),
        }
    }

    fn client(last: u8) -> ClientIp {
        ClientIp(IpAddr::from([198, 51, 100, last]))
    }

    #[test]
    fn failures_past_the_limit_block_the_address_until_the_wait_is_over() {
        let throttle = Throttle::new(
            "tests",
            NonZeroU32::new(2).unwrap(),
            Duration::from_millis(200),
        );

        assert!(matches!(
            throttle.record_failure(client(1), unauthorized()),
            ApiError::Unauthorized { .. }
        ));
        assert!(matches!(
            throttle.record_failure(client(1), unauthorized()),
            ApiError::Unauthorized { .. }
        ));
        let third = throttle.record_failure(client(1), unauthorized());

        assert!(
            matches!(third, ApiError::TooManyRequests { .. }),
            "{third:?}"
        );
        assert!(throttle.refuse_if_blocked(client(1)).is_err());
        assert!(throttle.refuse_if_blocked(client(2)).is_ok());
        std::thread::sleep(Duration::from_millis(150));
        assert!(throttle.refuse_if_blocked(client(1)).is_ok());
    }

    #[test]
    fn the_two_kinds_of_attempt_are_counted_apart() {
        let throttle = AuthThrottle::new(NonZeroU32::MIN, Duration::from_secs(60));

        throttle.sign_ins.record_failure(client(1), unauthorized());
        let blocked = throttle.sign_ins.record_failure(client(1), unauthorized());

        assert!(matches!(blocked, ApiError::TooManyRequests { .. }));
        assert!(throttle.credentials.refuse_if_blocked(client(1)).is_ok());
        assert!(matches!(
            throttle
                .credentials
                .record_failure(client(1), unauthorized()),
            ApiError::Unauthorized { .. }
        ));
    }
}
