//! Shared test harnesses.
pub mod netns;
pub mod tor;
