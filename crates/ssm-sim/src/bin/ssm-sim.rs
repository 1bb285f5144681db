//! The `ssm-sim` command (being written).

fn main() {}
