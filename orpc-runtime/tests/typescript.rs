//! The TypeScript contract of a router whose types use every serde representation: a snapshot
//! of the whole module, in `tests/snapshots/contract.ts`. Whether TypeScript accepts the module
//! and types a client with it is checked with `tsc` in the interop tests.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test -p orpc-runtime --test typescript` writes the snapshot anew;
//! read the diff before committing it.

use std::collections::BTreeMap;

use orpc_runtime::http::Router;
use orpc_runtime::{procedure, yield_, DefinedError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A user, with the field shapes serde allows.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Profile {
    /// The user's id.
    user_id: u64,
    display_name: String,
    /// Absent or null.
    nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    scores: BTreeMap<String, f64>,
    #[serde(rename = "type")]
    kind: Kind,
    pair: (u8, String),
    #[serde(flatten)]
    address: Address,
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Address {
    city: String,
}

/// Unit variants only: a string union.
#[derive(Serialize, Deserialize, JsonSchema)]
enum Kind {
    Admin,
    Member,
}

/// Externally tagged, the default.
#[derive(Serialize, Deserialize, JsonSchema)]
enum External {
    Unit,
    New(u32),
    Tuple(u8, u8),
    Struct { x: i32 },
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
enum Internal {
    Circle { r: f64 },
    Square { side: f64 },
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    Num(i32),
    Text(String),
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum Untagged {
    Number(i32),
    Text(String),
}

/// A recursive type.
#[derive(Serialize, Deserialize, JsonSchema)]
struct Tree {
    value: i32,
    children: Vec<Tree>,
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Shapes {
    external: External,
    internal: Internal,
    adjacent: Adjacent,
    untagged: Untagged,
    tree: Tree,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Conflict {
    existing: u64,
}

/// What saving a profile can fail with (never raised here: only its declaration is read).
#[allow(dead_code)]
#[derive(Debug, DefinedError)]
enum SaveError {
    #[error(status = 409, message = "taken")]
    NameTaken(Conflict),
    Forbidden,
    #[error(code = "x-custom")]
    Custom,
}

/// Saves a profile.
#[procedure(errors = SaveError)]
async fn save(input: Profile) -> Result<bool, SaveError> {
    Ok(!input.display_name.is_empty())
}

#[procedure(output = event_iterator(Shapes), name = "shapes/all", method = GET, path = "/shapes")]
async fn all_shapes() {}

#[procedure(output = event_iterator(String, Option<u32>), name = "shapes/count")]
async fn count_shapes(input: Vec<u32>) -> Option<u32> {
    for n in &input {
        yield_!(n.to_string());
    }
    input.first().copied()
}

#[derive(Deserialize, JsonSchema)]
struct Room {
    room: String,
}

#[procedure(output = event_iterator(u32), method = GET, path = "/rooms/{room:[a-z]+}/ticks")]
async fn ticks(input: Room) {
    yield_!(input.room.len() as u32);
}

#[test]
fn every_serde_representation_has_its_typescript_type() {
    let module = Router::new()
        .procedure(save)
        .procedure(all_shapes)
        .procedure(count_shapes)
        .procedure(ticks)
        .typescript();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/contract.ts");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(path, &module).unwrap();
    }
    let snapshot = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        module == snapshot,
        "the contract differs from {path} (UPDATE_SNAPSHOTS=1 writes it):\n{module}"
    );
    let words = module.split(|c: char| !c.is_ascii_alphanumeric() && c != '_');
    assert!(
        !words.into_iter().any(|word| word == "any"),
        "nothing is `any`:\n{module}"
    );
}

/// The oRPC 2 flavour: the same types, written with oRPC 2's builder. The routes, statuses and
/// `eventIterator` of 1.x are gone; every type alias is the same as in the 1.x module.
#[test]
fn the_orpc_2_contract_has_the_same_types_in_orpc_2_words() {
    let router = Router::new()
        .procedure(save)
        .procedure(all_shapes)
        .procedure(count_shapes)
        .procedure(ticks);
    let (v1, v2) = (router.typescript(), router.typescript_v2());
    assert!(v2.contains("import { asyncIteratorObject, oc, type } from '@orpc/contract'"));
    for gone in ["oc.route", "status:", "eventIterator"] {
        assert!(!v2.contains(gone), "{gone} in:\n{v2}");
    }
    assert!(
        v2.contains("ticks: oc.input(type<Room>()).output(asyncIteratorObject(type<number>(), type<void>()))"),
        "{v2}"
    );
    let aliases = |module: &str| -> String {
        let start = module.find("\nexport type").unwrap();
        let end = module.find("\nexport const contract").unwrap();
        module[start..end].to_owned()
    };
    assert_eq!(aliases(&v1), aliases(&v2));
}
