//! Start-up checks that depend on the process, not only on the variables: running as root
//! (ALLOW_ROOT) and the open-file limit (MAX_SESSIONS). They take the settings they need, not
//! the whole `Config`, so that this file uses only `error`; `mod.rs` applies them to `Config`.

use super::error::ConfigError;

/// Refuses to run as root unless ALLOW_ROOT is set, as ElectrumX does.
///
/// # Errors
/// [`ConfigError::RunningAsRoot`] when the effective user is root and ALLOW_ROOT is not set.
pub(super) fn refuse_root(allow_root: bool) -> Result<(), ConfigError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    check_root_for(euid, allow_root)
}

fn check_root_for(euid: libc::uid_t, allow_root: bool) -> Result<(), ConfigError> {
    if euid == 0 && !allow_root {
        Err(ConfigError::RunningAsRoot)
    } else {
        Ok(())
    }
}

/// ElectrumX's cap on MAX_SESSIONS: leave 350 descriptors of the open-file limit for the
/// database and the server itself.
pub fn sane_max_sessions(max_sessions: usize, open_file_limit: u64) -> usize {
    let available = open_file_limit.saturating_sub(350);
    usize::try_from(available).map_or(max_sessions, |available| max_sessions.min(available))
}

/// Does what ElectrumX does at start about open files: raises the soft RLIMIT_NOFILE to the
/// hard limit, then lowers MAX_SESSIONS to fit what it got. Returns the number of sessions
/// that fits and what the operator should be told (to log as warnings).
pub(super) fn fit_open_file_limit(max_sessions: usize) -> (usize, Vec<String>) {
    let mut notes = Vec::new();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return (max_sessions, notes);
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit for the duration of the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        } else {
            notes.push(format!(
                "could not raise the open file limit (ulimit -n) from {}: make sure \
                 FerrumX may open many files",
                limit.rlim_cur
            ));
        }
    }
    // rlim_t is u64 on 64-bit Linux but not everywhere.
    #[allow(clippy::useless_conversion)]
    let soft = u64::try_from(limit.rlim_cur).unwrap_or(u64::MAX);
    let sessions = sane_max_sessions(max_sessions, soft);
    if sessions < max_sessions {
        notes.push(format!(
            "lowered MAX_SESSIONS from {max_sessions} to {sessions} because the open file \
             limit is {soft}"
        ));
    }
    (sessions, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_needs_allow_root() {
        assert_eq!(check_root_for(0, false), Err(ConfigError::RunningAsRoot));
        assert_eq!(check_root_for(0, true), Ok(()));
        assert_eq!(check_root_for(1000, false), Ok(()));
    }

    #[test]
    fn sessions_fit_the_open_file_limit() {
        assert_eq!(sane_max_sessions(1000, 1024), 674);
        assert_eq!(sane_max_sessions(1000, 1_048_576), 1000);
        assert_eq!(sane_max_sessions(1000, 100), 0);
    }
}
