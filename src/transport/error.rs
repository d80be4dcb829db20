//! Why a [`MessageReader`](super::MessageReader) returned no message.

use std::io;

use crate::py::thousands;

/// Why [`MessageReader::recv`](super::MessageReader::recv) returned no message.
#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    /// A message exceeded MAX_RECV. For lines, the stream stays usable (see the room's
    /// documentation); for websockets, the connection is finished.
    #[error("dropping message over {} bytes", thousands(*limit as u64))]
    TooLarge {
        /// The limit (MAX_RECV).
        limit: usize,
    },
    /// The connection failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(
            RecvError::TooLarge { limit: 1_000_000 }.to_string(),
            "dropping message over 1,000,000 bytes"
        );
    }
}
