//! ElectrumX (1.20 or 2.0.0) as a child process.

use std::path::Path;
use std::time::Duration;

use ferrumx_testkit::electrumx::side_by_side_env;
use ferrumx_testkit::{free_port, Process, TempDir};

/// A running ElectrumX, killed on drop (its log printed if the test fails).
pub struct ElectrumX {
    process: Process,
    pub port: u16,
    _dir: TempDir,
}

impl ElectrumX {
    pub fn start(exe: &Path, daemon_url: &str, extra: &[(&str, &str)]) -> ElectrumX {
        let dir = TempDir::new("differential-electrumx");
        let db = dir.path().join("db");
        std::fs::create_dir_all(&db).expect("db dir");
        let port = free_port();
        let mut polls = vec![
            ("DAEMON_POLL_INTERVAL_BLOCKS", "100"),
            ("DAEMON_POLL_INTERVAL_MEMPOOL", "100"),
        ];
        polls.extend_from_slice(extra);
        let services = format!("tcp://127.0.0.1:{port}");
        let vars = side_by_side_env(&db, daemon_url, &services, &polls);
        let ex = ElectrumX {
            process: Process::spawn("electrumx", exe, &vars),
            port,
            _dir: dir,
        };
        ex.wait_for("TCP server listening on", Duration::from_secs(180));
        ex
    }

    /// Waits for a log line (either pipe) containing `needle` (any since the start).
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        match self
            .process
            .wait_line(0, timeout, |_, l| l.text.contains(needle))
        {
            Ok((_, line)) => line.text,
            Err(e) => panic!("ElectrumX did not log {needle:?}: {e}"),
        }
    }

    pub fn count(&self, needle: &str) -> usize {
        self.process.count_any(needle)
    }
}
