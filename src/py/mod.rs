//! The `py` room: the CPython 3.11 behaviour that ElectrumX's answers are made of, reproduced
//! exactly — because a client sees it byte for byte.
//!
//! - [`loads`](mod@loads) and [`node`]: `json.loads(message.decode())` into a [`Node`] tree that keeps
//!   what serde_json cannot hold (unbounded ints, `NaN`, lone surrogates), with the
//!   exceptions CPython raises (nesting past the recursion limit, int literals over 4,300
//!   digits).
//! - [`dumps`](mod@dumps): `json.dumps(value, separators=(',', ':'))` (ensure_ascii, float `repr`).
//! - [`repr`]: `str()` and `repr()` of values, floats and strings.
//! - [`int`]: unbounded ints ([`PyInt`]), `int(text)`, `int(float)`, `f'{n:,d}'`
//!   ([`thousands`]).
//! - [`builtins`]: `int(value)`, `bool(value)`, `value in (False, True)`, `bytes.fromhex`.
//! - [`unicode`]: the Unicode tables behind `str.isprintable`, `str.isspace` and
//!   `unicodedata.decimal`.
//! - [`ipaddress`]: `ipaddress`' IPv6 text and `is_private`.
//!
//! This room depends on nothing else in the crate (only `serde_json`'s `Value`); the
//! JSON-RPC stack, the Electrum methods, the admin service and the logs build on it. Within
//! it, files use only files further down this list: `loads`, `node`, `builtins`, `dumps`,
//! `repr`, `int`, `unicode`; `ipaddress` stands alone.

pub mod builtins;
pub mod dumps;
pub mod int;
pub mod ipaddress;
pub mod loads;
pub mod node;
pub mod repr;
pub mod unicode;

pub use builtins::{py_false_or_true, py_fromhex, py_int, py_truthy};
pub use dumps::dumps;
pub use int::{group_digits, thousands, PyInt, INT_MAX_STR_DIGITS};
pub use loads::{loads, LoadError, MAX_NESTING};
pub use node::{Dict, Node};
pub use repr::{py_float_repr, py_number_str, py_repr, py_str, py_str_repr};
