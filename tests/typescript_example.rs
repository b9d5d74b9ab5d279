//! `examples/typescript/`: the committed contract is the one the conformance server generates
//! today (so that CI notices a procedure whose types changed without `npm run generate`), `tsc`
//! accepts the client, and the client runs against the server, printing what each call gave.

use std::process::Command;
use std::time::Duration;

use orpc_test_support::node::{npm_ci, run_with_timeout, workspace_root};
use orpc_test_support::process::ServerProcess;
use orpc_test_support::{conformance, tools};

const GROUP: &str = "TypeScript example";

#[test]
fn the_committed_contract_is_current() {
    let path = workspace_root().join("examples/typescript/src/contract.ts");
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == conformance::router().typescript(),
        "{} is out of date: run `npm run generate` in examples/typescript",
        path.display()
    );
}

#[tokio::test]
async fn the_example_type_checks_and_runs_against_the_server() {
    if !tools::available(GROUP, tools::node(), tools::NODE_HOW) {
        return;
    }
    npm_ci();
    let root = workspace_root();
    let dir = root.join("examples/typescript");
    let mut tsc = Command::new("node");
    tsc.arg(root.join("node_modules/typescript/bin/tsc"))
        .args(["-p", "."])
        .current_dir(&dir);
    let checked = run_with_timeout(tsc, "tsc in examples/typescript", Duration::from_secs(120));
    assert!(checked.success(), "{}", checked.describe("tsc"));

    let server = ServerProcess::start();
    let mut client = Command::new("node");
    client
        .arg(root.join("node_modules/tsx/dist/cli.mjs"))
        .arg("src/main.ts")
        .current_dir(&dir)
        .env("ORPC_URL", format!("http://{}/rpc", server.addr));
    let ran = tokio::task::spawn_blocking(move || {
        run_with_timeout(client, "the TypeScript example", Duration::from_secs(60))
    })
    .await
    .unwrap();
    assert!(ran.success(), "{}", ran.describe("the TypeScript example"));
    assert_eq!(
        ran.stdout.lines().collect::<Vec<_>>(),
        [
            "hello TypeScript",
            "tick 0",
            "tick 1",
            "tick 2",
            "done: done!",
            "rate limited: retry after 10 s",
            "streamed: 0, 1, 2, 3",
        ]
    );
}
