//! The parameters of a request as name/value pairs, from a form-encoded text (a query string
//! or a body) or a JSON body, within [`MAX_PARAMS`], counted while parsing so a small request
//! never makes a huge list. Pure (no HTTP types, nothing from the crate), so the `form` fuzz
//! target compiles this file on its own; [`Params`](super::Params) wraps it.

/// Most parameters one query string or body may hold: 1,000. Twilio's largest requests
/// (a workflow, a bulk statistics query) have a few dozen; every read of a parameter scans
/// the list.
pub const MAX_PARAMS: usize = 1_000;

/// Why the pairs were refused; the message is for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError(pub String);

fn too_many(where_: &str) -> FormError {
    FormError(format!(
        "The {where_} holds more than {MAX_PARAMS} parameters, the limit"
    ))
}

/// Pairs of a form-encoded text, refused past [`MAX_PARAMS`] before any more are decoded.
/// `where_` names it in the error ("query string", "request body").
pub fn form_pairs(text: &[u8], where_: &str) -> Result<Vec<(String, String)>, FormError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(text)
        .take(MAX_PARAMS + 1)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.len() > MAX_PARAMS {
        return Err(too_many(where_));
    }
    Ok(pairs)
}

/// Pairs of a JSON body: an object's members (an array member is one pair per item), or a
/// top-level array's items under the name `[]` (the bulk statistics body); at most
/// [`MAX_PARAMS`] in all. Nesting is bounded by serde_json's own limit (128 levels).
pub fn json_pairs(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| FormError(format!("the JSON body does not parse: {e}")))?;
    let map = match value {
        serde_json::Value::Object(map) => map,
        serde_json::Value::Array(items) => {
            if items.len() > MAX_PARAMS {
                return Err(too_many("JSON body"));
            }
            return Ok(items
                .into_iter()
                .map(|i| ("[]".to_string(), scalar(i)))
                .collect());
        }
        _ => {
            return Err(FormError(
                "a JSON body must be an object (or an array)".into(),
            ))
        }
    };
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            serde_json::Value::String(s) => out.push((k, s)),
            serde_json::Value::Array(items) => {
                out.extend(items.into_iter().map(|i| (k.clone(), scalar(i))))
            }
            other => out.push((k, scalar(other))),
        }
        if out.len() > MAX_PARAMS {
            return Err(too_many("JSON body"));
        }
    }
    Ok(out)
}

fn scalar(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_counted_up_to_the_limit() {
        let at = vec!["a=1"; MAX_PARAMS].join("&");
        assert_eq!(
            form_pairs(at.as_bytes(), "body").map(|p| p.len()),
            Ok(MAX_PARAMS)
        );
        let past = format!("{at}&b=2");
        let err = form_pairs(past.as_bytes(), "request body").expect_err("refused");
        assert!(
            err.0.contains("request body") && err.0.contains("1000"),
            "{err:?}"
        );
        let json: serde_json::Value = serde_json::json!({"a": vec![1; MAX_PARAMS + 1]});
        assert!(json_pairs(json.to_string().as_bytes()).is_err());
        let json = serde_json::json!({"a": ["x", "y"], "b": 3});
        assert_eq!(
            json_pairs(json.to_string().as_bytes()),
            Ok(vec![
                ("a".into(), "x".into()),
                ("a".into(), "y".into()),
                ("b".into(), "3".into())
            ])
        );
    }
}
