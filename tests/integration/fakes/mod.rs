//! Test doubles for the outside services this machine cannot reach, speaking HTTP on loopback
//! as PROTOCOLS.md §5 describes.

pub mod bot;
pub mod entra;
pub mod entra_assertion;
pub mod graph;
pub mod jira;
pub mod proxy;

/// The deterministic 30 % of calls a double fails when told to fail a steady share: call `n`
/// (counted from 1) when `n % 10` is 3, 6 or 9. Never two calls in a row, so one caller's
/// immediate retry is not always refused too.
pub fn in_failing_share(n: u64) -> bool {
    matches!(n % 10, 3 | 6 | 9)
}
