//! A child process (`ferrumx_server`, ElectrumX's `electrumx_server`) with an empty
//! environment plus the variables given, its stdout and stderr collected line by line (with
//! when each line was seen), killed (SIGKILL) and reaped on drop; its output is printed then
//! if the test is failing, or always with `FERRUMX_TEST_LOGS=1` (and `--nocapture`).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One line of a process's output, with when the test saw it.
#[derive(Clone, Debug)]
pub struct Line {
    pub at: Instant,
    pub text: String,
}

impl Line {
    /// The integer value of `name=` in a tracing line (`height=123`, `height="123"`).
    pub fn field(&self, name: &str) -> Option<u64> {
        let key = format!("{name}=");
        let mut rest = self.text.as_str();
        while let Some(i) = rest.find(&key) {
            let boundary = i == 0 || rest.as_bytes()[i - 1] == b' ';
            let after = &rest[i + key.len()..];
            if boundary {
                let digits: String = after
                    .trim_start_matches('"')
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                return digits.parse().ok();
            }
            rest = after;
        }
        None
    }
}

/// Which pipe a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipe {
    Stdout,
    Stderr,
}

#[derive(Default)]
struct Lines {
    /// Every line of both pipes, in the order the readers saw them.
    all: Vec<(Pipe, Line)>,
    /// Pipes closed so far (2: the output has ended).
    closed: u8,
}

/// The output of both pipes, filled by two reader threads.
#[derive(Default)]
struct Collected {
    lines: Mutex<Lines>,
    cv: Condvar,
}

impl Collected {
    fn read(self: &Arc<Collected>, pipe: Pipe, from: impl Read + Send + 'static) {
        let c = Arc::clone(self);
        std::thread::spawn(move || {
            for line in BufReader::new(from).lines() {
                let Ok(text) = line else { break };
                let mut l = c.lines.lock().unwrap_or_else(|e| e.into_inner());
                l.all.push((
                    pipe,
                    Line {
                        at: Instant::now(),
                        text,
                    },
                ));
                c.cv.notify_all();
            }
            c.lines.lock().unwrap_or_else(|e| e.into_inner()).closed += 1;
            c.cv.notify_all();
        });
    }

    fn of(&self, pipe: Option<Pipe>) -> Vec<Line> {
        let l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        l.all
            .iter()
            .filter(|(p, _)| pipe.is_none_or(|want| *p == want))
            .map(|(_, line)| line.clone())
            .collect()
    }

    /// How many lines of `pipe` (both if `None`) so far satisfy `pred` (without copying
    /// them: tests poll this).
    fn count(&self, pipe: Option<Pipe>, mut pred: impl FnMut(&Line) -> bool) -> usize {
        let l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        l.all
            .iter()
            .filter(|(p, line)| pipe.is_none_or(|want| *p == want) && pred(line))
            .count()
    }

    /// The first line at index `from` or later (of both pipes) matching `pred`, waiting up to
    /// `timeout`: its index and the line.
    fn wait(
        &self,
        from: usize,
        timeout: Duration,
        mut pred: impl FnMut(Pipe, &Line) -> bool,
    ) -> Result<(usize, Line), String> {
        let deadline = Instant::now() + timeout;
        let mut l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let mut i = from;
        loop {
            while i < l.all.len() {
                let (pipe, line) = &l.all[i];
                if pred(*pipe, line) {
                    return Ok((i, line.clone()));
                }
                i += 1;
            }
            if l.closed >= 2 {
                return Err("the process's output ended".to_string());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("nothing matched within {timeout:?}"));
            }
            l = self
                .cv
                .wait_timeout(l, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The resident and peak memory (VmRSS, VmHWM) of process `pid`, in bytes.
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{name} in {status}"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The CPU time (user + system) process `pid` has used so far, in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("field {i} of {stat}"))
    };
    // utime and stime are fields 14 and 15 of /proc/PID/stat; `rest` starts at field 3.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

/// A running child process; see the module documentation.
pub struct Process {
    child: Child,
    pub started: Instant,
    name: String,
    output: Arc<Collected>,
    status: Option<ExitStatus>,
}

impl Process {
    /// Starts `exe` as `name` (the label of its log) with only `vars` in its environment.
    pub fn spawn<K: AsRef<str>, V: AsRef<str>>(name: &str, exe: &Path, vars: &[(K, V)]) -> Process {
        let mut child = Command::new(exe)
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("[{name}] spawn {}: {e}", exe.display()));
        let started = Instant::now();
        let output = Arc::new(Collected::default());
        output.read(Pipe::Stdout, child.stdout.take().expect("stdout"));
        output.read(Pipe::Stderr, child.stderr.take().expect("stderr"));
        Process {
            child,
            started,
            name: name.to_string(),
            output,
            status: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every stdout line so far.
    pub fn stdout(&self) -> Vec<Line> {
        self.output.of(Some(Pipe::Stdout))
    }

    /// Every stderr line so far.
    pub fn stderr(&self) -> Vec<Line> {
        self.output.of(Some(Pipe::Stderr))
    }

    /// Every line of both pipes so far, in the order they were seen.
    pub fn output(&self) -> Vec<Line> {
        self.output.of(None)
    }

    /// How many stdout lines so far contain `needle`.
    pub fn count_stdout(&self, needle: &str) -> usize {
        self.output
            .count(Some(Pipe::Stdout), |l| l.text.contains(needle))
    }

    /// How many lines of either pipe so far contain `needle`.
    pub fn count_any(&self, needle: &str) -> usize {
        self.output.count(None, |l| l.text.contains(needle))
    }

    /// The first line at index `from` or later (an index over both pipes' lines) matching
    /// `pred`, waiting up to `timeout`: its index and the line; an error (saying why) after
    /// `timeout` or once the output has ended.
    pub fn wait_line(
        &self,
        from: usize,
        timeout: Duration,
        pred: impl FnMut(Pipe, &Line) -> bool,
    ) -> Result<(usize, Line), String> {
        self.output.wait(from, timeout, pred)
    }

    /// The exit status if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits for the process to exit on its own (and for its output to end).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                // The pipes close with the process; let the readers finish.
                let _ = self
                    .output
                    .wait(usize::MAX, Duration::from_secs(5), |_, _| false);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] did not exit within {timeout:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process, which must not have exited.
    pub fn signal(&mut self, signal: libc::c_int) {
        assert!(
            self.try_status().is_none(),
            "[{}] exited before signal {signal}",
            self.name
        );
        let pid = libc::pid_t::try_from(self.pid()).expect("pid");
        // SAFETY: signalling our own child, which has not been reaped yet (so the pid cannot
        // have been reused).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill -{signal} {pid}");
    }

    /// SIGKILL (kill -9), then reaps the process and reads the rest of its output.
    pub fn kill9(&mut self, timeout: Duration) {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait");
        self.status = Some(status);
        self.wait_exit(timeout);
    }

    /// For a process kept until the test binary exits (a [`crate::Shared`] fixture, never
    /// dropped): a watchdog (`sh`, reading a pipe only this process holds) kills it with
    /// SIGKILL once the test binary has exited, however it exits, then removes `dirs`.
    pub fn kill_at_exit(&self, dirs: &[&Path]) {
        // The watchdogs, with the write ends of their pipes: kept (never dropped, never
        // waited for) until this binary exits.
        static HELD: Mutex<Vec<Child>> = Mutex::new(Vec::new());
        let pid = self.pid();
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        // Killed only if that pid is still this program (it is: an unreaped child's pid
        // cannot be reused, and it is reaped only after this binary has exited); then the
        // directories go once it is gone (5 s at most).
        let mut script = format!(
            "read _; if tr '\\000' ' ' < /proc/{pid}/cmdline 2>/dev/null | grep -qF -- '{exe}'; \
             then kill -9 {pid} 2>/dev/null; fi; i=0; \
             while kill -0 {pid} 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done;"
        );
        for d in dirs {
            let d = d.to_str().expect("utf-8 path");
            assert!(!d.contains('\''), "{d}");
            script.push_str(&format!(" rm -rf '{d}';"));
        }
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the watchdog");
        HELD.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(watchdog);
    }

    /// Prints the process's output (stdout, then stderr) to the test's stderr.
    pub fn dump(&self) {
        eprintln!("----- [{}] stdout -----", self.name);
        for l in self.stdout() {
            eprintln!("{}", l.text);
        }
        eprintln!("----- [{}] stderr -----", self.name);
        for l in self.stderr() {
            eprintln!("{}", l.text);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() || std::env::var_os("FERRUMX_TEST_LOGS").is_some() {
            self.dump();
        }
    }
}
