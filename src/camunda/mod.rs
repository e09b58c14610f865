//! The Camunda side: the connector's contract. Binding the job's variables as
//! Camunda's runtime does (`input`), checking them before any call
//! (`validation`), reading Camunda document references (`document`), and
//! writing the result in Camunda's JSON shape (`output`), beside which
//! `summary` writes the answers a process wants (beyond Camunda).

pub mod document;
pub mod input;
pub mod output;
pub mod summary;
pub mod validation;
