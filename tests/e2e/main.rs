//! The end-to-end tests, one test binary with a module per subject (as
//! ripgrep has them): the real binary against the fake ECS, the GitHub
//! Action's script run as the runner runs it, and the README against the
//! tree.

mod common;

mod action;
mod beyond;
mod codedeploy;
mod compat;
mod credentials;
mod deploy;
mod diagnosis;
mod elsewhere;
mod express;
mod hostile;
mod readme;
mod scale;
mod strategies;
