// A declared error is a unit variant or holds one value, its data; and it is an enum.
use orpc_runtime::DefinedError;

#[derive(DefinedError)]
enum TwoValues {
    Pair(u32, u32),
}

#[derive(DefinedError)]
enum BadStatus {
    #[error(status = 200)]
    Fine,
}

#[derive(DefinedError)]
struct NotAnEnum;

fn main() {}
