//! [`ErrorSource`]: an underlying error kept inside errors that must stay
//! `Clone + PartialEq + Eq`.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// An underlying error (an `io::Error`, a TLS or SDK error), shared so the
/// error holding it stays `Clone`. Two sources are equal when their texts
/// are: tests compare errors by kind and message, not by identity.
///
/// It reads like the error it holds (same `Display`, same `source()`
/// chain); [`Self::downcast_ref`] reaches the original type.
#[derive(Clone)]
pub struct ErrorSource(Arc<dyn StdError + Send + Sync>);

impl ErrorSource {
    /// Wraps `error`.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self(Arc::from(error.into()))
    }

    /// The error as it was given.
    pub fn get(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.0
    }

    /// The error as `T`, when it is one.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl StdError for ErrorSource {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

impl PartialEq for ErrorSource {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for ErrorSource {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_by_text_and_keeps_the_type() {
        let refused = ErrorSource::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            refused,
            ErrorSource::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
        );
        assert_ne!(refused, ErrorSource::new("connection refused, differently"));
        let io = refused
            .downcast_ref::<std::io::Error>()
            .expect("an io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        assert_eq!(refused.to_string(), io.to_string());
    }
}
