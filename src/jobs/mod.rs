//! Background work: the outbox runner and its lease reaper.

pub mod outbox;
