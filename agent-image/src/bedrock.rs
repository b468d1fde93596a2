//! A bounded tool-use conversation with Bedrock's Converse API.
//!
//! Owns: the turn loop (model → tool calls → tool results → model), retries with backoff on
//! throttling and 5xx, and the token and latency totals. Must never: loop without bound.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tracing::Instrument;

use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message, StopReason,
    SystemContentBlock, Tool, ToolConfiguration, ToolInputSchema, ToolResultBlock,
    ToolResultContentBlock, ToolResultStatus, ToolSpecification,
};
use aws_smithy_types::{Document, Number};
use serde_json::Value;

pub fn to_document(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or_default())
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(to_document).collect()),
        Value::Object(o) => Document::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), to_document(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

pub fn to_value(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(a) => Value::Array(a.iter().map(to_value).collect()),
        Document::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), to_value(v))).collect())
        }
    }
}

/// A tool the model may call: name, description, JSON Schema of its input.
#[derive(Debug, Clone)]
pub struct ToolDef {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: Value,
}

/// Why a conversation stopped without an answer.
#[derive(Debug, thiserror::Error)]
pub enum ConverseError {
    /// Throttling or a server error that outlasted the retries: try the task again later.
    #[error("Bedrock {code} after {tries} tries")]
    Retryable { code: String, tries: u32 },
    /// Bad request, access denied, unknown model: retrying will not help.
    #[error("Bedrock refused the request: {code}")]
    Fatal { code: String },
    /// The model kept calling tools past the turn limit.
    #[error("no answer within {0} turns")]
    TurnLimit(usize),
    /// A tool failed in a way that must stop the task (e.g. an integration needs consent).
    #[error("{0}")]
    Tool(anyhow::Error),
}

/// Token and latency totals over a conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub latency_ms: i64,
    pub turns: usize,
}

/// Runs tools the model asks for. Returns the tool's JSON result, or an error the model sees
/// (`Ok(Err(msg))`), or a hard stop (`Err`).
pub type ToolFn<'a> = dyn Fn(
        String,
        Value,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<Result<Value, String>>> + Send + 'a>>
    + Send
    + Sync
    + 'a;

pub struct Conversation<'a> {
    /// For the spans' attributes.
    pub tenant: &'a str,
    pub agent: &'a str,
    pub client: &'a aws_sdk_bedrockruntime::Client,
    pub model: &'a str,
    pub system: &'a str,
    pub tools: &'a [ToolDef],
    pub max_turns: usize,
    pub retry_base: Duration,
    pub max_tries: u32,
}

fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, ConverseError> {
    r.map_err(|e| ConverseError::Fatal {
        code: format!("request build: {e}"),
    })
}

impl Conversation<'_> {
    /// Sends `prompt`, runs tools until the model ends its turn, and returns its final text.
    pub async fn run(
        &self,
        prompt: &str,
        call_tool: &ToolFn<'_>,
    ) -> Result<(String, Usage), ConverseError> {
        let mut usage = Usage::default();
        let mut messages = vec![build(
            Message::builder()
                .role(ConversationRole::User)
                .content(ContentBlock::Text(prompt.to_owned()))
                .build(),
        )?];
        let tools: Vec<Tool> = self
            .tools
            .iter()
            .map(|t| {
                build(
                    ToolSpecification::builder()
                        .name(t.name)
                        .description(t.description)
                        .input_schema(ToolInputSchema::Json(to_document(&t.schema)))
                        .build(),
                )
                .map(Tool::ToolSpec)
            })
            .collect::<Result<_, _>>()?;
        let tool_config = if tools.is_empty() {
            None
        } else {
            Some(build(
                ToolConfiguration::builder().set_tools(Some(tools)).build(),
            )?)
        };
        for turn in 0..self.max_turns {
            usage.turns = turn + 1;
            let started = Instant::now();
            // One span per model call: figures only, never a message's content.
            let span = tracing::info_span!(
                "converse",
                tenant = self.tenant,
                agent = self.agent,
                model = self.model,
                turn = turn + 1,
                input_tokens = tracing::field::Empty,
                output_tokens = tracing::field::Empty,
                stop_reason = tracing::field::Empty,
            );
            let resp = self
                .send(&messages, tool_config.clone())
                .instrument(span.clone())
                .await?;
            span.record("input_tokens", resp.usage().map_or(0, |u| u.input_tokens()));
            span.record(
                "output_tokens",
                resp.usage().map_or(0, |u| u.output_tokens()),
            );
            span.record("stop_reason", resp.stop_reason().as_str());
            if let Some(u) = resp.usage() {
                usage.input_tokens += i64::from(u.input_tokens());
                usage.output_tokens += i64::from(u.output_tokens());
            }
            let latency_ms = resp
                .metrics()
                .map(|m| m.latency_ms())
                .unwrap_or_else(|| started.elapsed().as_millis() as i64);
            usage.latency_ms += latency_ms;
            // Figures only: never a message's content.
            tracing::info!(
                model = self.model,
                turn = turn + 1,
                input_tokens = resp.usage().map_or(0, |u| u.input_tokens()),
                output_tokens = resp.usage().map_or(0, |u| u.output_tokens()),
                latency_ms,
                stop_reason = resp.stop_reason().as_str(),
                "model call"
            );
            let Some(ConverseOutput::Message(msg)) = resp.output() else {
                return Err(ConverseError::Fatal {
                    code: "no message in the response".into(),
                });
            };
            messages.push(msg.clone());
            if resp.stop_reason() != &StopReason::ToolUse {
                let text: Vec<&str> = msg
                    .content()
                    .iter()
                    .filter_map(|c| c.as_text().ok().map(String::as_str))
                    .collect();
                return Ok((text.join("\n"), usage));
            }
            let mut results = Vec::new();
            for block in msg.content() {
                let Ok(tu) = block.as_tool_use() else {
                    continue;
                };
                let input = to_value(tu.input());
                let started = Instant::now();
                // One span per tool call: its name and how it went, never its input or answer.
                let tool_span = tracing::info_span!(
                    "tool",
                    tenant = self.tenant,
                    agent = self.agent,
                    tool = %tu.name().chars().take(64).collect::<String>(),
                    ok = tracing::field::Empty,
                );
                let outcome = call_tool(tu.name().to_owned(), input)
                    .instrument(tool_span.clone())
                    .await;
                tool_span.record("ok", matches!(outcome, Ok(Ok(_))));
                // The tool's name and how it went: never its input or its answer.
                tracing::info!(
                    tool = %tu.name().chars().take(64).collect::<String>(),
                    ok = matches!(outcome, Ok(Ok(_))),
                    latency_ms = started.elapsed().as_millis() as u64,
                    "tool call"
                );
                let outcome = outcome.map_err(ConverseError::Tool)?;
                let (content, status) = match outcome {
                    Ok(v) => (
                        ToolResultContentBlock::Json(to_document(&v)),
                        ToolResultStatus::Success,
                    ),
                    Err(msg) => (ToolResultContentBlock::Text(msg), ToolResultStatus::Error),
                };
                results.push(ContentBlock::ToolResult(build(
                    ToolResultBlock::builder()
                        .tool_use_id(tu.tool_use_id())
                        .content(content)
                        .status(status)
                        .build(),
                )?));
            }
            messages.push(build(
                Message::builder()
                    .role(ConversationRole::User)
                    .set_content(Some(results))
                    .build(),
            )?);
        }
        Err(ConverseError::TurnLimit(self.max_turns))
    }

    async fn send(
        &self,
        messages: &[Message],
        tool_config: Option<ToolConfiguration>,
    ) -> Result<aws_sdk_bedrockruntime::operation::converse::ConverseOutput, ConverseError> {
        let mut delay = self.retry_base;
        let mut tries = 0;
        loop {
            tries += 1;
            let result = self
                .client
                .converse()
                .model_id(self.model)
                .system(SystemContentBlock::Text(self.system.to_owned()))
                .set_messages(Some(messages.to_vec()))
                .set_tool_config(tool_config.clone())
                .inference_config(InferenceConfiguration::builder().max_tokens(1024).build())
                .send()
                .await;
            let err = match result {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            let (code, retryable) = match err.as_service_error() {
                Some(s) => (
                    aws_sdk_bedrockruntime::error::ProvideErrorMetadata::code(s)
                        .unwrap_or("Unknown")
                        .to_owned(),
                    s.is_throttling_exception()
                        || s.is_service_unavailable_exception()
                        || s.is_internal_server_exception()
                        || s.is_model_not_ready_exception()
                        || s.is_model_timeout_exception(),
                ),
                // Timeouts, connection failures and unparseable 5xx pages.
                None => ("TransportError".to_owned(), true),
            };
            if !retryable {
                return Err(ConverseError::Fatal { code });
            }
            if tries >= self.max_tries {
                return Err(ConverseError::Retryable { code, tries });
            }
            tracing::warn!(code = %code, tries, "Bedrock call failed; retrying");
            // Full jitter: anywhere up to the current delay.
            let jitter = rand::random::<f64>();
            tokio::time::sleep(delay.mul_f64(0.5 + jitter / 2.0)).await;
            delay *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_json() {
        let v = serde_json::json!({"a": [1, -2, 2.5, "x", true, null], "b": {"c": "d"}});
        assert_eq!(to_value(&to_document(&v)), v);
    }
}
