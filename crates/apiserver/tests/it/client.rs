//! A small HTTP client for the tests: JSON in, status code and JSON out.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

/// A response: HTTP status and the JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub body: Value,
}

impl Reply {
    /// `metadata.resourceVersion` of the body.
    pub fn rv(&self) -> String {
        self.body["metadata"]["resourceVersion"]
            .as_str()
            .expect("resourceVersion in body")
            .to_owned()
    }

    /// Asserts that the body is a Failure Status with `code` and `reason`.
    pub fn assert_status(&self, code: u16, reason: &str) {
        assert_eq!(self.code, code, "unexpected HTTP code, body: {}", self.body);
        assert_eq!(self.body["kind"], "Status", "body: {}", self.body);
        assert_eq!(self.body["status"], "Failure", "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["reason"], reason, "body: {}", self.body);
    }
}

#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(Duration::from_secs(30));
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("request sent");
        let code = response.status().as_u16();
        let bytes = response.bytes().await.expect("body read");
        Reply {
            code,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(
            "PUT",
            path,
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn merge_patch(&self, path: &str, body: &Value) -> Reply {
        self.send(
            "PATCH",
            path,
            Some("application/merge-patch+json"),
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None, None).await
    }

    /// Opens a watch and returns a reader of its events.
    pub async fn watch(&self, path: &str) -> Watch {
        self.watch_accepting(path, "application/json").await
    }

    /// GET with an `Accept` header.
    pub async fn get_accepting(&self, path: &str, accept: &str) -> Reply {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept", accept)
            .send()
            .await
            .expect("sent");
        let code = response.status().as_u16();
        let bytes = response.bytes().await.expect("body read");
        Reply {
            code,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Opens a watch with an `Accept` header and returns a reader of its events.
    pub async fn watch_accepting(&self, path: &str, accept: &str) -> Watch {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept", accept)
            .send()
            .await
            .expect("watch request sent");
        assert_eq!(response.status().as_u16(), 200, "watch status");
        assert_eq!(response.headers()["content-type"], "application/json");
        Watch {
            stream: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
        }
    }
}

/// The events of one watch response, one JSON object per line.
pub struct Watch {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: Vec<u8>,
}

impl Watch {
    /// The next event, waiting at most 10 s; `None` when the server closed the stream.
    pub async fn next(&mut self) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).expect("each watch line is one JSON object"));
            }
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk.expect("watch chunk")),
                Ok(None) => return None,
                Err(_) => panic!("no watch event within 10 s"),
            }
        }
    }

    /// The next event, asserting its type; returns the object.
    pub async fn expect(&mut self, event_type: &str) -> Value {
        let event = self.next().await.expect("watch ended early");
        assert_eq!(event["type"], event_type, "event: {event}");
        event["object"].clone()
    }
}
