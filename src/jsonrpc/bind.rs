//! Argument binding as aiorpcx's `handler_invocation` does it: a handler's [`Signature`] and
//! the checks that give `-32602` (`invalid arguments`) before the handler runs ([`bind`]).

use serde_json::Value;

use super::error::RpcError;
use super::request::Params;

/// Binding rules of a handler, as aiorpcx's `signature_info` reads a Python signature
/// (the bound method's, so without `self`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The positional-or-keyword parameters, in order.
    pub names: &'static [&'static str],
    /// How many of the first `names` have no default.
    pub required: usize,
    /// Whether it takes `*args` (extra positional arguments are accepted and ignored).
    pub varargs: bool,
    /// Whether it takes `**kwargs` (unknown named arguments are accepted and ignored).
    pub varkw: bool,
}

/// aiorpcx's `handler_invocation` argument checks: the arguments for `sig.names`, in order,
/// `None` where an optional one was not given (extra positional or named arguments accepted
/// by `*args`/`**kwargs` are dropped; no ElectrumX handler reads them).
///
/// # Errors
/// `-32602` with aiorpcx's messages:
/// - `{n} argument(s) passed to method "{method}" but it requires {required}`;
/// - `{n} argument(s) passed to method {method} taking at most {max}` (method not quoted);
/// - `method "{method}" requires parameter(s) "a", "b"` (missing names, sorted);
/// - `method "{method}" does not take parameter(s) "x", "y"` (unknown names, sorted);
///
/// and `-32603` `internal server error` for a named argument `self` to a handler with
/// `**kwargs` (Python's `TypeError: got multiple values for argument 'self'`).
pub fn bind(
    method: &str,
    sig: &Signature,
    params: &Params,
) -> Result<Vec<Option<Value>>, RpcError> {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match params {
        Params::List(args) => {
            let n = args.len();
            if n < sig.required {
                return Err(RpcError::invalid_args(format!(
                    "{n} argument{} passed to method \"{method}\" but it requires {}",
                    plural(n),
                    sig.required
                )));
            }
            if !sig.varargs && n > sig.names.len() {
                return Err(RpcError::invalid_args(format!(
                    "{n} argument{} passed to method {method} taking at most {}",
                    plural(n),
                    sig.names.len()
                )));
            }
            Ok((0..sig.names.len()).map(|i| args.get(i).cloned()).collect())
        }
        Params::Named(args) => {
            let quoted = |names: Vec<&str>| {
                let mut names: Vec<String> =
                    names.into_iter().map(|n| format!("\"{n}\"")).collect();
                names.sort();
                names.join(", ")
            };
            let required = &sig.names[..sig.required.min(sig.names.len())];
            let missing: Vec<&str> = required
                .iter()
                .copied()
                .filter(|name| !args.contains_key(*name))
                .collect();
            if !missing.is_empty() {
                return Err(RpcError::invalid_args(format!(
                    "method \"{method}\" requires parameter{} {}",
                    plural(missing.len()),
                    quoted(missing)
                )));
            }
            if sig.varkw {
                if args.contains_key("self") {
                    return Err(RpcError::internal());
                }
            } else {
                let excess: Vec<&str> = args
                    .keys()
                    .map(String::as_str)
                    .filter(|k| !sig.names.contains(k))
                    .collect();
                if !excess.is_empty() {
                    return Err(RpcError::invalid_args(format!(
                        "method \"{method}\" does not take parameter{} {}",
                        plural(excess.len()),
                        quoted(excess)
                    )));
                }
            }
            Ok(sig
                .names
                .iter()
                .map(|name| args.get(*name).cloned())
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bind_positional_and_named() {
        const HEADER: Signature = Signature {
            names: &["height", "cp_height"],
            required: 1,
            varargs: false,
            varkw: false,
        };
        assert_eq!(
            bind("h", &HEADER, &Params::List(vec![json!(5)])),
            Ok(vec![Some(json!(5)), None])
        );
        let named = json!({"cp_height": 2, "height": 1});
        let Value::Object(map) = named else { return };
        assert_eq!(
            bind("h", &HEADER, &Params::Named(map)),
            Ok(vec![Some(json!(1)), Some(json!(2))])
        );
        assert_eq!(
            bind("h", &HEADER, &Params::List(vec![])).map_err(|e| e.message),
            Err("0 arguments passed to method \"h\" but it requires 1".to_owned())
        );
    }
}
