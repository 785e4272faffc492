//! OCPP-J (OCPP 1.6 over JSON/WebSocket) RPC framing: `[2, id, action, payload]` calls,
//! `[3, id, payload]` results, `[4, id, code, description, details]` errors.

use serde::Serialize;
use serde_json::Value;

/// Largest text frame accepted from a charge point; larger ones are refused without being parsed.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// OCPP-J: the message id is a string of at most 36 characters.
pub const MAX_MESSAGE_ID_CHARS: usize = 36;

/// OCPP 1.6J CallError codes (the spelling `OccurenceConstraintViolation` is the specification's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorCode {
    NotImplemented,
    NotSupported,
    InternalError,
    ProtocolError,
    SecurityError,
    FormationViolation,
    PropertyConstraintViolation,
    OccurenceConstraintViolation,
    TypeConstraintViolation,
    GenericError,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Call { id: String, action: String, payload: Value },
    CallResult { id: String, payload: Value },
    CallError { id: String, code: String, description: String },
}

/// A frame that could not be understood, with what to answer. `id` is "-1" when none could be read, as
/// charge point implementations commonly do.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub id: String,
    pub code: ErrorCode,
    pub description: String,
}

impl FrameError {
    pub fn new(id: &str, code: ErrorCode, description: impl Into<String>) -> FrameError {
        FrameError { id: id.to_owned(), code, description: description.into() }
    }

    pub fn to_text(&self) -> String {
        call_error(&self.id, self.code, &self.description)
    }
}

const UNKNOWN_ID: &str = "-1";

pub fn parse(text: &str) -> Result<Frame, FrameError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError::new(
            UNKNOWN_ID,
            ErrorCode::FormationViolation,
            format!("frame longer than {MAX_FRAME_BYTES} bytes"),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| FrameError::new(UNKNOWN_ID, ErrorCode::FormationViolation, format!("not JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(FrameError::new(UNKNOWN_ID, ErrorCode::FormationViolation, "a frame is a JSON array"));
    };
    let id = match items.get(1) {
        Some(Value::String(id)) if !id.is_empty() && id.chars().count() <= MAX_MESSAGE_ID_CHARS => id.clone(),
        _ => {
            return Err(FrameError::new(
                UNKNOWN_ID,
                ErrorCode::FormationViolation,
                format!("the message id must be a string of 1 to {MAX_MESSAGE_ID_CHARS} characters"),
            ))
        }
    };
    let mut items = items.into_iter();
    let type_id = items.next().and_then(|v| v.as_u64());
    let rest: Vec<Value> = items.skip(1).collect();
    match (type_id, rest.as_slice()) {
        (Some(2), [Value::String(action), payload @ Value::Object(_)]) => {
            Ok(Frame::Call { id, action: action.clone(), payload: payload.clone() })
        }
        (Some(3), [payload @ Value::Object(_)]) => Ok(Frame::CallResult { id, payload: payload.clone() }),
        (Some(4), [Value::String(code), Value::String(description), ..]) => {
            Ok(Frame::CallError { id, code: code.clone(), description: description.clone() })
        }
        (Some(2..=4), _) => {
            Err(FrameError::new(&id, ErrorCode::FormationViolation, "wrong elements for this message type"))
        }
        _ => Err(FrameError::new(&id, ErrorCode::ProtocolError, "the message type id must be 2, 3 or 4")),
    }
}

pub fn call(id: &str, action: &str, payload: &impl Serialize) -> String {
    serde_json::json!([2, id, action, payload]).to_string()
}

pub fn call_result(id: &str, payload: &impl Serialize) -> String {
    serde_json::json!([3, id, payload]).to_string()
}

pub fn call_error(id: &str, code: ErrorCode, description: &str) -> String {
    serde_json::json!([4, id, code, description, {}]).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_frame_kinds_parse() {
        assert_eq!(
            parse(r#"[2,"a1","Heartbeat",{}]"#),
            Ok(Frame::Call { id: "a1".into(), action: "Heartbeat".into(), payload: serde_json::json!({}) })
        );
        assert_eq!(
            parse(r#"[3,"a2",{"status":"Accepted"}]"#),
            Ok(Frame::CallResult { id: "a2".into(), payload: serde_json::json!({"status": "Accepted"}) })
        );
        assert_eq!(
            parse(r#"[4,"a3","NotImplemented","no",{}]"#),
            Ok(Frame::CallError { id: "a3".into(), code: "NotImplemented".into(), description: "no".into() })
        );
    }

    #[test]
    fn malformed_frames_get_the_right_error_code() {
        let code = |text: &str| parse(text).unwrap_err().code;
        assert_eq!(code("not json"), ErrorCode::FormationViolation);
        assert_eq!(code(r#"{"a":1}"#), ErrorCode::FormationViolation);
        assert_eq!(code(r#"[2,7,"Heartbeat",{}]"#), ErrorCode::FormationViolation);
        assert_eq!(code(r#"[2,"x","Heartbeat"]"#), ErrorCode::FormationViolation);
        assert_eq!(code(r#"[9,"x","Heartbeat",{}]"#), ErrorCode::ProtocolError);
        assert_eq!(parse(r#"[9,"x","Heartbeat",{}]"#).unwrap_err().id, "x");
        let long = format!(r#"[2,"x","Heartbeat",{{"pad":"{}"}}]"#, "a".repeat(MAX_FRAME_BYTES));
        assert_eq!(code(&long), ErrorCode::FormationViolation);
    }

    #[test]
    fn frames_are_written_in_ocpp_j_form() {
        assert_eq!(call_result("1", &serde_json::json!({})), r#"[3,"1",{}]"#);
        assert_eq!(call_error("1", ErrorCode::NotImplemented, "x"), r#"[4,"1","NotImplemented","x",{}]"#);
        assert_eq!(call("1", "Heartbeat", &serde_json::json!({})), r#"[2,"1","Heartbeat",{}]"#);
    }
}
