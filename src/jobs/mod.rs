//! Background work: the outbox runner and its lease reaper.

pub mod activity;
pub mod comment_card;
pub mod doctor;
pub mod fanout;
pub mod notify;
pub mod outbox;
