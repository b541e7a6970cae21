//! The fakes themselves, driven with a plain HTTP client: the happy paths and the refusals the
//! daemon's tests will rely on. If these fail, the daemon's tests cannot be trusted.

mod entra;
mod graph;
mod jira;
mod proxy;
