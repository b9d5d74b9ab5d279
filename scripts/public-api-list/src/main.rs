//! `public-api-list CRATE.json`: the crate's public API, one item per line, sorted by path.
//!
//! Blanket impls (`impl<T> From<T> for T` and the like) are left out: they come from std and the
//! dependencies, not from the crate, and would change with a dependency's update. Auto trait impls
//! (`Send`, `Sync`, ...) stay: losing one breaks users.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [json] = args.as_slice() else {
        eprintln!("usage: public-api-list CRATE.json");
        return ExitCode::from(2);
    };
    let api = match public_api::Builder::from_rustdoc_json(json)
        .omit_blanket_impls(true)
        .build()
    {
        Ok(api) => api,
        Err(err) => {
            eprintln!("public-api-list: {json}: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Sorted by the library (its default): by path, each type's impls and their items after it.
    print!("{api}");
    ExitCode::SUCCESS
}
