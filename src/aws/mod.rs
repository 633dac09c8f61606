//! The thin AWS layer: signing, credentials, region/endpoint, and one client
//! that every call goes through.

pub mod client;
pub mod credentials;
pub mod region;
mod sign;
