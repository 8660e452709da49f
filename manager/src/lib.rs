//! hull manager: daemon and CLI (not implemented yet).
