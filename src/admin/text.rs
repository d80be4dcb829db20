//! How the admin answers read to a person: the `sessions`, `groups` and `peers` tables with
//! ElectrumX's columns and widths (`electrumx_rpc`'s `lib/text.py`), durations as ElectrumX
//! writes them, coin amounts, and JSON as `electrumx_rpc` prints it (sorted keys, four
//! spaces). The server answers data; the CLI formats it with these, and so does LOG_SESSIONS
//! (the same `sessions` table, in the log).

use serde_json::{Map, Value};

use crate::py::thousands;

/// A number of seconds as ElectrumX's `formatted_time`: days, then zero-padded hours and
/// minutes from the first non-zero part, and seconds unless days are shown;
/// `formatted_time(342, " ")` is `"05m 42s"`, `formatted_time(90061, "")` is `"1d01h01m"`.
pub fn formatted_time(secs: f64, sep: &str) -> String {
    let mut t = if secs.is_finite() && secs > 0.0 {
        secs as u64
    } else {
        0
    };
    let mut parts: Vec<String> = Vec::new();
    for (unit, n) in [("d", 86_400u64), ("h", 3_600), ("m", 60)] {
        let val = t / n;
        if !parts.is_empty() || val > 0 {
            parts.push(if unit == "d" {
                format!("{val}d")
            } else {
                format!("{val:02}{unit}")
            });
        }
        t %= n;
    }
    if parts.len() < 3 {
        parts.push(format!("{t:02}s"));
    }
    parts.join(sep)
}

/// A daemon URL as ElectrumX logs it: `host:port/`, no scheme, no credentials.
pub fn logged_url(url: &str) -> String {
    url.strip_prefix("http://").unwrap_or(url).to_string()
}

/// An amount of satoshis in coins as ElectrumX's `query` prints it (`f'{Decimal:,f}'`):
/// thousands separators, no trailing zeros, no point for whole coins.
pub fn coins(sats: u64) -> String {
    let whole = thousands(sats / 100_000_000);
    let frac = sats % 100_000_000;
    if frac == 0 {
        return whole;
    }
    let digits = format!("{frac:08}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The JSON as `electrumx_rpc` prints results (`json.dumps(result, indent=4,
/// sort_keys=True)`): every object's keys sorted, four-space indentation.
pub fn pretty_json(value: &Value) -> String {
    let sorted = sort_keys(value);
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    match serde::Serialize::serialize(&sorted, &mut ser) {
        Ok(()) => String::from_utf8(out).unwrap_or_else(|_| sorted.to_string()),
        Err(_) => sorted.to_string(),
    }
}

fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sort_keys(&map[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

fn int(v: &Value) -> Option<i128> {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i128))
}

/// `f'{n:,d}'` of a JSON number (a float is truncated, as `int()` does); `-` when unknown.
fn count(v: &Value) -> String {
    int(v).map_or_else(|| "-".to_string(), thousands)
}

/// Kilobytes (`n // 1024`) with separators.
fn kb(v: &Value) -> String {
    int(v).map_or_else(|| "-".to_string(), |n| thousands(n.div_euclid(1024)))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn row(item: &Value, n: usize) -> Option<&[Value]> {
    item.as_array().map(Vec::as_slice).filter(|r| r.len() >= n)
}

/// The `sessions` table. Each item is the server's row: `[id, flags, peer, client, proto,
/// cost, extra_cost, reqs, txs_sent, subs, recv_count, recv_size, send_count, send_size,
/// seconds_connected]`; rows of another shape are skipped.
pub fn sessions_lines(data: &Value) -> Vec<String> {
    let line = |c: [&str; 15]| {
        format!(
            "{:<6} {:<5} {:>17} {:>5} {:>7} {:>7} {:>5} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>21}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12],
            c[13], c[14]
        )
    };
    let mut out = vec![line([
        "ID", "Flags", "Client", "Proto", "Cost", "XCost", "Reqs", "Txs", "Subs", "Recv",
        "Recv KB", "Sent", "Sent KB", "Time", "Peer",
    ])];
    for item in data.as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(r) = row(item, 15) else { continue };
        let time = formatted_time(r[14].as_f64().unwrap_or(0.0), "");
        out.push(line([
            &text(&r[0]),
            &text(&r[1]),
            &text(&r[3]),
            &text(&r[4]),
            &count(&r[5]),
            &count(&r[6]),
            &count(&r[7]),
            &count(&r[8]),
            &count(&r[9]),
            &count(&r[10]),
            &kb(&r[11]),
            &count(&r[12]),
            &kb(&r[13]),
            &time,
            &text(&r[2]),
        ]));
    }
    out
}

/// The `groups` table. Each item is `[name, sessions, cost, retained_cost, reqs, txs_sent,
/// subs, recv_count, recv_size, send_count, send_size]`.
pub fn groups_lines(data: &Value) -> Vec<String> {
    // No space between the Subs and Recv columns: ElectrumX's format has none.
    let line = |c: [&str; 11]| {
        format!(
            "{:<14} {:>9} {:>8} {:>8} {:>6} {:>6} {:>8}{:>7} {:>9} {:>7} {:>9}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]
        )
    };
    let mut out = vec![line([
        "Name", "Sessions", "Cost", "Retained", "Reqs", "Txs", "Subs", "Recv", "Recv KB", "Sent",
        "Sent KB",
    ])];
    for item in data.as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(r) = row(item, 11) else { continue };
        out.push(line([
            &text(&r[0]),
            &count(&r[1]),
            &count(&r[2]),
            &count(&r[3]),
            &count(&r[4]),
            &count(&r[5]),
            &count(&r[6]),
            &count(&r[7]),
            &kb(&r[8]),
            &count(&r[9]),
            &kb(&r[10]),
        ]));
    }
    out
}

/// The `peers` table. Each item is ElectrumX's peer object (`host`, `status`, `features`
/// with `hosts`, `server_version`, `protocol_min`, `protocol_max`, `pruning`; `last_good`,
/// `last_try` as Unix times or 0, `try_count`, `source`, `ip_addr`); `now` is the Unix time.
pub fn peers_lines(data: &Value, now: f64) -> Vec<String> {
    let line = |c: [&str; 13]| {
        format!(
            "{:<62} {:<6} {:>5} {:>5} {:<17} {:>4} {:>4} {:>8} {:>11} {:>11} {:>5} {:>20} {:<15}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12]
        )
    };
    let when = |v: &Value| match v.as_f64() {
        Some(t) if t != 0.0 => formatted_time(now - t, " "),
        _ => "Never".to_string(),
    };
    let truncate = |s: String, n: usize| s.chars().take(n).collect::<String>();
    let mut out = vec![line([
        "Host",
        "Status",
        "TCP",
        "SSL",
        "Server",
        "Min",
        "Max",
        "Pruning",
        "Last Good",
        "Last Try",
        "Tries",
        "Source",
        "IP Address",
    ])];
    for item in data.as_array().map(Vec::as_slice).unwrap_or_default() {
        let features = &item["features"];
        let host_name = text(&item["host"]);
        let ports = &features["hosts"][host_name.as_str()];
        let port = |key: &str| match &ports[key] {
            Value::Null => String::new(),
            v => text(v),
        };
        let server = match &features["server_version"] {
            Value::Null => "unknown".to_string(),
            v => text(v),
        };
        out.push(line([
            &truncate(host_name.clone(), 62),
            &text(&item["status"]),
            &port("tcp_port"),
            &port("ssl_port"),
            &server,
            &text(&features["protocol_min"]),
            &text(&features["protocol_max"]),
            &text(&features["pruning"]),
            &when(&item["last_good"]),
            &when(&item["last_try"]),
            &text(&item["try_count"]),
            &truncate(text(&item["source"]), 20),
            &text(&item["ip_addr"]),
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_as_electrumx_writes_them() {
        assert_eq!(formatted_time(0.0, " "), "00s");
        assert_eq!(formatted_time(59.9, " "), "59s");
        assert_eq!(formatted_time(342.0, ""), "05m42s");
        assert_eq!(formatted_time(342.0, " "), "05m 42s");
        assert_eq!(formatted_time(3_661.0, " "), "01h 01m 01s");
        assert_eq!(formatted_time(5_944.0, " "), "01h 39m 04s");
        assert_eq!(formatted_time(86_405.0, " "), "1d 00h 00m");
        assert_eq!(formatted_time(90_061.0, ""), "1d01h01m");
        assert_eq!(formatted_time(-5.0, " "), "00s");
    }

    #[test]
    fn coin_amounts_as_python_decimal() {
        // Values from Python: f'{Decimal(v) / 100000000:,f}'.
        assert_eq!(coins(0), "0");
        assert_eq!(coins(1), "0.00000001");
        assert_eq!(coins(150_000_000), "1.5");
        assert_eq!(coins(500_000_000), "5");
        assert_eq!(coins(123_456_789_012_345), "1,234,567.89012345");
        assert_eq!(coins(100), "0.000001");
        assert_eq!(coins(1_789_833_030), "17.8983303");
        assert_eq!(coins(2_100_000_000_000_000), "21,000,000");
    }

    #[test]
    fn json_like_python_json_dumps() {
        let v = json!({"b": 1, "a": {"d": [1, "x"], "c": null}, "e": {}, "f": []});
        // json.dumps(v, indent=4, sort_keys=True)
        let want = "{\n    \"a\": {\n        \"c\": null,\n        \"d\": [\n            1,\n            \"x\"\n        ]\n    },\n    \"b\": 1,\n    \"e\": {},\n    \"f\": []\n}";
        assert_eq!(pretty_json(&v), want);
        assert_eq!(pretty_json(&json!("stopping")), "\"stopping\"");
    }

    #[test]
    fn sessions_table_has_electrumx_columns() {
        let data = json!([[
            12,
            "T4",
            "127.0.0.1:5000",
            "wallet-x",
            "1.4",
            1234.7,
            null,
            0,
            0,
            2,
            5,
            4096,
            5,
            10_000,
            342.5
        ]]);
        let lines = sessions_lines(&data);
        assert_eq!(
            lines[0],
            "ID     Flags            Client Proto    Cost   XCost  Reqs   Txs    Subs    Recv Recv KB    Sent Sent KB      Time                  Peer"
        );
        assert_eq!(
            lines[1],
            "12     T4             wallet-x   1.4   1,234       -     0     0       2       5       4       5       9    05m42s        127.0.0.1:5000"
        );
        assert_eq!(
            sessions_lines(&json!([[1, 2]])).len(),
            1,
            "bad rows skipped"
        );
    }

    #[test]
    fn groups_and_peers_tables() {
        let g = groups_lines(&json!([["t0", 2, 10.5, 0, 1, 0, 3, 7, 2048, 7, 1023]]));
        assert_eq!(
            g[0],
            "Name            Sessions     Cost Retained   Reqs    Txs     Subs   Recv   Recv KB    Sent   Sent KB"
        );
        assert_eq!(
            g[1],
            "t0                     2       10        0      1      0        3      7         2       7         0"
        );
        let p = peers_lines(
            &json!([{
                "host": "h.example", "status": "good", "source": "RPC", "ip_addr": "1.2.3.4",
                "last_good": 1000.0, "last_try": 0, "try_count": 0,
                "features": {"hosts": {"h.example": {"tcp_port": 50001, "ssl_port": null}},
                             "server_version": null, "protocol_min": "1.4",
                             "protocol_max": "1.6", "pruning": null}
            }]),
            1342.0,
        );
        assert_eq!(p.len(), 2);
        assert!(p[1].starts_with("h.example "), "{}", p[1]);
        assert!(p[1].contains(" good   50001       unknown "), "{}", p[1]);
        assert!(p[1].contains("    05m 42s       Never     0 "), "{}", p[1]);
        assert!(p[1].ends_with("RPC 1.2.3.4        "), "{:?}", p[1]);
    }
}
