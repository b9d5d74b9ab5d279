//! One policy for a test group whose external tool is missing.
//!
//! Locally, the group is skipped: its test writes one `SKIPPED:` line naming the group, what is
//! missing and how to get it, straight to the terminal's stderr (the test harness captures
//! `eprintln!`, and a passing test's captured output is never shown), then returns. Under
//! `CI=true` the test fails instead, with the same words: CI installs every tool, so a missing
//! one there is a broken set-up, not something to pass over. `scripts/test` sets the tools up and
//! counts the `SKIPPED:` lines at the end.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// How to get Node.js and npm.
pub const NODE_HOW: &str = "install Node.js 20 or newer with npm (https://nodejs.org), then \
                            run scripts/test, which also installs the npm packages";

/// Where the browser tests expect Chromium, and how to get it.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMIUM_HOW: &str = "on Debian or Ubuntu: `apt-get install -y --no-install-recommends \
                                chromium chromium-driver` (scripts/test does this when run as root)";

/// Whether CI=true: missing tools fail there instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// What to do about a group's tool.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Run,
    Skip(String),
    Fail(String),
}

fn verdict(group: &str, found: Result<(), String>, how: &str, ci: bool) -> Verdict {
    match found {
        Ok(()) => Verdict::Run,
        Err(missing) if ci => Verdict::Fail(format!(
            "CI=true, and a tool is missing: {group}: {missing}; {how}"
        )),
        Err(missing) => Verdict::Skip(format!("SKIPPED: {group}: {missing}; {how}")),
    }
}

/// Whether `group` can run: `true` when `found` is `Ok`. Otherwise fails the test under
/// `CI=true`, and elsewhere writes the one `SKIPPED:` line and returns `false`.
pub fn available(group: &str, found: Result<(), String>, how: &str) -> bool {
    match verdict(group, found, how, in_ci()) {
        Verdict::Run => true,
        Verdict::Fail(message) => panic!("{message}"),
        Verdict::Skip(line) => {
            let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
            false
        }
    }
}

/// Node.js 20 or newer and npm, on `PATH`.
pub fn node() -> Result<(), String> {
    let version = |program: &str| {
        Command::new(program)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let node = version("node").ok_or("Node.js is not on PATH")?;
    let major = node
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_none_or(|m| m < 20) {
        return Err(format!("Node.js {node} is older than 20"));
    }
    version("npm").ok_or("npm is not on PATH")?;
    Ok(())
}

/// How to get a curl that speaks HTTP/2.
pub const CURL_HOW: &str = "on Debian or Ubuntu: `apt-get install -y curl` (built with nghttp2)";

/// curl on `PATH`, built with HTTP/2.
pub fn curl_http2() -> Result<(), String> {
    let out = Command::new("curl")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|_| "curl is not on PATH".to_owned())?;
    let version = String::from_utf8_lossy(&out.stdout);
    let features = version
        .lines()
        .find(|line| line.starts_with("Features:"))
        .unwrap_or_default();
    if features.split_whitespace().any(|f| f == "HTTP2") {
        Ok(())
    } else {
        Err("curl is built without HTTP/2".to_owned())
    }
}

/// How to get Prometheus and promtool.
pub const PROMETHEUS_HOW: &str = "on Debian or Ubuntu: `apt-get install -y \
                                  --no-install-recommends prometheus` (scripts/test does this \
                                  when run as root)";

/// Prometheus and its `promtool` on `PATH`.
pub fn prometheus() -> Result<(), String> {
    programs(&["prometheus", "promtool"])
}

/// Each of `names` on `PATH`, answering `--version`; the first missing one says so.
pub fn programs(names: &[&str]) -> Result<(), String> {
    for program in names {
        let found = Command::new(program)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !found {
            return Err(format!("{program} is not on PATH"));
        }
    }
    Ok(())
}

/// Chromium at [`CHROMIUM`].
pub fn chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).is_file() {
        Ok(())
    } else {
        Err(format!("Chromium is missing at {CHROMIUM}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_found_tool_runs_its_group_anywhere() {
        for ci in [false, true] {
            assert_eq!(verdict("g", Ok(()), "how", ci), Verdict::Run);
        }
        assert!(available("a group", Ok(()), "nothing to do"));
    }

    #[test]
    fn a_missing_tool_skips_locally_and_fails_in_ci() {
        let missing = || Err("no frob".to_owned());
        assert_eq!(
            verdict("frob tests", missing(), "get frob", false),
            Verdict::Skip("SKIPPED: frob tests: no frob; get frob".to_owned())
        );
        assert!(matches!(
            verdict("frob tests", missing(), "get frob", true),
            Verdict::Fail(message) if message.contains("no frob") && message.contains("get frob")
        ));
    }
}
