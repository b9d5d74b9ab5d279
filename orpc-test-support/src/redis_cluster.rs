//! A private Redis Cluster on loopback, for integration tests of a Redis Cluster backend.
//!
//! [`Cluster::start`] starts six `redis-server` processes on free ports of 127.0.0.1, each in a
//! directory of its own under the system's temporary directory, joins them with
//! `redis-cli --cluster create` into three masters with one replica each, and returns once every
//! node reports `cluster_state:ok` and every replica's replication link is up. Dropping the
//! [`Cluster`] kills every process with SIGKILL, reaps it, and removes the directories.
//!
//! The nodes run with `cluster-node-timeout 1000` (milliseconds) and
//! `cluster-replica-validity-factor 0`, so that a replica takes over within a few seconds of its
//! master being killed ([`Cluster::kill_master_of`], then [`Cluster::await_failover`]), however
//! long ago it last heard from that master. Nothing is persisted: no RDB snapshots, no AOF.
//!
//! The harness talks to the nodes over plain RESP connections of its own (one per command) and
//! needs no Redis client crate. Every wait is bounded; when one runs out, the test fails with what
//! was last seen and the tail of every node's log.
//!
//! Without `redis-server` or `redis-cli` on `PATH`, [`Cluster::start`] follows the workspace's
//! policy for missing tools ([`crate::tools`]): one `SKIPPED:` line and `None` locally, a failed
//! test under `CI=true`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::tools;

/// How to get `redis-server` and `redis-cli`.
pub const REDIS_HOW: &str = "on Debian or Ubuntu: `apt-get install -y redis-server` (Debian's \
                             redis-server package, which brings redis-cli with it)";

/// The number of hash slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// Masters, and replicas per master, of the cluster [`Cluster::start`] makes.
const MASTERS: usize = 3;
const NODES: usize = MASTERS * 2;

/// How long a node may take to answer its first `PING`.
const NODE_START: Duration = Duration::from_secs(10);
/// How long `redis-cli --cluster create` may take.
const CREATE: Duration = Duration::from_secs(30);
/// How long the created cluster may take to report itself ready.
const READY: Duration = Duration::from_secs(30);
/// How long [`Cluster::await_failover`] waits.
const FAILOVER: Duration = Duration::from_secs(20);
/// How long one command to one node may take, connection included.
const COMMAND: Duration = Duration::from_secs(2);
/// The pause between two looks at the cluster while waiting.
const POLL: Duration = Duration::from_millis(50);
/// Attempts at starting one node, each on fresh ports, in case another process took a port
/// between the harness finding it free and the node binding it.
const NODE_ATTEMPTS: usize = 3;

/// Whether `redis-server` and `redis-cli` are on `PATH`.
pub fn redis_tools() -> Result<(), String> {
    crate::tools::programs(&["redis-server", "redis-cli"])
}

/// The hash slot of `key`, as Redis Cluster computes it: CRC16 (the XMODEM variant) of the key,
/// modulo 16384.
///
/// When the key holds a hash tag, only the tag is hashed. The tag is what lies between the key's
/// first `{` and the first `}` after it, provided that is not empty: `{user1}.a` and `{user1}.b`
/// hash `user1`; `{}x` and `a{}{b}` have no tag (the first `{` is followed directly by `}`) and
/// hash the whole key; `{{a}}` hashes `{a`; a `{` without a later `}` means no tag.
pub fn slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16_xmodem(hashed) % SLOTS
}

/// CRC16 with polynomial 0x1021, initial value 0, no reflection, no final XOR.
fn crc16_xmodem(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &byte| {
        (0..8).fold(crc ^ (u16::from(byte) << 8), |crc, _| {
            if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            }
        })
    })
}

/// One `redis-server` of the cluster.
struct Node {
    port: u16,
    dir: PathBuf,
    /// `None` once killed.
    child: Option<Child>,
}

impl Node {
    fn url(&self) -> String {
        url(self.port)
    }

    fn log(&self) -> PathBuf {
        self.dir.join("redis.log")
    }
}

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// A private Redis Cluster of three masters and three replicas on 127.0.0.1, killed and removed
/// when dropped. See the [module docs](self).
pub struct Cluster {
    /// Holds every node's directory and the output of `redis-cli --cluster create`.
    root: PathBuf,
    nodes: Vec<Node>,
}

impl Cluster {
    /// Starts the cluster and waits until it is ready: every node reports `cluster_state:ok`,
    /// knows all six nodes, and sees three masters serving all 16384 slots, each with one
    /// connected replica whose replication link is up.
    ///
    /// Returns `None`, after the workspace's one `SKIPPED:` line naming `test`, when
    /// `redis-server` or `redis-cli` is missing; under `CI=true` that fails the test instead.
    /// Fails the test when the cluster does not come up within its bounds (10 s for each node to
    /// answer, 30 s for `redis-cli --cluster create`, 30 s to be ready).
    pub async fn start(test: &str) -> Option<Cluster> {
        let group = format!("Redis Cluster test {test}");
        if !tools::available(&group, redis_tools(), REDIS_HOW) {
            return None;
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let root = std::env::temp_dir().join(format!(
            "orpc-redis-cluster-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("a temporary directory for the Redis Cluster");
        // From here on, a failure drops `cluster`, which kills whatever has been started.
        let mut cluster = Cluster {
            root,
            nodes: Vec::new(),
        };
        let started = Instant::now();
        cluster.start_nodes().await;
        let nodes_up = started.elapsed();
        cluster.create().await;
        let created = started.elapsed();
        cluster
            .wait("the Redis Cluster to be ready", READY, || cluster.ready())
            .await;
        eprintln!(
            "Redis Cluster for {test} ready on ports {:?} after {} ms (nodes up: {} ms, \
             created: {} ms)",
            cluster.nodes.iter().map(|n| n.port).collect::<Vec<_>>(),
            started.elapsed().as_millis(),
            nodes_up.as_millis(),
            created.as_millis(),
        );
        Some(cluster)
    }

    /// `redis://127.0.0.1:PORT` of every node started, in start order, including any killed
    /// since.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// `redis://127.0.0.1:PORT` of every node still running.
    pub fn live_urls(&self) -> Vec<String> {
        self.live_ports().into_iter().map(url).collect()
    }

    /// The urls of the masters that serve slots, as the first live node that answers sees them,
    /// in the order of their first slot.
    pub async fn master_urls(&self) -> Vec<String> {
        let view = self.view().await;
        let mut masters: Vec<(u16, u16)> = view
            .iter()
            .filter(|n| n.is_master() && !n.slots.is_empty())
            .map(|n| {
                (
                    n.slots.iter().map(|&(start, _)| start).min().unwrap_or(0),
                    n.port,
                )
            })
            .collect();
        masters.sort_unstable();
        masters.into_iter().map(|(_, port)| url(port)).collect()
    }

    /// The url of the master that serves `key`'s slot, as the first live node that answers sees
    /// it. Right after [`kill_master_of`](Self::kill_master_of) this may still be the killed
    /// master, until its replica has taken over.
    pub async fn master_of(&self, key: &[u8]) -> String {
        let slot = slot(key);
        let view = self.view().await;
        match owner(&view, slot) {
            Some(node) => url(node.port),
            None => panic!(
                "no master serves slot {slot} (key {key:?})\n{}",
                self.logs()
            ),
        }
    }

    /// Two names, `channel-N` and `channel-M`, such that the keys `prefix + name` of the two
    /// live on different masters, as the first live node that answers sees the cluster.
    pub async fn keys_on_different_masters(&self, prefix: &str) -> (String, String) {
        let view = self.view().await;
        let master =
            |name: &str| owner(&view, slot(format!("{prefix}{name}").as_bytes())).map(|n| n.port);
        let first = "channel-0".to_owned();
        let first_master = master(&first);
        for n in 1..1000 {
            let name = format!("channel-{n}");
            if first_master.is_some() && master(&name).is_some_and(|m| Some(m) != first_master) {
                return (first, name);
            }
        }
        panic!(
            "no two names under {prefix:?} map to different masters\n{}",
            self.logs()
        )
    }

    /// Kills the master that serves `key`'s slot with SIGKILL and reaps it; returns its url.
    /// Does not wait for the failover: see [`await_failover`](Self::await_failover).
    pub async fn kill_master_of(&mut self, key: &[u8]) -> String {
        let master = self.master_of(key).await;
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.url() == master)
            .unwrap_or_else(|| panic!("{master} serves {key:?} but is not a node of this cluster"));
        let mut child = node
            .child
            .take()
            .unwrap_or_else(|| panic!("{master} serves {key:?} but was already killed"));
        let _ = child.kill();
        let _ = child.wait();
        master
    }

    /// Waits, for up to 20 s, until every live node reports that a master other than
    /// `old_master` serves `key`'s slot (all of them the same one, not flagged as failing) and
    /// `cluster_state:ok`. Returns the url of the new master. Fails the test when that does not
    /// happen in time.
    pub async fn await_failover(&self, key: &[u8], old_master: &str) -> String {
        let slot = slot(key);
        let started = Instant::now();
        let what = format!("a new master for slot {slot} in place of {old_master}");
        let port = self
            .wait(&what, FAILOVER, || self.failed_over(slot, old_master))
            .await;
        eprintln!(
            "slot {slot}: {} took over from {old_master} after {} ms",
            url(port),
            started.elapsed().as_millis()
        );
        url(port)
    }

    /// Starts a killed node again on its port, with its own `nodes.conf`, and waits (up to 30 s)
    /// until the cluster is whole again: the node rejoins as a replica of the master that took
    /// its place, with its replication link up, so that each master has a replica once more.
    pub async fn restart(&mut self, node_url: &str) {
        let index = self
            .nodes
            .iter()
            .position(|n| n.url() == node_url)
            .unwrap_or_else(|| panic!("{node_url} is not a node of this cluster"));
        assert!(
            self.nodes[index].child.is_none(),
            "{node_url} is running; only a killed node can be restarted"
        );
        let port = self.nodes[index].port;
        self.nodes[index] = self.spawn_node(port);
        let what = format!("{node_url} back as a replica, the cluster whole again");
        self.wait(&what, READY, || self.ready()).await;
    }

    // --- Starting ---

    /// Starts the six nodes and waits for each to answer `PING`. A node that exits first is
    /// started again on fresh ports, up to [`NODE_ATTEMPTS`] times in all.
    async fn start_nodes(&mut self) {
        for port in free_ports(NODES) {
            let node = self.spawn_node(port);
            self.nodes.push(node);
        }
        for index in 0..NODES {
            let mut attempt = 1;
            loop {
                let deadline = Instant::now() + NODE_START;
                let answered = loop {
                    let node = &mut self.nodes[index];
                    if let Ok(Some(status)) = node.child.as_mut().map_or(Ok(None), Child::try_wait)
                    {
                        break Err(format!(
                            "redis-server on port {} exited: {status}",
                            node.port
                        ));
                    }
                    if ask(node.port, &["PING"]).await.is_ok_and(|r| r == "PONG") {
                        break Ok(());
                    }
                    if Instant::now() >= deadline {
                        break Err(format!(
                            "redis-server on port {} did not answer PING within {} s",
                            node.port,
                            NODE_START.as_secs()
                        ));
                    }
                    tokio::time::sleep(POLL).await;
                };
                match answered {
                    Ok(()) => break,
                    Err(why) if attempt < NODE_ATTEMPTS => {
                        eprintln!("{why}; starting it again on other ports\n{}", self.logs());
                        attempt += 1;
                        let port = free_ports(1)[0];
                        let new = self.spawn_node(port);
                        let old = std::mem::replace(&mut self.nodes[index], new);
                        if let Some(child) = old.child {
                            kill(child);
                        }
                    }
                    Err(why) => panic!("{why}\n{}", self.logs()),
                }
            }
        }
    }

    fn spawn_node(&self, port: u16) -> Node {
        let dir = self.root.join(format!("node-{port}"));
        std::fs::create_dir_all(&dir).expect("a directory for a Redis node");
        let output = std::fs::File::create(dir.join("stdout.log")).expect("a Redis node's stdout");
        let errors = output.try_clone().expect("a Redis node's stderr");
        let dir_arg = dir
            .to_str()
            .expect("the temporary directory's path is UTF-8");
        let log = dir.join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", "1000"])
            .args(["--cluster-replica-validity-factor", "0"])
            .args(["--appendonly", "no", "--save", ""])
            // A master otherwise waits 5 s for more replicas before it starts a full sync.
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--daemonize", "no", "--dir", dir_arg])
            .args(["--logfile", log.to_str().expect("UTF-8 path")])
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .expect("start redis-server");
        Node {
            port,
            dir,
            child: Some(child),
        }
    }

    /// Runs `redis-cli --cluster create` over the six nodes, for up to [`CREATE`].
    async fn create(&self) {
        let out_path = self.root.join("create.log");
        let out = std::fs::File::create(&out_path).expect("a file for redis-cli's output");
        let errors = out.try_clone().expect("a file for redis-cli's errors");
        let mut child = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(errors)
            .spawn()
            .expect("start redis-cli");
        let deadline = Instant::now() + CREATE;
        let status = loop {
            if let Some(status) = child.try_wait().expect("redis-cli's status") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                kill(child);
                break None;
            }
            tokio::time::sleep(POLL).await;
        };
        if status.is_some_and(|s| s.success()) {
            return;
        }
        let output = std::fs::read_to_string(&out_path).unwrap_or_default();
        let outcome = match status {
            Some(status) => format!("failed ({status})"),
            None => format!("did not finish within {} s", CREATE.as_secs()),
        };
        panic!(
            "redis-cli --cluster create {outcome}; its output:\n{}\n{}",
            tail(&output, 30),
            self.logs()
        );
    }

    /// `Ok` once the cluster is ready (see [`start`](Self::start)); otherwise why not.
    async fn ready(&self) -> Result<(), String> {
        for node in &self.nodes {
            let info = ask(node.port, &["CLUSTER", "INFO"]).await?;
            for expected in [
                "cluster_state:ok".to_owned(),
                format!("cluster_slots_assigned:{SLOTS}"),
                format!("cluster_slots_ok:{SLOTS}"),
                format!("cluster_known_nodes:{NODES}"),
                format!("cluster_size:{MASTERS}"),
            ] {
                if !info.lines().any(|line| line.trim() == expected) {
                    return Err(format!("{} does not report {expected}", node.url()));
                }
            }
            let view = parse_nodes(&ask(node.port, &["CLUSTER", "NODES"]).await?);
            shape(&view).map_err(|why| format!("as {} sees it, {why}", node.url()))?;
        }
        // Each replica's replication link, which CLUSTER NODES does not show.
        let view = parse_nodes(&ask(self.nodes[0].port, &["CLUSTER", "NODES"]).await?);
        for replica in view.iter().filter(|n| n.flags.iter().any(|f| f == "slave")) {
            let info = ask(replica.port, &["INFO", "replication"]).await?;
            if !info
                .lines()
                .any(|line| line.trim() == "master_link_status:up")
            {
                return Err(format!(
                    "the replication link of {} is not up",
                    url(replica.port)
                ));
            }
        }
        Ok(())
    }

    // --- Looking at the cluster ---

    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
            .collect()
    }

    /// `CLUSTER NODES` as the first live node that answers sees it.
    async fn view(&self) -> Vec<NodeLine> {
        let mut errors = String::new();
        for port in self.live_ports() {
            match ask(port, &["CLUSTER", "NODES"]).await {
                Ok(text) => return parse_nodes(&text),
                Err(why) => {
                    let _ = writeln!(errors, "{}: {why}", url(port));
                }
            }
        }
        panic!(
            "no live node answers CLUSTER NODES:\n{errors}\n{}",
            self.logs()
        )
    }

    /// The new master's port once every live node agrees on one other than `old_master` for
    /// `slot` and reports `cluster_state:ok`; otherwise why not.
    async fn failed_over(&self, slot: u16, old_master: &str) -> Result<u16, String> {
        let mut agreed = None;
        for port in self.live_ports() {
            let info = ask(port, &["CLUSTER", "INFO"]).await?;
            if !info.lines().any(|line| line.trim() == "cluster_state:ok") {
                return Err(format!("{} does not report cluster_state:ok", url(port)));
            }
            let view = parse_nodes(&ask(port, &["CLUSTER", "NODES"]).await?);
            let master = owner(&view, slot)
                .ok_or_else(|| format!("{} sees no master for slot {slot}", url(port)))?;
            if url(master.port) == old_master {
                return Err(format!(
                    "{} still sees {old_master} serving slot {slot}",
                    url(port)
                ));
            }
            if master.failing() {
                return Err(format!(
                    "{} sees the master of slot {slot}, {}, as failing",
                    url(port),
                    url(master.port)
                ));
            }
            match agreed {
                None => agreed = Some(master.port),
                Some(other) if other != master.port => {
                    return Err(format!(
                        "nodes disagree on the master of slot {slot}: {} and {}",
                        url(other),
                        url(master.port)
                    ))
                }
                Some(_) => {}
            }
        }
        agreed.ok_or_else(|| "no node is alive".to_owned())
    }

    /// Runs `probe` until it returns `Ok` or `within` has passed; in the latter case fails the
    /// test with `what`, the probe's last answer, and the tail of every node's log.
    async fn wait<T, F, Fut>(&self, what: &str, within: Duration, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let deadline = Instant::now() + within;
        let mut last = "nothing seen yet".to_owned();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, probe()).await {
                Ok(Ok(value)) => return value,
                Ok(Err(why)) => last = why,
                Err(_) => {
                    last = format!("the last look was cut off at the deadline; before: {last}")
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {} s for {what}, in vain. Last seen: {last}\n{}",
                    within.as_secs(),
                    self.logs()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The last lines of every node's log, for failure messages.
    fn logs(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let state = if node.child.is_some() { "" } else { ", killed" };
            let log = std::fs::read_to_string(node.log()).unwrap_or_default();
            let stdout = std::fs::read_to_string(node.dir.join("stdout.log")).unwrap_or_default();
            let _ = writeln!(out, "--- {}{state}: {}", node.url(), node.log().display());
            let _ = writeln!(out, "{}", tail(&log, 15));
            if !stdout.trim().is_empty() {
                let _ = writeln!(out, "(stdout and stderr) {}", tail(&stdout, 5));
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(child) = node.child.take() {
                kill(child);
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// SIGKILL, then reap.
fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `count` ports of 127.0.0.1 that are free, each with its cluster bus port (port + 10000) free
/// too, none handed out before by this process. They are held while being picked, so they are
/// distinct, then released for the nodes to bind.
fn free_ports(count: usize) -> Vec<u16> {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..1000 {
        if ports.len() == count {
            break;
        }
        let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = listener.local_addr().map(|a| a.port()) else {
            continue;
        };
        let bus = u32::from(port) + 10000;
        let Ok(bus) = u16::try_from(bus) else {
            continue;
        };
        if [port, bus].iter().any(|p| handed_out.contains(p)) {
            continue;
        }
        let Ok(bus_listener) = TcpListener::bind(("127.0.0.1", bus)) else {
            continue;
        };
        handed_out.extend([port, bus]);
        held.extend([listener, bus_listener]);
        ports.push(port);
    }
    assert_eq!(
        ports.len(),
        count,
        "could not find {count} free port pairs on 127.0.0.1"
    );
    ports
}

// --- CLUSTER NODES ---

/// One line of `CLUSTER NODES`:
/// `<id> <ip:port@cport[,hostname]> <flags> <master id or -> <ping-sent> <pong-recv>
/// <config-epoch> <link-state> <slot ranges>...`.
#[derive(Debug)]
struct NodeLine {
    port: u16,
    flags: Vec<String>,
    link_connected: bool,
    master_id: Option<String>,
    id: String,
    /// Inclusive ranges; migrating and importing entries (`[...]`) are left out.
    slots: Vec<(u16, u16)>,
}

impl NodeLine {
    fn is_master(&self) -> bool {
        self.flags.iter().any(|f| f == "master")
    }

    /// Flagged `fail` or `fail?` by the node that reported the line.
    fn failing(&self) -> bool {
        self.flags.iter().any(|f| f == "fail" || f == "fail?")
    }
}

fn parse_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 {
                return None;
            }
            let address = fields[1].split(['@', ',']).next().unwrap_or_default();
            let port = address.rsplit(':').next()?.parse().unwrap_or(0);
            let slots = fields[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| {
                    let (start, end) = s.split_once('-').unwrap_or((s, s));
                    Some((start.parse().ok()?, end.parse().ok()?))
                })
                .collect();
            Some(NodeLine {
                id: fields[0].to_owned(),
                port,
                flags: fields[2].split(',').map(str::to_owned).collect(),
                master_id: Some(fields[3]).filter(|m| *m != "-").map(str::to_owned),
                link_connected: fields[7] == "connected",
                slots,
            })
        })
        .collect()
}

/// The node that the view assigns `slot` to, failing or not.
fn owner(view: &[NodeLine], slot: u16) -> Option<&NodeLine> {
    view.iter().find(|n| {
        n.is_master()
            && n.slots
                .iter()
                .any(|&(start, end)| (start..=end).contains(&slot))
    })
}

/// `Ok` when `view` shows three healthy masters serving all slots, each with one healthy
/// replica; otherwise what is wrong.
fn shape(view: &[NodeLine]) -> Result<(), String> {
    if view.len() != NODES {
        return Err(format!("{} nodes are known, not {NODES}", view.len()));
    }
    for node in view {
        if !node.link_connected {
            return Err(format!("the link to {} is not connected", url(node.port)));
        }
        if let Some(flag) = node
            .flags
            .iter()
            .find(|f| ["fail", "fail?", "handshake", "noaddr"].contains(&f.as_str()))
        {
            return Err(format!("{} is flagged {flag}", url(node.port)));
        }
    }
    let masters: Vec<&NodeLine> = view.iter().filter(|n| n.is_master()).collect();
    if masters.len() != MASTERS {
        return Err(format!("{} masters, not {MASTERS}", masters.len()));
    }
    let served: u32 = masters
        .iter()
        .flat_map(|m| &m.slots)
        .map(|&(start, end)| u32::from(end - start) + 1)
        .sum();
    if served != u32::from(SLOTS) {
        return Err(format!("the masters serve {served} slots, not {SLOTS}"));
    }
    for master in masters {
        let replicas = view
            .iter()
            .filter(|n| n.master_id.as_deref() == Some(master.id.as_str()))
            .count();
        if replicas != 1 {
            return Err(format!(
                "{} has {replicas} replicas, not 1",
                url(master.port)
            ));
        }
    }
    Ok(())
}

// --- RESP ---

/// Sends one command to the node on `port` over a connection of its own and returns the reply
/// as text: a status or bulk string as it is, an integer in decimal. An error reply, a nil, an
/// array, or no reply within [`COMMAND`] is an `Err`.
async fn ask(port: u16, args: &[&str]) -> Result<String, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect to {}: {e}", url(port)))?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            let _ = write!(request, "${}\r\n{arg}\r\n", arg.len());
        }
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("send to {}: {e}", url(port)))?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read from {}: {e}", url(port)))?;
        let line = line.trim_end_matches(['\r', '\n']);
        let (kind, rest) = line.split_at(line.len().min(1));
        match kind {
            "+" | ":" => Ok(rest.to_owned()),
            "-" => Err(format!(
                "{} answered {:?} with {rest}",
                url(port),
                args.join(" ")
            )),
            "$" => {
                let len: usize = rest
                    .parse()
                    .map_err(|_| format!("{} answered {:?} with nil", url(port), args.join(" ")))?;
                let mut body = vec![0; len + 2];
                reader
                    .read_exact(&mut body)
                    .await
                    .map_err(|e| format!("read from {}: {e}", url(port)))?;
                body.truncate(len);
                String::from_utf8(body).map_err(|_| format!("{} answered non-UTF-8", url(port)))
            }
            "" => Err(format!("{} closed the connection", url(port))),
            _ => Err(format!(
                "{} answered with an unexpected reply: {line:?}",
                url(port)
            )),
        }
    };
    tokio::time::timeout(COMMAND, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "{} did not answer {:?} within {} s",
                url(port),
                args.join(" "),
                COMMAND.as_secs()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_the_cluster_specification() {
        // The specification's test vector: CRC16 of "123456789" is 0x31C3.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(slot(b"123456789"), 0x31C3);
        // Examples from the CLUSTER KEYSLOT documentation.
        assert_eq!(slot(b"somekey"), 11058);
        assert_eq!(slot(b"foo{hash_tag}"), 2515);
        assert_eq!(slot(b"bar{hash_tag}"), 2515);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"{}x"), crc16_xmodem(b"{}x") % SLOTS);
        assert_eq!(slot(b"a{}{b}"), crc16_xmodem(b"a{}{b}") % SLOTS);
        assert_eq!(slot(b"{{a}}"), slot(b"{a"));
        assert_eq!(slot(b"x{ab"), crc16_xmodem(b"x{ab") % SLOTS);
        assert_eq!(slot(b""), 0);
    }

    #[test]
    fn cluster_nodes_lines_are_read() {
        let text = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@40004,host slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922 [5461->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001 myself,master,fail? - 0 0 1 connected 0-5460 16383
";
        let view = parse_nodes(text);
        assert_eq!(view.len(), 3);
        assert_eq!(view[0].port, 30004);
        assert_eq!(
            view[0].master_id.as_deref(),
            Some("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca")
        );
        assert!(!view[0].is_master());
        assert_eq!(view[1].slots, [(5461, 10922)]);
        assert_eq!(view[2].slots, [(0, 5460), (16383, 16383)]);
        assert!(view[2].failing() && view[2].is_master());
        assert_eq!(owner(&view, 16383).map(|n| n.port), Some(30001));
        assert_eq!(owner(&view, 6000).map(|n| n.port), Some(30002));
        assert!(owner(&view, 12000).is_none());
    }
}
