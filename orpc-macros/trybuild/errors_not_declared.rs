// `errors = ..` names a type that does not declare errors.
use orpc_runtime::{procedure, ORPCError};

struct MyErrors;

#[procedure(errors = MyErrors)]
async fn limited() -> Result<u32, ORPCError> {
    Ok(1)
}

fn main() {}
