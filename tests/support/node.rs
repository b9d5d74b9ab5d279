//! Running Node test suites from Rust tests: `npm ci` when needed, then `node --test` with a
//! timeout that takes down everything the suite started.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);

/// What a child process printed, and how it ended.
pub struct Output {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn describe(&self, what: &str) -> String {
        let status = match self.status {
            Some(s) => format!("exited with {s}"),
            None => format!("was killed after {:.0?} (timeout)", self.elapsed),
        };
        format!(
            "{what} {status}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// Spawns `cmd` in its own process group, collects its output, and kills the whole group (with
/// the servers and browsers it started) if it runs longer than `timeout`.
pub fn run_with_timeout(mut cmd: Command, what: &str, timeout: Duration) -> Output {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child: Child = match cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "cannot run {what}: the program was not found ({e}). These tests need \
             Node.js 20+ and npm on PATH."
        ),
        Err(e) => panic!("cannot run {what}: {e}"),
    };

    let pipe_reader = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = pipe_reader(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = pipe_reader(Box::new(child.stderr.take().expect("piped stderr")));

    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("waiting for the child process") {
            Some(status) => break Some(status),
            None if start.elapsed() >= timeout => {
                kill_group(&mut child);
                let _ = child.wait();
                break None;
            }
            None => thread::sleep(Duration::from_millis(50)),
        }
    };
    let elapsed = start.elapsed();
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        elapsed,
    }
}

fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        // The child leads its own process group (see `process_group(0)`): kill the group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// Runs `npm ci` unless `node_modules` exists and is at least as new as `package-lock.json`.
pub fn ensure_node_modules(dir: &Path) {
    let installed = modified(&dir.join("node_modules").join(".package-lock.json"));
    let lock = modified(&dir.join("package-lock.json"));
    if matches!((installed, lock), (Some(i), Some(l)) if i >= l) {
        return;
    }
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    let what = format!("`npm ci` in {}", dir.display());
    let out = run_with_timeout(cmd, &what, NPM_CI_TIMEOUT);
    assert!(out.success(), "{}", out.describe(&what));
}
