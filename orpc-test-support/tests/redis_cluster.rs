//! The private Redis Cluster of `orpc_test_support::redis_cluster`, checked against what Redis
//! itself reports through `redis-cli`. Each test starts a cluster of its own; they run in
//! parallel.

use std::process::{Command, Stdio};
use std::time::Instant;

use orpc_test_support::redis_cluster::{self, Cluster};

/// Runs `redis-cli` with `args` and returns its standard output, trimmed. Fails the test when
/// redis-cli cannot run or exits unsuccessfully. An error reply is printed to standard output
/// (without a tty, redis-cli still exits with 0), so callers check what they read.
fn cli(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    assert!(
        out.status.success(),
        "redis-cli {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn port_of(url: &str) -> &str {
    url.rsplit(':').next().unwrap()
}

#[tokio::test]
async fn slot_agrees_with_cluster_keyslot() {
    let Some(cluster) = Cluster::start("slot_agrees_with_cluster_keyslot").await else {
        return;
    };
    let node = &cluster.urls()[0];
    let keys = [
        "",
        "a",
        "foo",
        "somekey",
        "123456789",
        "{}",
        "{}x",
        "{a}b",
        "{a}c",
        "a{}{b}",
        "{{a}}",
        "x{ab",
        "ab}{c}",
        "{user1000}.following",
        "orpc:{chat}:stream",
        "ключ",
        "}{",
    ];
    for key in keys {
        let expected: u16 = cli(&["-u", node, "CLUSTER", "KEYSLOT", key])
            .parse()
            .unwrap_or_else(|_| panic!("CLUSTER KEYSLOT {key:?} is not a number"));
        assert_eq!(
            redis_cluster::slot(key.as_bytes()),
            expected,
            "slot of {key:?}"
        );
    }
    // The tag decides, not the rest of the key.
    assert_eq!(redis_cluster::slot(b"{a}b"), redis_cluster::slot(b"a"));
    assert_ne!(redis_cluster::slot(b"a{}{b}"), redis_cluster::slot(b"b"));
}

#[tokio::test]
async fn a_cluster_has_three_masters_with_a_replica_each() {
    let Some(cluster) = Cluster::start("a_cluster_has_three_masters_with_a_replica_each").await
    else {
        return;
    };
    let urls = cluster.urls();
    assert_eq!(urls.len(), 6);
    assert_eq!(cluster.live_urls(), urls);
    for url in &urls {
        let info = cli(&["-u", url, "CLUSTER", "INFO"]);
        assert!(info.contains("cluster_state:ok"), "{url}: {info}");
    }

    let masters = cluster.master_urls().await;
    assert_eq!(masters.len(), 3, "{masters:?}");
    for master in &masters {
        assert!(urls.contains(master), "{master} is not one of {urls:?}");
        let role = cli(&["-u", master, "ROLE"]);
        assert!(role.starts_with("master"), "{master}: {role}");
    }

    // Every other node replicates one of the masters, a different one each.
    let mut replicated: Vec<String> = urls
        .iter()
        .filter(|url| !masters.contains(url))
        .map(|url| {
            let info = cli(&["-u", url, "INFO", "replication"]);
            assert!(info.contains("role:slave"), "{url}: {info}");
            assert!(info.contains("master_link_status:up"), "{url}: {info}");
            let port = info
                .lines()
                .find_map(|line| line.trim().strip_prefix("master_port:"))
                .unwrap_or_else(|| panic!("{url}: no master_port in {info}"));
            format!("redis://127.0.0.1:{port}")
        })
        .collect();
    replicated.sort();
    let mut expected = masters.clone();
    expected.sort();
    assert_eq!(replicated, expected);

    // And redis-cli's own check agrees.
    let check = cli(&[
        "--cluster",
        "check",
        &format!("127.0.0.1:{}", port_of(&urls[0])),
    ]);
    assert_eq!(
        check.matches("1 additional replica(s)").count(),
        3,
        "{check}"
    );
    assert!(check.contains("[OK] All 16384 slots covered."), "{check}");
    assert!(
        check.contains("[OK] All nodes agree about slots configuration."),
        "{check}"
    );
}

#[tokio::test]
async fn a_key_set_through_any_node_reads_back_from_its_master() {
    let Some(cluster) =
        Cluster::start("a_key_set_through_any_node_reads_back_from_its_master").await
    else {
        return;
    };
    let (a, b) = cluster.keys_on_different_masters("orpc:").await;
    let (key_a, key_b) = (format!("orpc:{a}"), format!("orpc:{b}"));
    let master_a = cluster.master_of(key_a.as_bytes()).await;
    let master_b = cluster.master_of(key_b.as_bytes()).await;
    assert_ne!(master_a, master_b, "{key_a} and {key_b}");

    for (key, master) in [(&key_a, &master_a), (&key_b, &master_b)] {
        let slot = redis_cluster::slot(key.as_bytes());
        let other = cluster.urls().into_iter().find(|u| u != master).unwrap();
        // A node that does not serve the slot redirects to the master master_of named.
        let redirect = cli(&["-u", &other, "GET", key]);
        let expected = format!("MOVED {slot} 127.0.0.1:{}", port_of(master));
        assert!(
            redirect.contains(&expected),
            "{redirect:?} from {other}, expected {expected}"
        );
        // Set through that node, following the redirection; read from the master directly.
        assert_eq!(cli(&["-c", "-u", &other, "SET", key, "value"]), "OK");
        assert_eq!(cli(&["-u", master, "GET", key]), "value");
    }
}

#[tokio::test]
async fn killing_a_master_promotes_its_replica() {
    let Some(mut cluster) = Cluster::start("killing_a_master_promotes_its_replica").await else {
        return;
    };
    let key = "orpc:{failover}";
    let old = cluster.master_of(key.as_bytes()).await;
    // The replica of that master, and a value it is known to hold.
    let replica = cluster
        .urls()
        .into_iter()
        .find(|url| {
            cli(&["-u", url, "INFO", "replication"])
                .lines()
                .any(|line| line.trim() == format!("master_port:{}", port_of(&old)))
        })
        .expect("the master has a replica");
    assert_eq!(cli(&["-u", &old, "SET", key, "before"]), "OK");
    assert_eq!(cli(&["-u", &old, "WAIT", "1", "2000"]), "1");

    let killed = cluster.kill_master_of(key.as_bytes()).await;
    assert_eq!(killed, old);
    assert!(!cluster.live_urls().contains(&old));
    let started = Instant::now();
    let new = cluster.await_failover(key.as_bytes(), &old).await;
    eprintln!("failover took {} ms", started.elapsed().as_millis());

    assert_eq!(new, replica, "the killed master's replica takes over");
    assert_eq!(cluster.master_of(key.as_bytes()).await, new);
    let role = cli(&["-u", &new, "ROLE"]);
    assert!(role.starts_with("master"), "{new}: {role}");
    assert_eq!(cli(&["-u", &new, "GET", key]), "before");
    // The slot takes writes again, through any live node.
    let other = cluster.live_urls().into_iter().find(|u| *u != new).unwrap();
    assert_eq!(cli(&["-c", "-u", &other, "SET", key, "after"]), "OK");
    assert_eq!(cli(&["-u", &new, "GET", key]), "after");
    assert_eq!(cluster.master_urls().await.len(), 3);
}
