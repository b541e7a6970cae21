//! Background work: the outbox runner and its lease reaper, retention pruning.

pub mod activity;
pub mod deliver;
pub mod doctor;
pub mod event_issue;
pub mod fanout;
pub mod outbox;
pub mod retention;
