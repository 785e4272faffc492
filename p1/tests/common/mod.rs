#![allow(dead_code)] // each test binary uses part of the shared support
pub mod corpus;
pub mod ledger;
pub mod meter;
pub mod python;
pub mod service;
