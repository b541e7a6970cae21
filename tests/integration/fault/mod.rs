//! The fault-injection suite (issue 7): one file per fault, each a test that fails when an
//! accepted item is lost, duplicated beyond its bound, or the failure is hidden. Each test prints
//! one `FAULT-SUMMARY|fault|accepted|delivered|lost|duplicates|bound` line that
//! `tests/fault/run.sh` turns into a table. What the faults share is in `support::fault`.

mod postgres_restart;
mod sigkill;
mod state_dir;
mod throttling;
mod unreachable;
