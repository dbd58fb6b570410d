//! Queries to the external policy engine: one POST of the object, retried with exponential backoff, and the
//! decision it answers.

use std::{collections::BTreeMap, error::Error as _, time::Duration};

use reqwest::{Client, StatusCode, header};
use serde::Deserialize;
use serde_json::Value;

use super::kubeconfig::{Credentials, Endpoint};

/// How long one query may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Queries in all, the first included (kube's webhook backoff: 5 steps).
pub const MAX_ATTEMPTS: u32 = 5;
/// Growth of the delay between attempts.
const BACKOFF_FACTOR: f64 = 1.5;
/// Up to this fraction of the delay is added at random.
const BACKOFF_JITTER: f64 = 0.2;
/// The largest decision read (a decision is a few annotations).
const MAX_DECISION_BYTES: usize = 4 << 20;

/// The engine's answer: `{"errors": [...], "annotations": {...}}`, both optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Decision {
    /// Why the object is rejected; empty: admitted.
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<String>,
    /// Annotations to set on the object (they win over the object's own).
    #[serde(default, deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
}

impl Decision {
    /// v1's rejection message, `reason(s): e1; e2`, or `None` when the decision admits the object.
    #[must_use]
    pub fn rejection(&self) -> Option<String> {
        (!self.errors.is_empty()).then(|| format!("reason(s): {}", self.errors.join("; ")))
    }

    /// Parses a response body. `null` is an empty decision (as Go decodes it).
    ///
    /// # Errors
    /// The body is not JSON, or not an object with a list of strings `errors` and a string map
    /// `annotations`.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| format!("policy engine returned an invalid decision: {e}"))?;
        match value {
            Value::Null => Ok(Self::default()),
            Value::Object(_) => serde_json::from_value(value)
                .map_err(|e| format!("policy engine returned an invalid decision: {e}")),
            other => Err(format!(
                "policy engine returned an invalid decision: expected a JSON object, got {other}"
            )),
        }
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The policy engine: one HTTP client for the kubeconfig's endpoint.
#[derive(Debug, Clone)]
pub struct PolicyEngine {
    client: Client,
    endpoint: Endpoint,
    retry_backoff: Duration,
}

/// The outcome of one attempt.
enum Attempt {
    Done(Decision),
    /// Worth another attempt (connection failure, 5xx, 429); the message if it stays so.
    Transient(String),
    /// Final failure.
    Failed(String),
}

impl PolicyEngine {
    /// A client for `endpoint` (rustls; the kubeconfig's CA only when it gives one, else the built-in web
    /// roots; its client certificate) with [`REQUEST_TIMEOUT`], retrying after `retry_backoff`, then 1.5×
    /// longer each time.
    ///
    /// # Errors
    /// An invalid CA bundle or client certificate/key.
    pub fn new(endpoint: Endpoint, retry_backoff: Duration) -> Result<Self, String> {
        let mut builder = Client::builder()
            .use_rustls_tls()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(ca) = &endpoint.ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(ca)
                .map_err(|e| format!("invalid certificate-authority: {}", chain(&e)))?;
            if certificates.is_empty() {
                return Err("invalid certificate-authority: no PEM certificate found".to_owned());
            }
            builder = builder.tls_built_in_root_certs(false);
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if endpoint.insecure_skip_tls_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if let Some(identity) = &endpoint.client_identity_pem {
            // The error never quotes the key.
            let identity = reqwest::Identity::from_pem(identity)
                .map_err(|e| format!("invalid client-certificate or client-key: {}", chain(&e)))?;
            builder = builder.identity(identity);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the policy engine client: {}", chain(&e)))?;
        Ok(Self {
            client,
            endpoint,
            retry_backoff,
        })
    }

    /// The URL queries go to, without credentials (for logs).
    #[must_use]
    pub fn url(&self) -> String {
        super::kubeconfig::redacted(&self.endpoint.server)
    }

    /// POSTs `object` (JSON) to the engine and returns its decision. Connection failures, 5xx and 429 are
    /// retried, [`MAX_ATTEMPTS`] queries in all, waiting the retry backoff (plus up to 20%) and 1.5× longer
    /// each time.
    ///
    /// # Errors
    /// The reason the object is rejected: `policy decision is undefined` on 404; the HTTP status (and the
    /// start of the body) on another non-2xx answer; the connection error; an invalid decision.
    pub async fn query(&self, object: &Value) -> Result<Decision, String> {
        let body = serde_json::to_vec(object).map_err(|e| format!("cannot encode the object: {e}"))?;
        let mut delay = self.retry_backoff;
        let mut attempt = 1;
        loop {
            match self.attempt(&body).await {
                Attempt::Done(decision) => return Ok(decision),
                Attempt::Failed(why) => return Err(why),
                Attempt::Transient(why) if attempt >= MAX_ATTEMPTS => return Err(why),
                Attempt::Transient(why) => {
                    tracing::debug!(
                        url = %self.url(),
                        attempt,
                        error = %why,
                        "policy engine query failed; retrying"
                    );
                    tokio::time::sleep(jittered(delay)).await;
                    delay = delay.mul_f64(BACKOFF_FACTOR);
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(&self, body: &[u8]) -> Attempt {
        let mut request = self
            .client
            .post(self.endpoint.server.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(body.to_vec());
        request = match &self.endpoint.credentials {
            Credentials::None => request,
            Credentials::Bearer(token) => request.bearer_auth(token),
            Credentials::Basic { username, password } => request.basic_auth(username, Some(password)),
        };
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let why = format!("policy engine query failed: {}", chain(&e));
                return if e.is_connect() || (e.is_request() && !e.is_timeout()) {
                    Attempt::Transient(why)
                } else {
                    Attempt::Failed(why)
                };
            }
        };
        let status = response.status();
        let body = match read_capped(&mut response).await {
            Ok(body) => body,
            Err(why) if status.is_success() => return Attempt::Failed(why),
            Err(_) => Vec::new(),
        };
        if status.is_success() {
            return match Decision::parse(&body) {
                Ok(decision) => Attempt::Done(decision),
                Err(why) => Attempt::Failed(why),
            };
        }
        if status == StatusCode::NOT_FOUND {
            return Attempt::Failed("policy decision is undefined".to_owned());
        }
        let mut why = format!("policy engine answered HTTP {status}");
        let text = String::from_utf8_lossy(&body);
        let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.is_empty() {
            why.push_str(": ");
            why.extend(text.chars().take(200));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Attempt::Transient(why)
        } else {
            Attempt::Failed(why)
        }
    }
}

/// The body, at most [`MAX_DECISION_BYTES`].
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("cannot read the policy engine's answer: {}", chain(&e)))?
    {
        if body.len() + chunk.len() > MAX_DECISION_BYTES {
            return Err(format!(
                "the policy engine's answer is larger than {MAX_DECISION_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `delay` plus up to [`BACKOFF_JITTER`] of it (apimachinery's `wait.Jitter`).
fn jittered(delay: Duration) -> Duration {
    delay.mul_f64(1.0 + BACKOFF_JITTER * rand::random::<f64>())
}

/// A reqwest error and its causes on one line, without the URL (which may carry credentials).
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn decisions_parse_like_v1() {
        assert_eq!(Decision::parse(b"{}"), Ok(Decision::default()));
        assert_eq!(Decision::parse(b"null"), Ok(Decision::default()));
        assert_eq!(
            Decision::parse(br#"{"errors": null, "annotations": null, "other": 1}"#),
            Ok(Decision::default())
        );
        let decision = Decision::parse(br#"{"errors": ["a", "b"], "annotations": {"k": "v"}}"#).unwrap();
        assert_eq!(decision.rejection().as_deref(), Some("reason(s): a; b"));
        assert_eq!(decision.annotations.get("k").map(String::as_str), Some("v"));
        assert_eq!(Decision::default().rejection(), None);
        for bad in [
            &b"{"[..],
            b"",
            b"true",
            b"[]",
            br#"{"errors": "x"}"#,
            br#"{"annotations": {"k": 1}}"#,
        ] {
            let err = Decision::parse(bad).unwrap_err();
            assert!(
                err.starts_with("policy engine returned an invalid decision"),
                "{err}"
            );
        }
    }

    #[test]
    fn jitter_adds_at_most_a_fifth() {
        for _ in 0..100 {
            let d = jittered(Duration::from_millis(100));
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(120),
                "{d:?}"
            );
        }
    }

    fn endpoint(server: &str) -> Endpoint {
        Endpoint {
            server: reqwest::Url::parse(server).unwrap(),
            ca_pem: None,
            insecure_skip_tls_verify: false,
            credentials: Credentials::None,
            client_identity_pem: None,
        }
    }

    #[test]
    fn clients_take_the_kubeconfig_tls_material() {
        let ca = rcgen::generate_simple_self_signed(vec!["engine".to_owned()]).unwrap();
        let client = rcgen::generate_simple_self_signed(vec!["apiserver".to_owned()]).unwrap();
        let mut with_tls = endpoint("https://engine:8443/decide");
        with_tls.ca_pem = Some(ca.cert.pem().into_bytes());
        with_tls.client_identity_pem =
            Some(format!("{}\n{}", client.cert.pem(), client.signing_key.serialize_pem()).into_bytes());
        assert!(PolicyEngine::new(with_tls.clone(), Duration::from_millis(1)).is_ok());

        let mut bad_ca = with_tls.clone();
        bad_ca.ca_pem = Some(b"not a certificate".to_vec());
        assert!(
            PolicyEngine::new(bad_ca, Duration::from_millis(1))
                .unwrap_err()
                .contains("certificate-authority")
        );

        let key = client.signing_key.serialize_pem();
        let mut bad_identity = with_tls;
        bad_identity.client_identity_pem = Some(key.clone().into_bytes());
        let err = PolicyEngine::new(bad_identity, Duration::from_millis(1)).unwrap_err();
        assert!(err.contains("client-certificate"), "{err}");
        assert!(!err.contains(key.trim()), "{err}");
    }

    #[tokio::test]
    async fn a_closed_port_is_retried_then_reported() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let engine = PolicyEngine::new(
            endpoint(&format!("http://{address}/decide")),
            Duration::from_millis(1),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let err = engine.query(&json!({"kind": "ConfigMap"})).await.unwrap_err();
        assert!(err.starts_with("policy engine query failed"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
