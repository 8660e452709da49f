//! hull API definitions (not implemented yet).
