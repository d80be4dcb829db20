//! Settings of benches and scale tests, read from the environment.

/// The variable `name` parsed as a `T`, or `default` when it is unset; a value that does not
/// parse stops the bench with a message naming it.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not valid")),
        Err(_) => default,
    }
}
